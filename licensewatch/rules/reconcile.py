"""Reconcile accounts, licences, phones and HR separations into dormant findings.

Pure: frames in, frames out; ``as_of`` (UTC midnight) is passed in, no clock or
file is read. Every rule is a whole-column operation (a million accounts take
seconds); keys are compared in NFC, case-folded and stripped (``model.fold_key``).

**Activity.** ``last_activity_at`` is, with ``policy.activity_signal``
"successful", the last successful sign-in when known, else the later of the
last interactive and non-interactive sign-ins; with "any", that later one.

**Accounts.** An account is dormant when a reason applies: SEPARATED (an HR
separation matched by employee id, else by e-mail against mail, else against
UPN, whose date + ``separation_grace_days`` is on or before ``as_of``; the
latest such one counts, once ``licensewatch.rules.leavers`` has set aside re-hired
people, duplicates and separations still to come), INACTIVE (activity strictly older than ``as_of -
inactive_days``), NEVER_SIGNED_IN (no activity, created before that day or
creation date unknown) or DISABLED_LICENSED. Guests are ignored unless
licensed. Every licence of a dormant account is one finding, routed to the
account's department, else the separation's, else ``model.UNASSIGNED``.

**Phones.** A phone is a finding when it has no owner (no owner_user_id, no
account matches it, or several do), its owner account is dormant, or it is not
registered and was last seen (else last changed status) before ``as_of -
phone_inactive_days``. It is routed to its owner's department, else its device
pool's (``device_pool_departments``), else ``model.UNASSIGNED``. Its
``last_activity_at`` is the phone's own ``last_seen_at``.

**Exemptions** in force (``expires_on`` on or after ``as_of``; none when the
date is missing) remove the licence findings of the UPN they name, and keep
that account's phones from PHONE_OWNER_DORMANT; or remove the phone they name.

**dormant_since** is when the avoidable cost started to accrue (finance reads
"accrued avoidable cost since dormant_since"): the earliest start among the
reasons that apply:

- SEPARATED: separation_date + separation_grace_days
- INACTIVE: last_activity_at
- NEVER_SIGNED_IN: created_at (unknown: no start)
- DISABLED_LICENSED: last_activity_at, else created_at
- PHONE_UNREGISTERED: last_seen_at, else status_changed_at
- PHONE_OWNER_DORMANT: the owner account's dormant_since
- PHONE_NO_OWNER: no start

A licence finding whose reasons give no start is dormant since ``as_of``; a
phone whose only reason is PHONE_NO_OWNER gets NaT, which the pipeline fills
with the day the phone was first seen dormant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import reduce
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from licensewatch import model
from licensewatch.config import ACTIVITY_SIGNALS, Policy
from licensewatch.model import Reason
from licensewatch.rules.leavers import (
    MATCHED_BY_EMAIL,
    current_leavers,
    data_warnings,
    matched_by_email,
)

Bools = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]
Stamps = npt.NDArray[np.datetime64]

#: How a phone's owner_user_id is compared with accounts, by ``owner_match``.
OWNER_MATCHES: Final = ("upn", "upn_local_part", "mail", "employee_id")
_NAT: Final = np.datetime64("NaT", "us")
_BIT: Final = {reason: 1 << i for i, reason in enumerate(model.REASON_ORDER)}
#: The reasons text of every combination of reason bits, indexed by the bits.
_TEXT: Final = np.array(
    [
        ";".join(r.value for r in model.REASON_ORDER if bits & _BIT[r]) or None
        for bits in range(1 << len(model.REASON_ORDER))
    ],
    dtype=object,
)
_NO_POOLS: Final[Mapping[str, str]] = MappingProxyType({})


@dataclass(frozen=True)
class ReconcileResult:
    """Findings (FINDINGS, sorted), run-summary counters, and effective leavers with no account.

    ``matched_by_email``: licensed accounts taken for a leaver by e-mail only
    (``leavers.MATCHED_BY_EMAIL``); ``warnings``: data warnings as
    "<config table>: <what>" lines (``--strict`` makes them errors).
    """

    findings: pd.DataFrame
    counts: Mapping[str, int]
    unmatched_leavers: pd.DataFrame
    matched_by_email: pd.DataFrame = field(default_factory=lambda: model.empty(MATCHED_BY_EMAIL))
    warnings: tuple[str, ...] = ()


def _check_arguments(owner_match: str, policy: Policy) -> None:
    if owner_match not in OWNER_MATCHES:
        raise ValueError(f"owner_match must be one of {OWNER_MATCHES}, not {owner_match!r}")
    if policy.activity_signal not in ACTIVITY_SIGNALS:
        raise ValueError(f"activity_signal must be one of {ACTIVITY_SIGNALS}")


def _exempted(
    keys: _Keys, ph: pd.DataFrame, subjects: pd.Series, counts: dict[str, int]
) -> tuple[pd.Series, np.ndarray, np.ndarray, pd.Series]:
    """Phone keys, which accounts and phones an exemption names, and the subjects it found."""
    exempt_account = keys["upn"].isin(subjects).to_numpy(bool)
    device = _key(ph["device_name"])
    exempt_phone = device.isin(subjects).to_numpy(bool)
    known = pd.concat([keys["upn"][exempt_account], device[exempt_phone]])
    counts["exemptions_unknown_subject"] = int((~subjects.isin(known)).sum())
    return device, exempt_account, exempt_phone, known


def reconcile(
    accounts: pd.DataFrame,
    licenses: pd.DataFrame,
    phones: pd.DataFrame,
    separations: pd.DataFrame,
    exemptions: pd.DataFrame,
    *,
    policy: Policy,
    as_of: pd.Timestamp,
    owner_match: str = "upn",
    device_pool_departments: Mapping[str, str] = _NO_POOLS,
) -> ReconcileResult:
    """Find the dormant licences and phones as of ``as_of`` (rules in the module docstring)."""
    _check_arguments(owner_match, policy)
    day = _instant(as_of)
    acc = model.conform(accounts, model.ACCOUNTS)
    lic = model.conform(licenses, model.ACCOUNT_LICENSES)
    ph = model.conform(phones, model.PHONES)
    keys = _Keys(acc)
    counts: dict[str, int] = {"accounts": len(acc), "phones": len(ph)}

    subjects = _exemption_subjects(model.conform(exemptions, model.EXEMPTIONS), day, counts)
    device, exempt_account, exempt_phone, known = _exempted(keys, ph, subjects, counts)

    holder = _holders(acc, lic, keys, counts)
    licensed = np.bincount(holder[holder >= 0], minlength=len(acc)) > 0
    # Rehires, duplicates and future dates first: one record per person who left.
    current = current_leavers(separations, as_of=as_of, grace_days=policy.separation_grace_days)
    seps = current.leavers
    sep_date, sep_dept, leavers, pairs = _separations(seps, keys, policy, day, counts)
    counts.update(current.counts)
    email_only = pairs[pairs["by_email"].to_numpy(bool) & licensed[pairs["account"].to_numpy()]]
    by_email = matched_by_email(acc, seps, email_only["account"], email_only["row"])
    counts["licensed_leavers_matched_by_email"] = len(by_email)
    bits, since, activity = _account_reasons(acc, licensed, sep_date, policy, day, counts)
    department = _per_value(acc["department"], _blank_to_na).fillna(sep_dept)
    owners = _Owners(acc, department, np.where(exempt_account, 0, bits), since, activity, sep_date)

    dormant = _at(bits != 0, holder, False)
    exempted = dormant & _at(exempt_account, holder, False)
    rows = np.flatnonzero(dormant & ~exempted)
    licence_findings = _licence_findings(lic, rows, holder[rows], owners)
    counts["dormant_accounts"] = len(np.unique(holder[rows]))
    counts["license_findings"] = len(licence_findings)

    pools = {model.fold_key(str(k)): v for k, v in device_pool_departments.items()}
    owner = _owners_of_phones(ph, keys[owner_match], counts)
    phone_findings, phones_exempted = _phone_findings(
        ph, device, exempt_phone, owner, owners, pools, policy, day, counts
    )
    counts["phone_findings"] = len(phone_findings)
    counts["exempted_findings"] = int(exempted.sum()) + phones_exempted

    findings = pd.concat([licence_findings, phone_findings], ignore_index=True)
    counts.update(_reason_counts(findings["reasons"]))
    findings = findings.take(_order(findings))
    warnings = data_warnings(leavers, by_email, subjects[~subjects.isin(known)].tolist())
    return ReconcileResult(
        model.conform(findings, model.FINDINGS), counts, leavers, by_email, warnings
    )


class _Keys:
    """The accounts' case-folded key columns, each folded on first use."""

    def __init__(self, accounts: pd.DataFrame) -> None:
        self._accounts = accounts
        self._folded: dict[str, pd.Series] = {}

    def __getitem__(self, name: str) -> pd.Series:
        if name not in self._folded:
            if name == "upn_local_part":
                local = self["upn"].map(lambda upn: upn.partition("@")[0], na_action="ignore")
                self._folded[name] = _key(local)
            else:
                self._folded[name] = _key(self._accounts[name])
        return self._folded[name]


