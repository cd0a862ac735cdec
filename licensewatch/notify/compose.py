"""One email per department: what is asked of the focal point, by when, why, and the rows.

Templates live under ``email/`` in the templates folder: ``notice_subject.txt.j2``
(one line), ``notice.txt.j2`` (plain text) and ``notice.html.j2`` (HTML,
autoescaped), sharing ``macros.j2``. The config's templates folder is searched
first and the bundled one second, so an organization may override one file
only. A language variant is the same name with the language code before the
extensions (``email/notice.fr.html.j2``); when a focal point's language has no
variant, the plain name is used.

The ``Date`` header is ``as_of`` (composing reads no clock), so a notice
composed twice for the same day is the same notice; a transport that talks to
a mail server may stamp its own.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any, Final

import jinja2
import pandas as pd

from licensewatch import model, resources
from licensewatch.config import MailSettings
from licensewatch.errors import ConfigError, InputError
from licensewatch.reports.csvsafe import csv_text
from licensewatch.reports.findings import costs_cents, money_column, unpriced_mask

#: The body lists at most this many rows; the attachment always carries all of them.
MAX_BODY_ROWS: Final = 200
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
    "annual_cost_usd",
    "decision",
    "justification",
    "keep_until",
)
_ADDRESS: Final = re.compile(r"[^@\s;,<>\"'()\[\]\\]+@[A-Za-z0-9.-]+")
# Characters after which a mail header would start a new line (str.splitlines' set).
_LINE_BREAKS: Final = re.compile(r"[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]+")


@dataclass(frozen=True)
class DepartmentNotice:
    """One composed email to a department's focal points (or to the unassigned queue)."""

    department: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    language: str
    message: EmailMessage
    key: str
    resource_ids: tuple[str, ...]


@dataclass(frozen=True)
class _Route:
    label: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    name: str
    language: str


def header_text(value: str) -> str:
    """``value`` as a one-line header value: line breaks and control characters become spaces."""
    flat = _LINE_BREAKS.sub(" ", value)
    flat = "".join(" " if unicodedata.category(c) == "Cc" else c for c in flat)
    return " ".join(flat.split())


