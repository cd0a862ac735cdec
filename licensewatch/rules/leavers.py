"""Which HR separations are in force on a day, and what HR data needs a person's eye. Pure.

HR extracts hold more than one record per person: a separation and a later
re-hire, a corrected separation date, a contract end still to come, plain
duplicate rows. :func:`current_leavers` keeps one record per person, the one
that decides whether they are a leaver on ``as_of``:

- A person is identified by ``employee_id`` (case-folded); a record without
  one takes the id of the records that share its e-mail (when they agree on
  one), else the e-mail itself.
- The person's latest effective separation counts (date + grace on or before
  ``as_of``); separations still to come are not yet effective. A person with
  only those is counted as a future leaver.
- A hire on or after that separation (``hired_on`` on or before ``as_of``: a
  later hire record, or a separation HR flagged as followed by a re-hire)
  means they were re-hired: not a leaver.
- Separation records beyond one per person are counted as duplicates.

:func:`data_warnings` words the findings about HR data that a run reports
(and ``--strict`` refuses): leavers no account matches, licensed accounts
matched to a leaver by e-mail only, exemptions of subjects no source knows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from licensewatch import model

#: Leavers matched to a licensed account by e-mail only (the lead writes it as a report).
MATCHED_BY_EMAIL: Final[model.Schema] = {
    "account_id": model.STRING,
    "upn": model.STRING,
    "account_employee_id": model.STRING,
    "display_name": model.STRING,
    "department": model.STRING,
    "hr_employee_id": model.STRING,
    "hr_email": model.STRING,
    "hr_name": model.STRING,
    "separation_date": model.DATETIME,
}
#: At most this many warnings of one kind are worded; the rest are counted in one more line.
WARNINGS_PER_KIND: Final = 50
SEPARATIONS_TABLE: Final = "[sources.separations]"
EXEMPTIONS_TABLE: Final = "[exemptions]"


@dataclass(frozen=True)
class CurrentLeavers:
    """One SEPARATIONS row per person who is a leaver on ``as_of``, and how the rest went.

    ``counts`` (of persons): ``leavers_effective``, ``leavers_future`` (only
    separations not yet effective), ``leavers_rehired``; and
    ``separations_duplicate`` (separation records beyond one per person).
    """

    leavers: pd.DataFrame
    counts: dict[str, int]


def _person(seps: pd.DataFrame) -> pd.Series:
    """A key per row that is the same for every record of one person."""
    employee = model.norm_key(seps["employee_id"])
    email = model.norm_key(seps["email"])
    known = pd.DataFrame({"email": email, "employee": employee}).dropna().drop_duplicates()
    ids_per_email = known.groupby("email")["employee"].agg(["nunique", "first"])
    sole = ids_per_email.loc[ids_per_email["nunique"] == 1, "first"]
    employee = employee.fillna(email.map(sole).astype(model.STRING))
    person = ("id:" + employee).fillna("email:" + email)
    return person.fillna(pd.Series([f"row:{i}" for i in range(len(seps))], dtype=model.STRING))


def current_leavers(
    separations: pd.DataFrame, *, as_of: pd.Timestamp, grace_days: int = 0
) -> CurrentLeavers:
    """The leavers on ``as_of`` (see the module docstring), one record per person."""
    seps = model.conform(separations, model.SEPARATIONS)
    frame = pd.DataFrame(
        {
            "person": _person(seps),
            "separated": seps["separation_date"],
            "hired": seps["hired_on"].where(seps["hired_on"] <= as_of),
            "pos": np.arange(len(seps)),
        }
    )
    records = frame[frame["separated"].notna()]
    people = records["person"].nunique()
    in_force = records[records["separated"] + pd.Timedelta(days=grace_days) <= as_of]
    latest = in_force.sort_values(["separated", "pos"]).drop_duplicates("person", keep="last")
    hires = frame.loc[frame["hired"].notna(), ["person", "hired"]].sort_values("hired")
    latest = latest[["person", "separated", "pos"]].merge(
        hires.drop_duplicates("person", keep="last"), on="person", how="left"
    )
    rehired = (latest["hired"] >= latest["separated"]).fillna(False).to_numpy(bool)
    counts = {
        "leavers_effective": int((~rehired).sum()),
        "leavers_future": people - len(latest),
        "leavers_rehired": int(rehired.sum()),
        "separations_duplicate": len(records) - people,
    }
    rows = np.sort(latest["pos"].to_numpy()[~rehired])
    return CurrentLeavers(model.conform(seps.iloc[rows], model.SEPARATIONS), counts)


def matched_by_email(
    accounts: pd.DataFrame,
    leavers: pd.DataFrame,
    account_pos: Sequence[int],
    leaver_pos: Sequence[int],
) -> pd.DataFrame:
    """The ``MATCHED_BY_EMAIL`` frame of the given (account, leaver) position pairs."""
    acc = accounts.iloc[list(account_pos)].reset_index(drop=True)
    hr = leavers.iloc[list(leaver_pos)].reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "account_id": acc["account_id"],
            "upn": acc["upn"],
            "account_employee_id": acc["employee_id"],
            "display_name": acc["display_name"],
            "department": acc["department"],
            "hr_employee_id": hr["employee_id"],
            "hr_email": hr["email"],
            "hr_name": hr["name"],
            "separation_date": hr["separation_date"],
        }
    )
    return model.conform(frame.sort_values(["upn", "account_id"], kind="stable"), MATCHED_BY_EMAIL)


def _capped(total: int, lines: list[str], more: str) -> list[str]:
    """``lines`` (the first of ``total``), plus one line counting the ones left out."""
    return [*lines, more.format(total - len(lines))] if total > len(lines) else lines


def _text(value: object) -> str | None:
    return None if pd.isna(value) else str(value)  # type: ignore[call-overload]


def _who(name: object, employee_id: object, email: object) -> str:
    ids = [
        f"{label} {_text(value)!r}"
        for label, value in (("employee_id", employee_id), ("email", email))
        if _text(value)
    ]
    shown = _text(name)
    return (f"{shown!r} " if shown else "") + f"({', '.join(ids)})"


def _leaver(row: pd.Series) -> str:
    who = _who(row["name"], row["employee_id"], row["email"])
    return f"leaver {who}, separated {row['separation_date'].date()}, matches no account"


def _email_only(row: pd.Series) -> str:
    who = _who(row["hr_name"], row["hr_employee_id"], row["hr_email"])
    text = f"licensed account {_text(row['upn'])!r} is taken for leaver {who} by e-mail only"
    own = _text(row["account_employee_id"])
    return text + (f" (the account's employee_id is {own!r})" if own else "")


def data_warnings(
    unmatched_leavers: pd.DataFrame,
    by_email: pd.DataFrame,
    unknown_subjects: Sequence[str],
) -> tuple[str, ...]:
    """Data warnings as "<config table>: <what>" lines, at most a few dozen of each kind."""
    first = WARNINGS_PER_KIND
    leavers = [_leaver(row) for _, row in unmatched_leavers.head(first).iterrows()]
    matched = [_email_only(row) for _, row in by_email.head(first).iterrows()]
    subjects = [
        f"the exemption of {subject!r} names no account or phone"
        for subject in sorted(unknown_subjects)[:first]
    ]
    return (
        *(f"{SEPARATIONS_TABLE}: {line}" for line in _capped(
            len(unmatched_leavers), leavers, "… and {} more leavers that match no account"
        )),
        *(f"{SEPARATIONS_TABLE}: {line}" for line in _capped(
            len(by_email), matched, "… and {} more accounts matched by e-mail only"
        )),
        *(f"{EXEMPTIONS_TABLE}: {line}" for line in _capped(
            len(unknown_subjects), subjects, "… and {} more exemptions of unknown subjects"
        )),
    )  # fmt: skip