@dataclass(frozen=True)
class _Owners:
    """Per-account columns that findings take from the account they belong to."""

    accounts: pd.DataFrame
    department: pd.Series  # NA when neither the account nor HR names one
    bits: Ints  # reason bits; 0 when not dormant or exempted
    since: Stamps
    activity: Stamps
    sep_date: Stamps

    def take(self, column: str, pos: Ints) -> Any:
        """``column`` of the accounts at ``pos`` (NA where pos is -1)."""
        return self.accounts[column].array.take(pos, allow_fill=True)


def _exemption_subjects(
    exemptions: pd.DataFrame, day: np.datetime64, counts: dict[str, int]
) -> pd.Series:
    """Case-folded subjects of the exemptions in force (``expires_on`` is their last day)."""
    in_force = _dt(exemptions["expires_on"]) >= day
    counts["expired_exemptions"] = int((~in_force).sum())
    return _key(exemptions["subject"])[in_force].dropna().drop_duplicates()


def _holders(acc: pd.DataFrame, lic: pd.DataFrame, keys: _Keys, counts: dict[str, int]) -> Ints:
    """Each licence's account position, -1 when none. Ids from one directory match
    exactly, so only the licences that do not are compared case-folded."""
    holder, _ = _match(acc["account_id"], lic["account_id"])
    loose = (holder < 0) & lic["account_id"].notna().to_numpy(bool)
    if loose.any():
        holder[loose] = _match(keys["account_id"], _key(lic["account_id"][loose]))[0]
    counts["licenses_without_account"] = int((holder < 0).sum())
    return holder


