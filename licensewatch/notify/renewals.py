"""Finance's renewal notices (``[finance] notify_to``): one when a subscription's renewal enters
the horizon, one more when 30 days or fewer are left.

:func:`renewal_messages` is pure: the renewals within the horizon (``rules.seats.renewals``)
and the notices already queued (``store.renewals``) in, the messages to queue out, each
with the ``(subscription, renewal date, stage)`` to record with it. The run queues them in
the outbox in its own transaction (a braked or dry run queues none), so a re-run never
sends one twice and a crash never loses one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any, Final

import pandas as pd

from licensewatch import model
from licensewatch.config import MailSettings
from licensewatch.notify.mime import POLICY
from licensewatch.store.outbox_table import MessageKind, Queued
from licensewatch.store.renewals import HORIZON, THIRTY_DAYS

#: The ``department`` of a renewal notice in the outbox (finance, not a focal point's).
FINANCE: Final = "(finance)"
LAST_CALL_DAYS: Final = 30


@dataclass(frozen=True)
class RenewalMessage:
    """One renewal notice to queue, and what to record once it is queued."""

    queued: Queued
    record: tuple[str, date, str]


def _stage(days: int) -> str:
    return THIRTY_DAYS if days <= LAST_CALL_DAYS else HORIZON


def _body(row: dict[str, Any], stage: str, horizon: int) -> str:
    saving = row["annual_saving_cents"]
    money = (
        "not priced (no rate-card item)"
        if saving is None or pd.isna(saving)
        else f"USD {model.money(int(saving))} a year"
    )
    when = "in 30 days or fewer" if stage == THIRTY_DAYS else f"within {horizon} days"
    renews = pd.Timestamp(row["renews_on"]).date().isoformat()
    return (
        f"The subscription {row['subscription_id']} ({row['sku_part_number']}) renews on "
        f"{renews} ({row['days_to_renewal']} days), {when}.\n\n"
        f"Licences in the subscription: {row['total_licenses']}\n"
        "Seats that could be cut at renewal (unassigned, approved for removal, dormant): "
        f"{row['seats_to_cut']}\n"
        f"Saving if they are cut: {money}\n\n"
        "The figures are in seats.csv and renewals.csv of the run's reports.\n"
    )


def renewal_messages(
    renewals: pd.DataFrame,
    sent: set[tuple[str, date, str]],
    *,
    mail: MailSettings,
    notify_to: Sequence[str],
    horizon_days: int,
    run_key: str,
    now: datetime,
) -> list[RenewalMessage]:
    """The renewal notices due today and not queued before (none without ``notify_to``)."""
    if not notify_to:
        return []
    out = []
    for row in renewals.to_dict("records"):
        renews = pd.Timestamp(row["renews_on"]).date()
        stage = _stage(int(row["days_to_renewal"]))
        record = (str(row["subscription_id"]), renews, stage)
        if record in sent:
            continue
        key = f"renewal_{record[0]}_{renews.isoformat()}_{stage.replace(' ', '')}"
        subject = (
            f"[licensewatch] {row['sku_part_number']} renews on {renews.isoformat()}: "
            f"{row['seats_to_cut']} seats could be cut"
        )
        msg = EmailMessage(policy=POLICY)
        msg["Subject"] = subject
        msg["From"] = mail.sender
        msg["To"] = ", ".join(notify_to)
        msg["Date"] = format_datetime(now)
        domain = re.sub(r"[^A-Za-z0-9.-]", "", parseaddr(mail.sender)[1].rpartition("@")[2])
        msg["Message-ID"] = f"<{key}@{domain or 'localhost'}>"
        msg["X-Licensewatch-Run"] = run_key
        msg["X-Licensewatch-Key"] = key
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(_body({str(k): v for k, v in row.items()}, stage, horizon_days))
        queued = Queued(
            key, FINANCE, MessageKind.RENEWAL, tuple(notify_to), subject, (), msg.as_bytes()
        )
        out.append(RenewalMessage(queued, record))
    return out
