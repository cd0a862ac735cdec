"""One email per department and day: what is asked of whom, by when, why, and the people.

The rows come with a ``cycle`` column (see :mod:`licensewatch.rules.cadence`):
every row due today of a department (new, reminder, overdue, escalated,
removed by rule) goes to its focal points in one email, of kind ``overdue``
when any is past its deadline, else ``reminder`` when any was asked before,
else ``notice``. On an escalation day the steering committee
(``[mail] escalation_to``) gets one digest of every overdue department. Rows
without a cycle are not mailed. A frame without the column is all ``new``.

Templates live under ``email/`` in the templates folder: ``notice_subject.txt.j2``
(one line), ``notice.txt.j2`` (plain text) and ``notice.html.j2`` (HTML,
autoescaped), the same three for the ``digest``, sharing ``macros.j2``. The
config's templates folder is searched first and the bundled one second, so an
organization may override one file only. A language variant is the same name
with the language code before the extensions (``email/notice.fr.html.j2``);
when a focal point's language has no variant, the plain name is used.

The ``Date`` header is the ``date`` given (default: ``as_of``): composing
reads no clock. The ``Message-ID`` derives from the message's key, so a
message composed again for the same day and rows is the same message.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any, Final

import jinja2
import pandas as pd

from licensewatch import model, resources
from licensewatch.answers.answer_sheet import XLSX_TYPE, answer_csv, answer_xlsx
from licensewatch.answers.identity import sign_table
from licensewatch.config import MailSettings, Policy
from licensewatch.errors import ConfigError
from licensewatch.notify import parts
from licensewatch.notify.asks import ask
from licensewatch.notify.digest import digest_context, escalation_day
from licensewatch.notify.mime import POLICY
from licensewatch.notify.next_text import cycle_context
from licensewatch.notify.parts import Owned
from licensewatch.notify.routes import Route, configured_addresses, focal_routes, header_text
from licensewatch.notify.rows import (
    ATTACHMENT_COLUMNS,
    attachment_table,
    people,
    prepare,
    rate_basis,
)
from licensewatch.notify.wording import usd
from licensewatch.reports.csvsafe import csv_text
from licensewatch.rules import cadence
from licensewatch.rules.cadence import Rules

__all__ = [
    "ATTACHMENT_COLUMNS",
    "DepartmentNotice",
    "compose_notices",
    "environment",
    "header_text",
    "notice_key",
    "slug",
]


@dataclass(frozen=True)
class DepartmentNotice:
    """One composed email: to a department's focal points, the unassigned queue, or the committee.

    ``kind`` is ``notice`` (it lists new findings, and any still unanswered),
    ``reminder`` (unanswered ones within their deadline, and any new),
    ``overdue`` (some past their deadline) or ``digest`` (the committee's).
    """

    department: str
    kind: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    language: str
    message: EmailMessage
    key: str
    resource_ids: tuple[str, ...]
    #: The message's bytes, when written already (by the process that composed it).
    raw: bytes | None = None

    def as_bytes(self) -> bytes:
        """The message as the outbox keeps it (``message.as_bytes()``, once)."""
        return self.raw if self.raw is not None else self.message.as_bytes()


def slug(text: str) -> str:
    """ASCII-folded, lower-case, dash-separated form of ``text`` for file names."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.casefold()).strip("-")[:40] or "department"


def notice_key(
    as_of: pd.Timestamp, department: str, kind: str = "notice", resource_ids: Sequence[str] = ()
) -> str:
    """Stable, filename-safe key of a message: its as-of date, kind, department and rows.

    Case and spacing of the department do not matter, nor the order of the rows;
    the same message composed again (a re-run) has the same key.
    """
    norm = model.fold_key(department)
    content = "\n".join([norm, kind, *sorted(resource_ids)])
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()[:12]
    return f"{as_of:%Y-%m-%d}_{kind}_{slug(department)}_{digest}"


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


@dataclass(frozen=True)
class _Shared:
    """What every message of one compose call shares."""

    env: jinja2.Environment
    as_of: pd.Timestamp
    date: datetime
    mail: MailSettings
    rates: pd.DataFrame
    run_key: str
    max_people: int
    rules: Rules
    #: (department, notice key) → the answer file's MAC; None: the files carry none.
    signer: Callable[[str, str], str] | None = None


def _context(
    route: Route, rows: pd.DataFrame, planned: pd.DataFrame, kind: str, key: str, s: _Shared
) -> dict[str, Any]:
    lang = route.language
    licences = rows["resource_kind"] == model.ResourceKind.LICENSE.value
    waiting = rows["cycle"] != "new"
    asked = sorted(a for a in rows.loc[waiting, "asked_on"].dropna().tolist() if a)
    items = sorted(set(rows["item"].dropna().tolist()))
    unassigned = route.label == model.UNASSIGNED
    name = f"licensewatch_{slug(route.label)}{_suffix(kind)}_{s.as_of:%Y-%m-%d}"
    asks = ask(rows, kind, s.as_of, s.mail, (f"{name}.xlsx", f"{name}.csv"))
    listed = people(rows, lang, s.max_people)
    table = attachment_table(rows, with_department=unassigned)
    if s.signer is not None and not unassigned:
        # Whose the file is, in locked cells: the answers mailbox checks it (answers.identity).
        table = sign_table(table, route.label, key, s.signer(route.label, key))
    return {
        "organization": s.mail.organization,
        "department": route.label,
        "unassigned": unassigned,
        "greeting_name": route.name,
        "kind": kind,
        "as_of": f"{s.as_of:%Y-%m-%d}",
        # The names the cycle's own context uses (next_step_code: a code of notify.asks.STEPS).
        "deadline": asks.deadline,
        "next_step_code": asks.next_step,
        "next_step_on": asks.next_step_on,
        "escalates": bool(s.mail.escalation_to),
        "account_count": int(rows.loc[licences, "account_id"].nunique()),
        "license_count": int(licences.sum()),
        "phone_count": int((rows["resource_kind"] == model.ResourceKind.PHONE.value).sum()),
        "unpriced_count": int(rows["item"].isna().sum()),
        "new_count": int((~waiting).sum()),
        "waiting_count": int(waiting.sum()),
        "first_asked": asked[0] if asked else "",
        # Each person's "asked on" only tells something when not all were asked the same day.
        "show_asked": bool(asked) and (len(set(asked)) > 1 or bool((~waiting).any())),
        "first_deadline": _after(asked[0], s.mail.response_days) if asked else "",
        "escalate_after_days": s.mail.escalate_after_days,
        "focal_points": ", ".join(route.to),
        "annual_total": usd(int(rows["annual_cents"].sum()), lang),
        "accrued_total": usd(int(rows["accrued_cents"].sum()), lang),
        "key": key,
        "run_key": s.run_key,
        "people": listed.shown,
        "people_count": listed.total,
        "separated_count": listed.separated,
        "more_count": listed.more,
        "rates": rate_basis(s.rates, items, lang),
        "attachment_xlsx": asks.xlsx,
        "attachment_name": asks.csv,
        "attachment_bytes": answer_xlsx(table, as_of=s.as_of.date(), language=lang),
        "attachment_text": answer_csv(table, language=lang),
        # The cycle's deadline, next step (code, words, date), escalation day and sections.
        **cycle_context(planned, s.rules, s.as_of, lang),
    }


def _after(day: str, days: int) -> str:
    """The ISO day ``days`` after the ISO day ``day``."""
    return f"{pd.Timestamp(day) + pd.Timedelta(days=days):%Y-%m-%d}"


def _suffix(kind: str) -> str:
    return "" if kind == "notice" else f"_{kind}"


def _message(
    stem: str, to: Sequence[str], cc: Sequence[str], lang: str, ctx: Mapping[str, Any], s: _Shared
) -> EmailMessage:
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = header_text(_render(s.env, f"{stem}_subject", "txt", lang, ctx))
    msg["From"] = header_text(s.mail.sender)
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    if s.mail.reply_to:
        msg["Reply-To"] = header_text(s.mail.reply_to)
    msg["Date"] = format_datetime(s.date)
    domain = re.sub(r"[^A-Za-z0-9.-]", "", parseaddr(s.mail.sender)[1].rpartition("@")[2])
    # Derived from the key: a message sent again after an interruption keeps its Message-ID.
    msg["Message-ID"] = f"<{ctx['key']}@{domain or 'localhost'}>"
    msg["X-Licensewatch-Run"] = header_text(ctx["run_key"])
    msg["X-Licensewatch-Key"] = ctx["key"]
    # Tells out-of-office responders not to answer the robot; people's replies are unaffected.
    msg["Auto-Submitted"] = "auto-generated"
    # Exchange's equivalent; the only one of the two that Graph sendMail carries (X- headers).
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(_render(s.env, stem, "txt", lang, ctx))
    msg.add_alternative(_render(s.env, stem, "html", lang, ctx), subtype="html")
    if "attachment_html" in ctx:  # the committee's digest: the risk report
        msg.add_attachment(ctx["attachment_html"], subtype="html", filename=ctx["attachment_name"])
        return msg
    if "attachment_bytes" in ctx:
        maintype, subtype = XLSX_TYPE
        msg.add_attachment(
            ctx["attachment_bytes"],
            maintype=maintype,
            subtype=subtype,
            filename=ctx["attachment_xlsx"],
        )
    msg.add_attachment(ctx["attachment_text"], subtype="csv", filename=ctx["attachment_name"])
    return msg


def _notice(
    route: Route, rows: pd.DataFrame, planned: pd.DataFrame, s: _Shared
) -> DepartmentNotice:
    """The department's message of the day about ``rows`` (``planned``: those rows as planned)."""
    kind = _kind(rows["cycle"])
    ids = tuple(rows["resource_id"].tolist())
    key = notice_key(s.as_of, route.label, kind, ids)
    ctx = _context(route, rows, planned, kind, key, s)
    return DepartmentNotice(
        department=route.label,
        kind=kind,
        to=route.to,
        cc=route.cc,
        language=route.language,
        message=_message("notice", route.to, route.cc, route.language, ctx, s),
        key=key,
        resource_ids=ids,
    )


#: Cycle steps whose message is an overdue notice (the deadline has passed).
_LATE: Final = (cadence.OVERDUE, cadence.ESCALATION, cadence.AUTO_REMOVE)


def _kind(cycles: pd.Series) -> str:
    """One message per department and day: ``overdue`` over ``reminder`` over ``notice``."""
    if cycles.isin(_LATE).any():
        return "overdue"
    return "reminder" if (cycles == cadence.REMINDER).any() else "notice"


def _for_route(
    route: Route, rows: pd.DataFrame, planned: pd.DataFrame, s: _Shared
) -> list[DepartmentNotice]:
    """The department's one message of the day: every item due, whatever its step."""
    due = rows[rows["cycle"].notna().to_numpy(bool)]
    if not len(due):
        return []
    return [_notice(route, due, planned.loc[due.index], s)]


def compose_notices(
    costed: pd.DataFrame,
    focal_points: pd.DataFrame,
    *,
    as_of: pd.Timestamp,
    mail: MailSettings,
    rate_card_in_force: pd.DataFrame,
    templates_dir: Path | None = None,
    run_key: str,
    max_people: int | None = None,
    phones: pd.DataFrame | None = None,
    date: datetime | None = None,
    signer: Callable[[str, str], str] | None = None,
    rules: Rules | None = None,
    risk_html: Callable[[], str] | None = None,
    parallel: bool = True,
) -> tuple[list[DepartmentNotice], pd.DataFrame]:
    """Compose the messages due for each department that has findings and a focal point.

    Departments are matched case-folded and stripped against
    ``focal_points.department``. Returns the messages (sorted by department,
    then kind) and the unassigned queue: the costed findings of departments
    without a focal point, :data:`model.UNASSIGNED` included, never dropped.
    When ``mail.unassigned_to`` is set, that queue is mailed there like a
    department. Each email lists at most ``max_people`` people (default:
    ``mail.max_people_in_email``; every separated person is listed whatever
    the limit) and attaches every row as a workbook and a CSV file;
    ``phones`` (the phone inventory) gives the phones' extension and location.
    ``signer`` (department, notice key → MAC) makes each department's answer
    files carry their department, notice key and MAC (the answers mailbox).
    Raises ``ConfigError`` if a template is missing or broken and
    ``InputError`` if a focal point's address is not an address.

    ``costed`` is the day's plan (:func:`licensewatch.rules.cadence.plan`):
    each department gets at most one message, listing every item due. On an
    escalation day ``mail.escalation_to`` gets one digest of every overdue
    department with ``risk_html()`` attached (``rules`` default: the mail
    settings' numbers).

    With ``parallel`` (and ``parts.PARALLEL_ROWS`` rows or more) a second
    process composes the first departments' emails while this one composes
    the others (:mod:`licensewatch.forked`); the emails are the same.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be a timezone-aware UTC timestamp")
    shared = _Shared(
        env=environment(templates_dir),
        as_of=as_of,
        date=date if date is not None else as_of.to_pydatetime(),
        mail=mail,
        rates=rate_card_in_force,
        run_key=run_key,
        max_people=mail.max_people_in_email if max_people is None else max_people,
        signer=signer,
        rules=rules if rules is not None else Rules.of(mail, Policy()),
    )
    given = costed
    if "cycle" not in costed.columns:  # not planned: every finding is new today
        costed = costed.assign(cycle=pd.array(["new"] * len(costed), dtype=model.STRING))
    if "deadline" not in costed.columns:
        start = pd.Series(as_of.normalize(), index=costed.index, dtype=model.DATETIME)
        if "first_notified_on" in costed.columns:
            told = costed["first_notified_on"].astype(model.DATETIME)
            start = told.where(costed["cycle"] != "new", start).fillna(start)
        days = pd.Timedelta(days=shared.rules.response_days)
        costed = costed.assign(deadline=(start + days).astype(model.DATETIME))
    routes = focal_routes(focal_points)
    dept = model.norm_key(costed["department"])
    owned = dept.isin(list(routes)).fillna(False).astype(bool)
    queue = given[~owned].reset_index(drop=True)
    queued = costed[~owned].reset_index(drop=True)
    unassigned_to = configured_addresses(mail.unassigned_to, "unassigned_to")

    def unassigned() -> list[DepartmentNotice]:
        if not (unassigned_to and len(queue)):
            return []
        route = Route(model.UNASSIGNED, unassigned_to, (), "", mail.language)
        return _for_route(route, prepare(queued, phones), queued, shared)

    owned_rows = Owned(costed[owned], dept[owned], phones)
    # In the order the rows list them (each email is the same whichever process writes it).
    order = [(str(k), routes[str(k)]) for k in owned_rows.department.unique()]
    notices, after = parts.departments(
        order,
        owned_rows,
        lambda route, rows: _for_route(route, rows, costed, shared),
        parallel=parallel,
        then=unassigned,
    )
    notices.sort(key=lambda n: (n.department.casefold(), n.kind, n.key))
    digest = _digest(costed, {k: r.label for k, r in routes.items()}, shared, risk_html)
    return notices + after + digest, queue


def _digest(
    planned: pd.DataFrame,
    labels: Mapping[str, str],
    s: _Shared,
    risk_html: Callable[[], str] | None,
) -> list[DepartmentNotice]:
    """The steering committee's one digest of an escalation day (none on other days)."""
    to = configured_addresses(s.mail.escalation_to, "escalation_to")
    if not (s.rules.escalate and to and "cycle" in planned and escalation_day(planned)):
        return []
    lang = s.mail.language
    key = notice_key(s.as_of, "steering committee", "digest")
    ctx = {
        **digest_context(planned, labels, as_of=s.as_of, rules=s.rules, language=lang),
        "organization": s.mail.organization,
        "key": key,
        "run_key": s.run_key,
    }
    if risk_html is not None:
        ctx["attachment_name"] = f"licensewatch_risk_{s.as_of:%Y-%m-%d}.html"
        ctx["attachment_html"] = risk_html()
    else:  # composed outside a run: the departments' table instead of the risk report
        ctx["attachment_name"] = f"licensewatch_overdue_{s.as_of:%Y-%m-%d}.csv"
        ctx["attachment_text"] = csv_text(pd.DataFrame(ctx["departments"]))
    message = _message("digest", to, (), lang, ctx, s)
    return [DepartmentNotice("steering committee", "digest", to, (), lang, message, key, ())]