def _separations(
    seps: pd.DataFrame, keys: _Keys, policy: Policy, day: np.datetime64, counts: dict[str, int]
) -> tuple[Stamps, pd.Series, pd.DataFrame, pd.DataFrame]:
    """Per account, the latest effective separation's date and department; unmatched leavers;
    and the matched (``row`` of ``seps``, ``account``, ``by_email``) pairs."""
    dates = _dt(seps["separation_date"])
    start = dates + np.timedelta64(policy.separation_grace_days, "D")
    counts["leavers_effective"] = int((start <= day).sum())
    counts["leavers_future"] = int((start > day).sum())
    todo = pd.DataFrame(
        {
            "row": np.arange(len(seps)),
            "employee_id": _key(seps["employee_id"]),
            "email": _key(seps["email"]),
        }
    )[start <= day]
    found = []
    # Employee id first; the e-mail only for separations the id did not match.
    for sep_col, acc_col in (("employee_id", "employee_id"), ("email", "mail"), ("email", "upn")):
        probe = todo[["row", sep_col]].dropna()
        if probe.empty:
            continue
        hits = keys[acc_col][keys[acc_col].isin(probe[sep_col])]
        pairs = probe.merge(pd.DataFrame({sep_col: hits, "account": hits.index}), on=sep_col)
        found.append(pairs.assign(by_email=sep_col == "email")[["row", "account", "by_email"]])
        todo = todo[~todo["row"].isin(pairs["row"])]
    none = np.zeros(0, np.int64)
    matched = pd.concat(
        [pd.DataFrame({"row": none, "account": none, "by_email": none.astype(bool)}), *found]
    )
    counts["leavers_matched_by_email"] = matched.loc[matched["by_email"], "row"].nunique()
    counts["leavers_without_account"] = len(todo)
    matched["date"] = dates[matched["row"].to_numpy(np.int64)]
    latest = matched.sort_values(["account", "date", "row"]).drop_duplicates("account", keep="last")
    account, row = latest["account"].to_numpy(np.int64), latest["row"].to_numpy(np.int64)
    sep_date = np.full(len(keys["upn"]), _NAT)
    sep_date[account] = dates[row]
    department = pd.Series(pd.NA, index=range(len(sep_date)), dtype=model.STRING)
    department.iloc[account] = _per_value(seps["department"], _blank_to_na).array.take(row)
    leavers = model.conform(seps.iloc[todo["row"].to_numpy()], model.SEPARATIONS)
    return sep_date, department, leavers, matched


