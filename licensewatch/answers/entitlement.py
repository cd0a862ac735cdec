"""Who may answer for a department: its focal points, its cc and its delegates.

A decision counts only from someone entitled to make it for that department:
the ``From`` address of the reply (case-folded) must be one of the
department's ``email``, ``cc`` or ``delegates`` addresses in
``focal_points.csv``. Being entitled for one department gives nothing in
another: the answer file names its department, and that one is checked.
"""

from __future__ import annotations

import pandas as pd

from licensewatch.model import fold_key


def entitled_addresses(focal_points: pd.DataFrame, department: str) -> frozenset[str]:
    """The case-folded addresses that may answer for ``department`` (empty when unknown)."""
    wanted = fold_key(department)
    rows = focal_points[focal_points["department"].map(lambda d: fold_key(str(d))) == wanted]
    found: set[str] = set()
    for column in ("email", "cc", "delegates"):
        if column not in rows:
            continue
        for cell in rows[column].dropna():
            found.update(a.strip().casefold() for a in str(cell).split(";") if a.strip())
    return frozenset(found)


def may_answer(sender: str, focal_points: pd.DataFrame, department: str) -> bool:
    """Whether ``sender`` may decide for ``department``."""
    return bool(sender) and sender.strip().casefold() in entitled_addresses(
        focal_points, department
    )
