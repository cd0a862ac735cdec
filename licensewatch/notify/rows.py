"""A notice's rows as the templates and the attachments show them.

The store and the attachments count resources (one licence, one phone); a
focal point thinks in people. :func:`people` groups a department's rows by
person (the account that holds the licences and owns the phone): separated
staff first, then those who never signed in, then the inactive, then phones
no one owns. The email lists at most ``limit`` people and never leaves a
separated person out for the limit; the attachments always carry every row.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from licensewatch import model
from licensewatch.frame_rows import records
from licensewatch.notify.wording import usd
from licensewatch.per_value import per_value
from licensewatch.reports.findings import costs_cents, money_column, unpriced_mask

ATTACHMENT_COLUMNS: Final = (
    "resource_id",
    "resource_kind",
    "subject",
    "display_name",
    "reasons",
    "dormant_since",
    "last_activity",
    "separation_date",
    "item",
    "product",
    "annual_cost_usd",
    "decision",
    "justification",
    "keep_until",
)
#: People in the order a focal point reads them: the most urgent first.
STANDING: Final = ("separated", "never_signed_in", "inactive", "disabled", "phone")
_PHONE_ONLY: Final = frozenset(
    {model.Reason.PHONE_OWNER_DORMANT, model.Reason.PHONE_UNREGISTERED, model.Reason.PHONE_NO_OWNER}
)


def _dates(series: pd.Series) -> pd.Series:
    text: pd.Series = series.dt.strftime("%Y-%m-%d").astype(model.STRING)
    return text


def _optional(costed: pd.DataFrame, column: str, default: object) -> pd.Series:
    if column in costed.columns:
        return costed[column]
    return pd.Series(default, index=costed.index, dtype=object)


def _phone_details(costed: pd.DataFrame, phones: pd.DataFrame | None) -> pd.DataFrame:
    """Extension, model and location (device pool) of each phone finding, from the inventory."""
    out = pd.DataFrame(index=costed.index, columns=["extension", "model", "location"], dtype=object)
    is_phone = costed["resource_kind"] == model.ResourceKind.PHONE.value
    out.loc[is_phone.to_numpy(bool), "model"] = costed.loc[is_phone, "match_key"]
    if phones is None or phones.empty or not is_phone.any():
        return out.astype(model.STRING)
    wanted = model.norm_key(costed["subject"]).where(is_phone)
    key = model.norm_key(phones["device_name"])
    # Only the phones a finding names (at 1M, a tenth of the inventory): the lookup then
    # makes Python objects of those, not of every phone. A phone without a name matches
    # no finding (it would have matched every account's empty subject).
    named = model.isin(key, wanted)
    known = phones[named].assign(key=key[named]).drop_duplicates("key")
    at = pd.Index(known["key"]).get_indexer(wanted)
    hit = at >= 0
    for column, source in (
        ("extension", "directory_number"),
        ("location", "device_pool"),
        ("model", "model"),
    ):
        found = known[source].astype(object).to_numpy()[at[hit]]
        present = pd.notna(found)
        target = out[column].to_numpy(copy=True)
        target[np.flatnonzero(hit)[present]] = found[present]
        out[column] = target
    return out.astype(model.STRING)


def person_of(costed: pd.DataFrame) -> pd.Series:
    """Whose each row is: its account, else (a phone nobody owns) the resource itself."""
    return (
        costed["account_id"].astype(model.STRING).fillna(costed["resource_id"].astype(model.STRING))
    )


def prepare(costed: pd.DataFrame, phones: pd.DataFrame | None = None) -> pd.DataFrame:
    """The fields a notice shows, as text, sorted by person then annual cost (highest first).

    ``phones`` is the phone inventory (canonical phones frame) the phones'
    extension and location come from; without it they are left empty.
    """
    annual, accrued = costs_cents(costed)
    unpriced = unpriced_mask(costed)
    text = {c: costed[c].astype(model.STRING) for c in ("resource_id", "subject", "department")}
    asked = pd.to_datetime(_optional(costed, "first_notified_on", pd.NaT), utc=True)
    rows = pd.DataFrame(
        {
            **text,
            "resource_kind": costed["resource_kind"].astype(model.STRING),
            "person": person_of(costed),
            "account_id": costed["account_id"].astype(model.STRING).fillna(text["subject"]),
            "owner_upn": costed["owner_upn"].astype(model.STRING),
            "display_name": costed["display_name"].astype(model.STRING),
            "reasons": costed["reasons"].astype(model.STRING),
            "dormant_since": _dates(costed["dormant_since"]),
            "last_activity": _dates(costed["last_activity_at"]),
            "separation_date": _dates(costed["separation_date"]),
            "item": costed["item"].astype(model.STRING).mask(unpriced, pd.NA),
            "item_description": _optional(costed, "item_description", pd.NA)
            .astype(model.STRING)
            .mask(unpriced, pd.NA),
            "product": costed["match_key"].astype(model.STRING),
            "annual_cost_usd": money_column(annual),
            "annual_cents": annual,
            "accrued_cents": accrued,
            "cycle": _optional(costed, "cycle", "new").astype(model.STRING),
            "asked_on": _dates(asked),
            # The licensing group the licence is inherited from: the account leaves it (issue 17).
            "via_group": _optional(costed, "via_group", pd.NA).astype(model.STRING),
        }
    )
    rows = rows.join(_phone_details(costed, phones))
    rows["standing"] = _standing(rows)
    person_cents = rows.groupby("person")["annual_cents"].transform("sum")
    rank = rows["standing"].map({s: i for i, s in enumerate(STANDING)})
    return (
        rows.assign(_rank=rank, _person_cents=person_cents)
        .sort_values(
            ["_rank", "_person_cents", "person", "resource_kind", "annual_cents", "resource_id"],
            ascending=[True, False, True, True, False, True],
            kind="stable",
        )
        .drop(columns=["_rank", "_person_cents"])
    )


def _standing(rows: pd.DataFrame) -> pd.Series:
    """Each row's person's standing (:data:`STANDING`), the same for all rows of a person."""

    def has(code: str) -> pd.Series:  # once for each distinct reasons text
        return per_value(rows["reasons"], lambda text: code in text.split(";"), False).astype(bool)

    by_person = {
        reason: has(reason.value).groupby(rows["person"]).transform("any")
        for reason in (model.Reason.SEPARATED, model.Reason.NEVER_SIGNED_IN, model.Reason.INACTIVE)
    }
    left = rows["separation_date"].notna().groupby(rows["person"]).transform("any")
    licensed = (
        (rows["resource_kind"] == model.ResourceKind.LICENSE.value)
        .groupby(rows["person"])
        .transform("any")
    )
    owner_dormant = (
        has(model.Reason.PHONE_OWNER_DORMANT.value).groupby(rows["person"]).transform("any")
    )
    standing = pd.Series("disabled", index=rows.index, dtype=object)
    standing[~licensed] = "phone"
    standing[~licensed & owner_dormant] = "inactive"  # the owner is dormant, holds no licence here
    standing[by_person[model.Reason.INACTIVE]] = "inactive"
    standing[by_person[model.Reason.NEVER_SIGNED_IN]] = "never_signed_in"
    standing[by_person[model.Reason.SEPARATED] | left] = "separated"
    return standing.astype(model.STRING)


def _cell(value: object) -> str:
    return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class People:
    """The people an email lists, and how many it leaves to the attachments."""

    shown: list[dict[str, Any]]
    total: int
    separated: int

    @property
    def more(self) -> int:
        """People in the attachments but not in the email."""
        return self.total - len(self.shown)


def people(rows: pd.DataFrame, language: str, limit: int) -> People:
    """``rows`` (from :func:`prepare`) as one entry per person, at most ``limit`` of them.

    Every separated person is listed even past ``limit``; the others fill what
    is left of it, in :data:`STANDING` order, highest annual cost first. Only
    the people shown are built (a large department has tens of thousands).
    """
    heads = rows.loc[~rows["person"].duplicated(), ["person", "standing"]]
    is_separated = (heads["standing"] == "separated").fillna(False).to_numpy(bool)
    separated = int(is_separated.sum())
    room = max(limit - separated, 0)
    # As lists first: a set of the column itself asks Arrow for one scalar a person.
    chosen = set(heads["person"][is_separated].tolist())
    chosen |= set(heads["person"][~is_separated][:room].tolist())
    groups: dict[str, list[dict[Hashable, Any]]] = {}
    for record in records(rows[rows["person"].isin(chosen).to_numpy(bool)]):
        groups.setdefault(record["person"], []).append(record)
    shown = [_person(group, language) for group in groups.values()]
    return People(shown=shown, total=len(heads), separated=separated)


class Fields(dict[str, Any]):
    """A dict whose keys a template reads as attributes (``person.name``) without an error.

    Jinja reads ``person.name`` as ``getattr(person, "name")`` first and only
    then as ``person["name"]``: on a plain dict each such read raises and
    catches an AttributeError (2.7 CPU s of the 1M night's compose). A key
    that a dict method shadows (``items``) still reads as the method, as on a
    plain dict; a missing key is still undefined to the template.
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _person(group: Sequence[Mapping[Hashable, Any]], language: str) -> dict[str, Any]:
    """One person's entry (``group``: their rows, in order): who, why, licences, phones, cost."""
    licences = [r for r in group if r["resource_kind"] == model.ResourceKind.LICENSE.value]
    phones = [r for r in group if r["resource_kind"] == model.ResourceKind.PHONE.value]
    upn = _first(r["subject"] for r in licences) or _first(r["owner_upn"] for r in group)
    waiting = [r["asked_on"] for r in group if _is(r["cycle"]) and r["cycle"] != "new"]
    seen = [r["last_activity"] for r in licences if _is(r["last_activity"])]
    return Fields(
        name=_first(r["display_name"] for r in group),
        upn=upn,
        department=_cell(group[0]["department"]),
        standing=_cell(group[0]["standing"]),
        separation_date=_first(r["separation_date"] for r in group),
        last_activity=max(seen, default=""),
        asked_on=min((a for a in waiting if _is(a)), default=""),
        annual_cost=usd(sum(int(r["annual_cents"]) for r in group), language),
        priced=any(_is(r["item"]) for r in group),
        licences=[
            Fields(
                description=_cell(r["item_description"]) or _cell(r["item"]),
                product=_cell(r["product"]),
                priced=_is(r["item"]),
                cost=usd(int(r["annual_cents"]), language),
                via_group=_cell(r["via_group"]),
            )
            for r in licences
        ],
        phones=[_phone(r, language) for r in phones],
    )


def _is(value: object) -> bool:
    """A text field that is present (the frames' text columns hold ``str`` or ``NA``)."""
    return isinstance(value, str)


def _phone(r: Mapping[Hashable, Any], language: str) -> dict[str, Any]:
    codes = set(_cell(r["reasons"]).split(";"))
    if model.Reason.PHONE_UNREGISTERED.value in codes:
        why, since = "unregistered", _cell(r["last_activity"]) or _cell(r["dormant_since"])
    elif model.Reason.PHONE_NO_OWNER.value in codes:
        why, since = "no_owner", ""
    elif _cell(r["separation_date"]):
        why, since = "owner_left", _cell(r["separation_date"])
    else:
        why, since = "owner_inactive", ""
    return Fields(
        device=_cell(r["subject"]),
        extension=_cell(r["extension"]),
        model=_cell(r["model"]),
        location=_cell(r["location"]),
        priced=isinstance(r["item"], str),
        description=_cell(r["item_description"]) or _cell(r["item"]),
        why=why,
        since=since,
        cost=usd(int(r["annual_cents"]), language),
    )


def _first(values: Iterable[object]) -> str:
    """The first present text of ``values`` ("" when none is)."""
    return next((v for v in values if isinstance(v, str)), "")


def rate_basis(rates: pd.DataFrame, items: Sequence[str], language: str) -> list[dict[str, str]]:
    """The rate-card rows in force that price this notice's findings."""
    used = rates[rates["item"].isin(list(items))].sort_values(["item", "effective_from"])
    return [
        Fields(
            item=_cell(r["item"]),
            description=_cell(r["description"]),
            annual_rate=usd(int(r["annual_rate_cents"]), language),
            effective_from=_day(r["effective_from"]),
            effective_to=_day(r["effective_to"]),
        )
        for r in used.to_dict("records")
    ]


def _day(value: object) -> str:
    return f"{value:%Y-%m-%d}" if isinstance(value, pd.Timestamp) and not pd.isna(value) else ""


def attachment_table(rows: pd.DataFrame, *, with_department: bool) -> pd.DataFrame:
    """Every row of a notice in :data:`ATTACHMENT_COLUMNS` (department too for the queue)."""
    columns = list(ATTACHMENT_COLUMNS)
    if with_department:
        columns.insert(2, "department")
    return rows.assign(decision="", justification="", keep_until="")[columns]