def _account_reasons(
    acc: pd.DataFrame,
    licensed: Bools,
    sep_date: Stamps,
    policy: Policy,
    day: np.datetime64,
    counts: dict[str, int],
) -> tuple[Ints, Stamps, Stamps]:
    """Every account's reason bits (0 when not dormant), dormant_since and last activity."""
    guest = _per_value(acc["user_type"], model.norm_key).eq("guest").fillna(False).to_numpy(bool)
    counts["licensed_accounts"] = int(licensed.sum())
    counts["guests_ignored"] = int((guest & ~licensed).sum())
    activity = np.fmax(_dt(acc["last_interactive_at"]), _dt(acc["last_noninteractive_at"]))
    if policy.activity_signal == "successful":
        successful = _dt(acc["last_successful_at"])
        activity = np.where(np.isnat(successful), activity, successful)
    created = _dt(acc["created_at"])
    grace = np.timedelta64(policy.separation_grace_days, "D")
    cutoff = day - np.timedelta64(policy.inactive_days, "D")
    never = np.isnat(activity) & (np.isnat(created) | (created < cutoff))
    disabled = acc["account_enabled"].eq(False).fillna(False).to_numpy(bool) & licensed
    rules: list[tuple[Reason, Bools, Stamps]] = [
        (Reason.SEPARATED, ~np.isnat(sep_date), sep_date + grace),
        (Reason.INACTIVE, activity < cutoff, activity),
        (Reason.NEVER_SIGNED_IN, never, created),
        (Reason.DISABLED_LICENSED, disabled, np.where(np.isnat(activity), created, activity)),
    ]
    in_scope = ~guest | licensed
    bits = np.zeros(len(acc), np.int64)
    starts = [np.full(len(acc), _NAT)]
    for reason, applies, start in rules:
        bits |= np.where(applies & in_scope, _BIT[reason], 0)
        starts.append(np.where(applies & in_scope, start, _NAT))
    since = reduce(np.fmin, starts)
    return bits, np.where(np.isnat(since) & (bits != 0), day, since), activity


def _licence_findings(lic: pd.DataFrame, rows: Ints, pos: Ints, owners: _Owners) -> pd.DataFrame:
    account_id = owners.accounts["account_id"].to_numpy(object)[pos]
    sku = lic["sku_id"].fillna("").to_numpy(object)[rows]
    upn = owners.take("upn", pos)
    frame = pd.DataFrame(
        {
            "resource_id": pd.array("license:" + account_id + ":" + sku, dtype=model.STRING),
            "resource_kind": model.ResourceKind.LICENSE.value,
            "subject": upn,
            "account_id": account_id,
            "owner_upn": upn,
            "display_name": owners.take("display_name", pos),
            "department": _first_of(owners.department.array.take(pos), default=model.UNASSIGNED),
            "reasons": _TEXT[owners.bits[pos]],
            "dormant_since": _ts(owners.since[pos]),
            "last_activity_at": _ts(owners.activity[pos]),
            "separation_date": _ts(owners.sep_date[pos]),
            "match_key": lic["sku_part_number"].array.take(rows),
        }
    )
    # The same SKU listed twice for one account is one licence.
    return frame.drop_duplicates("resource_id")