def slug(text: str) -> str:
    """ASCII-folded, lower-case, dash-separated form of ``text`` for file names."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.casefold()).strip("-")[:40] or "department"


def notice_key(as_of: pd.Timestamp, department: str) -> str:
    """Stable, filename-safe key for (as_of, department); case and spacing do not matter."""
    norm = department.strip().casefold()
    digest = hashlib.sha256(norm.encode("utf-8")).hexdigest()[:10]
    return f"{as_of:%Y-%m-%d}_{slug(department)}_{digest}"


def _addresses(cell: object, *, row: int, column: str) -> tuple[str, ...]:
    if cell is None or cell is pd.NA or not isinstance(cell, str):
        return ()
    found = tuple(a.strip() for a in re.split(r"[;,]", cell) if a.strip())
    for address in found:
        if not _ADDRESS.fullmatch(address):
            raise InputError.single(
                "focal points", f"{address!r} is not an email address", row=row, column=column
            )
    return found


def _unassigned_to(mail: MailSettings) -> tuple[str, ...]:
    found = tuple(a.strip() for cell in mail.unassigned_to for a in re.split(r"[;,]", cell))
    bad = [a for a in found if a and not _ADDRESS.fullmatch(a)]
    if bad:
        raise ConfigError(
            f"[mail] unassigned_to: {bad[0]!r} is not an email address",
            hint='write it as unassigned_to = ["ict-licensing@example.org"]',
        )
    return tuple(a for a in found if a)


def _routes(focal_points: pd.DataFrame) -> dict[str, _Route]:
    """Focal points by case-folded department; rows without an address route nothing."""
    routes: dict[str, _Route] = {}
    keys = model.norm_key(focal_points["department"]).tolist()
    for i, (key, fp) in enumerate(zip(keys, focal_points.itertuples(index=False), strict=True)):
        to = _addresses(fp.email, row=i + 2, column="email")
        if key is pd.NA or not to or key in routes or key == model.UNASSIGNED.casefold():
            continue
        routes[key] = _Route(
            label=str(fp.department).strip(),
            to=to,
            cc=_addresses(fp.cc, row=i + 2, column="cc"),
            name=header_text(fp.name) if isinstance(fp.name, str) else "",
            language=str(fp.language).strip().casefold() if isinstance(fp.language, str) else "en",
        )
    return routes


def environment(templates_dir: Path | None = None) -> jinja2.Environment:
    """The Jinja2 environment for email templates: override folder first, bundled second.

    ``.html.j2`` templates are autoescaped; ``.txt.j2`` ones are not. Undefined
    names raise instead of rendering as empty.
    """
    folders = [resources.templates_dir()]
    if templates_dir is not None:
        if not templates_dir.is_dir():
            raise ConfigError(
                f"templates folder {templates_dir} does not exist",
                hint="fix [templates] dir in the config, or remove it to use the shipped templates",
            )
        folders.insert(0, templates_dir)
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(f) for f in folders]),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "html.j2"), default_for_string=False, default=False
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _render(env: jinja2.Environment, stem: str, ext: str, language: str, ctx: Any) -> str:
    names = [f"email/{stem}.{language}.{ext}.j2", f"email/{stem}.{ext}.j2"]
    try:
        return env.select_template(names).render(ctx)
    except jinja2.TemplateError as exc:
        raise ConfigError(
            f"email template {names[-1]} could not be rendered: {exc}",
            hint="fix the template (see templates/email/ for the shipped ones)",
        ) from exc


def _dates(series: pd.Series) -> pd.Series:
    text: pd.Series = series.dt.strftime("%Y-%m-%d").astype(model.STRING)
    return text


def _prepare(costed: pd.DataFrame) -> pd.DataFrame:
    """The fields a notice shows, as text, sorted by annual cost (highest first)."""
    annual, accrued = costs_cents(costed)
    unpriced = unpriced_mask(costed)
    text = {c: costed[c].astype(model.STRING) for c in ("resource_id", "subject", "department")}
    rows = pd.DataFrame(
        {
            **text,
            "resource_kind": costed["resource_kind"].astype(model.STRING),
            "account_id": costed["account_id"].astype(model.STRING).fillna(text["subject"]),
            "display_name": costed["display_name"].astype(model.STRING),
            "reasons": costed["reasons"].astype(model.STRING),
            "dormant_since": _dates(costed["dormant_since"]),
            "last_activity": _dates(costed["last_activity_at"]),
            "separation_date": _dates(costed["separation_date"]),
            "item": costed["item"].astype(model.STRING).mask(unpriced, pd.NA),
            "annual_cost_usd": money_column(annual),
            "annual_cents": annual,
            "accrued_cents": accrued,
        }
    )
    return rows.sort_values(
        ["annual_cents", "subject", "resource_id"], ascending=[False, True, True], kind="stable"
    )


def usd(cents: int) -> str:
    """Cents as dollars with thousands separators: 411520 → "4,115.20"."""
    whole, frac = model.money(cents).split(".")
    return f"{int(whole):,}.{frac}"


def _reason_words(codes: object) -> str:
    if not isinstance(codes, str):
        return ""
    words = []
    for code in filter(None, codes.split(";")):
        try:
            words.append(model.REASON_TEXT[model.Reason(code)])
        except ValueError:
            words.append(code)
    return "; ".join(words)


def _cell(value: object) -> str:
    return value if isinstance(value, str) else ""


def _body_rows(rows: pd.DataFrame) -> list[dict[str, str]]:
    return [
        {
            "name": _cell(r["display_name"]),
            "subject": _cell(r["subject"]),
            "department": _cell(r["department"]),
            "kind": _cell(r["resource_kind"]),
            "reasons": _reason_words(r["reasons"]),
            "last_activity": _cell(r["last_activity"]),
            "separation_date": _cell(r["separation_date"]),
            "item": _cell(r["item"]),
            "annual_cost": usd(int(r["annual_cents"])),
        }
        for r in rows.to_dict("records")
    ]


def _rate_basis(rates: pd.DataFrame, items: Sequence[str]) -> list[dict[str, str]]:
    """The rate-card rows in force that price this notice's findings."""
    used = rates[rates["item"].isin(list(items))].sort_values(["item", "effective_from"])
    return [
        {
            "item": _cell(r["item"]),
            "description": _cell(r["description"]),
            "annual_rate": usd(int(r["annual_rate_cents"])),
            "effective_from": _day(r["effective_from"]),
            "effective_to": _day(r["effective_to"]),
        }
        for r in used.to_dict("records")
    ]


def _day(value: object) -> str:
    return f"{value:%Y-%m-%d}" if isinstance(value, pd.Timestamp) and not pd.isna(value) else ""


def _attachment(rows: pd.DataFrame, *, with_department: bool) -> str:
    columns = list(ATTACHMENT_COLUMNS)
    if with_department:
        columns.insert(2, "department")
    table = rows.assign(decision="", justification="", keep_until="")
    return csv_text(table[columns])


def _context(
    route: _Route, frame: pd.DataFrame, *, as_of: pd.Timestamp, mail: MailSettings, **extra: Any
) -> dict[str, Any]:
    licences = frame["resource_kind"] == model.ResourceKind.LICENSE.value
    return {
        "organization": mail.organization,
        "department": route.label,
        "unassigned": route.label == model.UNASSIGNED,
        "greeting_name": route.name,
        "as_of": f"{as_of:%Y-%m-%d}",
        "deadline": f"{as_of + pd.Timedelta(days=mail.response_days):%Y-%m-%d}",
        "account_count": int(frame.loc[licences, "account_id"].nunique()),
        "license_count": int(licences.sum()),
        "phone_count": int((frame["resource_kind"] == model.ResourceKind.PHONE.value).sum()),
        "unpriced_count": int(frame["item"].isna().sum()),
        "annual_total": usd(int(frame["annual_cents"].sum())),
        "accrued_total": usd(int(frame["accrued_cents"].sum())),
        **extra,
    }


