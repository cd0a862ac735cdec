"""Matching HR separations to accounts: employee id first, then e-mail against mail, then UPN."""

from __future__ import annotations

import numpy as np
import pandas as pd

from licensewatch import model
from licensewatch.config import Policy
from licensewatch.rules.columns import (
    NAT,
    AccountKeys,
    Stamps,
    blank_to_na,
    fold,
    per_value,
    stamps,
)


def match_separations(
    seps: pd.DataFrame,
    keys: AccountKeys,
    policy: Policy,
    day: np.datetime64,
    counts: dict[str, int],
) -> tuple[Stamps, pd.Series, pd.DataFrame, pd.DataFrame]:
    """Per account, the latest effective separation's date and department; unmatched leavers;
    and the matched (``row`` of ``seps``, ``account``, ``by_email``) pairs."""
    dates = stamps(seps["separation_date"])
    start = dates + np.timedelta64(policy.separation_grace_days, "D")
    counts["leavers_effective"] = int((start <= day).sum())
    counts["leavers_future"] = int((start > day).sum())
    todo = pd.DataFrame(
        {
            "row": np.arange(len(seps)),
            "employee_id": fold(seps["employee_id"]),
            "email": fold(seps["email"]),
        }
    )[start <= day]
    found = []
    # Employee id first; the e-mail only for separations the id did not match.
    for sep_col, acc_col in (("employee_id", "employee_id"), ("email", "mail"), ("email", "upn")):
        probe = todo[["row", sep_col]].dropna()
        if probe.empty:
            continue
        hits = keys[acc_col][model.isin(keys[acc_col], probe[sep_col])]
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
    sep_date = np.full(len(keys["upn"]), NAT)
    sep_date[account] = dates[row]
    department = pd.Series(pd.NA, index=range(len(sep_date)), dtype=model.STRING)
    department.iloc[account] = per_value(seps["department"], blank_to_na).array.take(row)
    leavers = model.conform(seps.iloc[todo["row"].to_numpy()], model.SEPARATIONS)
    return sep_date, department, leavers, matched