def _owners_of_phones(ph: pd.DataFrame, account_key: pd.Series, counts: dict[str, int]) -> Ints:
    """Each phone's owner account position; -1 when none, unknown or ambiguous."""
    owner_id = _key(ph["owner_user_id"])
    first, matches = _match(account_key, owner_id)
    counts["phones_without_owner"] = int(owner_id.isna().sum())
    counts["phones_owner_not_found"] = int((owner_id.notna().to_numpy(bool) & (matches == 0)).sum())
    counts["phones_owner_ambiguous"] = int((matches >= 2).sum())
    return np.where(matches == 1, first, -1)


def _phone_findings(
    ph: pd.DataFrame,
    device: pd.Series,
    exempt: Bools,
    owner: Ints,
    owners: _Owners,
    pools: Mapping[str, str],
    policy: Policy,
    day: np.datetime64,
    counts: dict[str, int],
) -> tuple[pd.DataFrame, int]:
    """The phone findings, and how many findings exemptions removed."""
    status = _per_value(ph["registration_status"], model.norm_key)
    not_registered = status.ne("registered").fillna(True).to_numpy(bool)
    seen = _dt(ph["last_seen_at"])
    stamp = np.where(np.isnat(seen), _dt(ph["status_changed_at"]), seen)
    counts["phones_unregistered_undated"] = int((not_registered & np.isnat(stamp)).sum())
    unregistered = not_registered & (stamp < day - np.timedelta64(policy.phone_inactive_days, "D"))
    owner_dormant = _at(owners.bits != 0, owner, False)
    bits = (
        np.where(unregistered, _BIT[Reason.PHONE_UNREGISTERED], 0)
        | np.where(owner_dormant, _BIT[Reason.PHONE_OWNER_DORMANT], 0)
        | np.where(owner < 0, _BIT[Reason.PHONE_NO_OWNER], 0)
    )
    named = device.notna().to_numpy(bool)  # a phone with no name cannot be told apart
    counts["phones_unnamed"] = int((~named).sum())
    rows = np.flatnonzero((bits != 0) & named & ~exempt)
    pos = owner[rows]
    since = np.fmin(
        np.where(unregistered, stamp, _NAT)[rows],
        np.where(owner_dormant[rows], _at(owners.since, pos, _NAT), _NAT),
    )
    pool_department = _per_value(ph["device_pool"], lambda s: model.norm_key(s).map(pools))
    frame = pd.DataFrame(
        {
            "resource_id": pd.array("phone:" + device.to_numpy(object)[rows], dtype=model.STRING),
            "resource_kind": model.ResourceKind.PHONE.value,
            "subject": ph["device_name"].array.take(rows),
            "account_id": owners.take("account_id", pos),
            "owner_upn": owners.take("upn", pos),
            "display_name": _first_of(
                owners.take("display_name", pos), ph["description"].array.take(rows)
            ),
            "department": _first_of(
                owners.department.array.take(pos, allow_fill=True),
                pool_department.array.take(rows),
                default=model.UNASSIGNED,
            ),
            "reasons": _TEXT[bits[rows]],
            "dormant_since": _ts(since),
            "last_activity_at": _ts(seen[rows]),
            "separation_date": _ts(_at(owners.sep_date, pos, _NAT)),
            "match_key": ph["model"].array.take(rows),
        }
    )
    exempted = int(((bits != 0) & named & exempt).sum())
    return frame.drop_duplicates("resource_id"), exempted


def _reason_counts(reasons: pd.Series) -> dict[str, int]:
    """``reason.<CODE>``: how many findings carry each reason."""
    codes, texts = pd.factorize(reasons)
    per_text = np.bincount(codes[codes >= 0], minlength=len(texts))
    return {
        f"reason.{reason.value}": sum(
            int(n) for text, n in zip(texts, per_text, strict=True) if reason in text.split(";")
        )
        for reason in model.REASON_ORDER
    }


