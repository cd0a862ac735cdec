"""Where each finding stands for finance and the committee: approved, failed, kept, unanswered.

Pure. ``removal approved`` (a focal point or the no-response rule decided
remove; waiting for the service desk or ``deprovision --apply``),
``removal failed: <reason>`` (the last removal attempt failed), ``kept``
(a dated exception), ``unanswered`` or ``unanswered, overdue`` (past the
deadline the focal points were given).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import pandas as pd

from licensewatch import model

APPROVED: Final = "removal approved"
FAILED: Final = "removal failed"
KEPT: Final = "kept"
UNANSWERED: Final = "unanswered"
OVERDUE: Final = "unanswered, overdue"


def follow_up(
    planned: pd.DataFrame, actions: Mapping[str, tuple[bool, str]], as_of: pd.Timestamp
) -> pd.Series:
    """The follow-up of each planned finding (``decision``, ``status``, ``deadline`` columns).

    ``actions``: the last removal attempt of a resource (ok, detail), as
    :func:`licensewatch.store.decisions.last_actions` returns them.
    """
    day = as_of.normalize()
    out = []
    deadlines = (
        planned["deadline"] if "deadline" in planned else pd.Series(pd.NaT, index=planned.index)
    )
    # The columns as lists: iterating them asks Arrow for one scalar a value.
    columns = (planned[c].tolist() for c in ("resource_id", "decision", "status"))
    for rid, decision, status, deadline in zip(*columns, deadlines.tolist(), strict=True):
        if isinstance(decision, str) and decision == "remove":
            ok, detail = actions.get(str(rid), (True, ""))
            out.append(APPROVED if ok else f"{FAILED}: {detail}")
        elif isinstance(status, str) and status == model.FindingStatus.KEPT.value:
            out.append(KEPT)
        elif isinstance(deadline, pd.Timestamp) and not pd.isna(deadline) and deadline < day:
            out.append(OVERDUE)
        else:
            out.append(UNANSWERED)
    return pd.Series(out, index=planned.index, dtype=model.STRING)
