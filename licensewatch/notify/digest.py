"""The steering committee's digest: every overdue department in one message per escalation day.

Pure: the day's planned findings in, the template context out. A department
is overdue when it has unanswered findings past their deadline; for each it
shows the separated staff still holding access (first: the departments with
the most lead), the overdue items and their annual cost, the days since the
oldest deadline, how much of its list it answered ("answered 25 of 82"),
and what happened today: escalated, escalated again, licences put on the
removal list by the no-response rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from licensewatch import model
from licensewatch.notify.next_text import step_text
from licensewatch.notify.wording import usd
from licensewatch.reports.findings import costs_cents
from licensewatch.rules import cadence
from licensewatch.rules.cadence import Rules


def escalation_day(planned: pd.DataFrame) -> bool:
    """True when some finding is escalated (or removed by the rule) today."""
    return bool(planned["cycle"].isin([cadence.ESCALATION, cadence.AUTO_REMOVE]).any())


def _overdue(planned: pd.DataFrame, day: pd.Timestamp) -> pd.Series:
    unanswered = planned["decision"].isna() & (planned["status"] != model.FindingStatus.KEPT.value)
    late = (planned["deadline"] < day) & planned["first_notified_on"].notna()
    today = planned["cycle"].isin([cadence.ESCALATION, cadence.AUTO_REMOVE, cadence.OVERDUE])
    return ((unanswered & late) | today).fillna(False).astype(bool)


def _department(label: str, rows: pd.DataFrame, late: pd.DataFrame, day: pd.Timestamp,
                lang: str) -> dict[str, Any]:  # fmt: skip
    annual, _ = costs_cents(late)
    sep = cadence.separated_licence(late) & late["account_id"].notna()
    cycles = late["cycle"].astype("string")
    answered = int(rows["decision"].notna().sum())
    days_over = (day - late["deadline"].min()).days if late["deadline"].notna().any() else 0
    return {
        "department": label,
        "separated_people": int(late.loc[sep.to_numpy(bool), "account_id"].nunique()),
        "item_count": len(late),
        "annual_cents": int(annual.sum()),
        "annual": usd(int(annual.sum()), lang),
        "days_overdue": max(int(days_over), 0),
        "answered": answered,
        "total": len(rows),
        "escalated_today": int((cycles == cadence.ESCALATION).sum()),
        "again": bool(
            (
                (cycles == cadence.ESCALATION)
                & (late["first_escalated_on"] >= late["first_notified_on"])
            )
            .fillna(False)
            .any()
        ),
        "auto_removed": int((cycles == cadence.AUTO_REMOVE).sum()),
    }


def digest_context(
    planned: pd.DataFrame,
    labels: Mapping[str, str],
    *,
    as_of: pd.Timestamp,
    rules: Rules,
    language: str,
) -> dict[str, Any]:
    """The digest's template variables; ``labels`` maps folded departments to their names."""
    day = as_of.normalize()
    for column, dtype in (("decision", model.STRING), ("status", model.STRING),
                          ("first_notified_on", model.DATETIME),
                          ("first_escalated_on", model.DATETIME)):  # fmt: skip
        if column not in planned.columns:
            planned = planned.assign(**{column: pd.Series(pd.NA, index=planned.index, dtype=dtype)})
    dept = model.norm_key(planned["department"]).fillna(model.UNASSIGNED.casefold())
    late_mask = _overdue(planned, day)
    departments = []
    for key, rows in planned.groupby(dept, sort=True):
        late = rows[late_mask.loc[rows.index].to_numpy(bool)]
        if len(late):
            label = labels.get(str(key), model.UNASSIGNED)
            departments.append(_department(label, rows, late, day, language))
    departments.sort(key=lambda d: (-d["separated_people"], -d["annual_cents"], d["department"]))
    repeat = day + pd.Timedelta(days=rules.escalate_every_days)
    return {
        "departments": departments,
        "department_count": len(departments),
        "item_count": sum(d["item_count"] for d in departments),
        "separated_people": sum(d["separated_people"] for d in departments),
        "annual_total": usd(sum(d["annual_cents"] for d in departments), language),
        "auto_removed_count": sum(d["auto_removed"] for d in departments),
        "as_of": f"{day:%Y-%m-%d}",
        "deadline": "",
        "next_step": step_text("escalation_repeat", rules, language),
        "next_step_on": f"{rules.send_day(repeat):%Y-%m-%d}",
        "escalate_every_days": rules.escalate_every_days,
        "auto_remove_after_days": rules.auto_remove_after_days,
    }