def _order(findings: pd.DataFrame) -> Ints:
    """Rows by department, resource_kind, subject, then resource_id (code-point order)."""
    department = pd.factorize(findings["department"], sort=True)[0]
    kind = pd.factorize(findings["resource_kind"], sort=True)[0]
    subject = _ranks(findings["subject"])
    # resource_id only orders findings that share a subject: rank just those.
    tied = np.bincount(subject)[subject] > 1
    tie_break = np.zeros(len(findings), np.int64)
    tie_break[tied] = _ranks(findings["resource_id"][tied])
    return np.lexsort((tie_break, subject, kind, department)).astype(np.int64)


def _ranks(series: pd.Series) -> Ints:
    """Dense rank of each value in code-point order, NA last. Sorting in numpy's
    string dtype is several times faster than sorting python string objects."""
    values = np.asarray(series.fillna("").to_numpy(object), dtype=np.dtypes.StringDType())
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new = np.ones(len(values), np.bool_)
    new[1:] = ordered[1:] != ordered[:-1]
    ranks = np.empty(len(values), np.int64)
    ranks[order] = np.cumsum(new)
    return np.where(series.isna().to_numpy(bool), len(values) + 1, ranks)


def _instant(as_of: pd.Timestamp) -> np.datetime64:
    if as_of.tzinfo is None:
        raise ValueError("as_of must be a timezone-aware UTC timestamp")
    return np.datetime64(as_of.tz_convert("UTC").tz_localize(None).as_unit("us").to_datetime64())


def _dt(series: pd.Series) -> Stamps:
    """A UTC timestamp column as naive-UTC ``datetime64[us]`` (NaT where missing)."""
    stamps = pd.to_datetime(series, utc=True).astype(model.DATETIME).dt.tz_convert(None)
    return np.asarray(stamps.to_numpy(dtype="datetime64[us]"))


def _ts(values: Stamps) -> pd.Series:
    return pd.Series(pd.DatetimeIndex(values).tz_localize("UTC"), dtype=model.DATETIME)


def _key(series: pd.Series) -> pd.Series:
    """``model.norm_key``: NFC, case-folded, stripped, in one pass over the values."""
    return model.norm_key(series)


def _blank_to_na(series: pd.Series) -> pd.Series:
    stripped = series.str.strip()
    return stripped.mask(stripped == "", pd.NA)


def _per_value(series: pd.Series, func: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``func`` applied once per distinct value (cheap for low-cardinality columns)."""
    codes, uniques = pd.factorize(series.astype(model.STRING))
    done = func(pd.Series(uniques, dtype=model.STRING)).astype(model.STRING).array
    return pd.Series(done.take(codes, allow_fill=True), dtype=model.STRING)


def _first_of(*columns: Any, default: str | None = None) -> pd.Series:
    """Per row, the value of the first column that has one (else ``default``)."""
    series = [pd.Series(column, dtype=model.STRING) for column in columns]
    out = reduce(lambda chosen, then: chosen.fillna(then), series)
    return out if default is None else out.fillna(default)


def _match(keys: pd.Series, probe: pd.Series) -> tuple[Ints, Ints]:
    """Per probe value: the first equal key's position (-1 if none) and how many keys equal it."""
    codes, uniques = pd.factorize(pd.concat([keys, probe], ignore_index=True))
    own, asked = codes[: len(keys)], codes[len(keys) :]
    valid = own >= 0
    many = np.append(np.bincount(own[valid], minlength=len(uniques)), 0)
    first = np.full(len(uniques) + 1, -1, dtype=np.int64)  # the last slot answers code -1
    distinct, at = np.unique(own[valid], return_index=True)
    first[distinct] = np.flatnonzero(valid)[at]
    return first[asked], many[asked].astype(np.int64)


def _at(values: npt.NDArray[Any], pos: Ints, fill: Any) -> npt.NDArray[Any]:
    """``values[pos]``, with ``fill`` where pos is -1."""
    return np.append(values, np.array([fill], dtype=values.dtype))[pos]