def _message(
    route: _Route,
    ctx: Mapping[str, Any],
    env: jinja2.Environment,
    *,
    mail: MailSettings,
    as_of: pd.Timestamp,
) -> EmailMessage:
    lang = route.language
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = header_text(_render(env, "notice_subject", "txt", lang, ctx))
    msg["From"] = header_text(mail.sender)
    msg["To"] = ", ".join(route.to)
    if route.cc:
        msg["Cc"] = ", ".join(route.cc)
    if mail.reply_to:
        msg["Reply-To"] = header_text(mail.reply_to)
    msg["Date"] = format_datetime(as_of.to_pydatetime())
    domain = re.sub(r"[^A-Za-z0-9.-]", "", parseaddr(mail.sender)[1].rpartition("@")[2])
    msg["Message-ID"] = make_msgid(idstring=ctx["key"], domain=domain or "localhost")
    msg["X-Licensewatch-Run"] = header_text(ctx["run_key"])
    msg["X-Licensewatch-Key"] = ctx["key"]
    # Tells out-of-office responders not to answer the robot; people's replies are unaffected.
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(_render(env, "notice", "txt", lang, ctx))
    msg.add_alternative(_render(env, "notice", "html", lang, ctx), subtype="html")
    msg.add_attachment(ctx["attachment_text"], subtype="csv", filename=ctx["attachment_name"])
    return msg


def _notice(
    route: _Route,
    rows: pd.DataFrame,
    env: jinja2.Environment,
    *,
    as_of: pd.Timestamp,
    mail: MailSettings,
    rates: pd.DataFrame,
    run_key: str,
    max_body_rows: int,
) -> DepartmentNotice:
    key = notice_key(as_of, route.label)
    unassigned = route.label == model.UNASSIGNED
    items = sorted(set(rows["item"].dropna().tolist()))
    ctx = _context(
        route,
        rows,
        as_of=as_of,
        mail=mail,
        key=key,
        run_key=run_key,
        rows=_body_rows(rows.head(max_body_rows)),
        more_rows=max(len(rows) - max_body_rows, 0),
        rates=_rate_basis(rates, items),
        attachment_name=f"licensewatch_{slug(route.label)}_{as_of:%Y-%m-%d}.csv",
        attachment_text=_attachment(rows, with_department=unassigned),
    )
    return DepartmentNotice(
        department=route.label,
        to=route.to,
        cc=route.cc,
        language=route.language,
        message=_message(route, ctx, env, mail=mail, as_of=as_of),
        key=key,
        resource_ids=tuple(rows["resource_id"].tolist()),
    )


def compose_notices(
    costed: pd.DataFrame,
    focal_points: pd.DataFrame,
    *,
    as_of: pd.Timestamp,
    mail: MailSettings,
    rate_card_in_force: pd.DataFrame,
    templates_dir: Path | None = None,
    run_key: str,
    max_body_rows: int = MAX_BODY_ROWS,
) -> tuple[list[DepartmentNotice], pd.DataFrame]:
    """Compose one notice per department that has findings and a focal point.

    Departments are matched case-folded and stripped against
    ``focal_points.department``. Returns the notices (sorted by department) and
    the unassigned queue: the costed findings of departments without a focal
    point, :data:`model.UNASSIGNED` included, never dropped. When
    ``mail.unassigned_to`` is set, one more notice carries that queue to those
    addresses. Raises ``ConfigError`` if a template is missing or broken and
    ``InputError`` if a focal point's address is not an address.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be a timezone-aware UTC timestamp")
    env = environment(templates_dir)
    routes = _routes(focal_points)
    dept = model.norm_key(costed["department"])
    owned = dept.isin(list(routes)).fillna(False).astype(bool)
    queue = costed[~owned].reset_index(drop=True)
    kwargs: dict[str, Any] = {
        "as_of": as_of,
        "mail": mail,
        "rates": rate_card_in_force,
        "run_key": run_key,
        "max_body_rows": max_body_rows,
    }
    notices = []
    if owned.any():
        rows = _prepare(costed[owned])
        for key, group in rows.groupby(dept[owned], sort=False):
            notices.append(_notice(routes[str(key)], group, env, **kwargs))
    notices.sort(key=lambda n: (n.department.casefold(), n.key))
    if mail.unassigned_to and len(queue):
        to = _unassigned_to(mail)
        route = _Route(label=model.UNASSIGNED, to=to, cc=(), name="", language="en")
        notices.append(_notice(route, _prepare(queue), env, **kwargs))
    return notices, queue
