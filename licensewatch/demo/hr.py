"""The HR separations feed of the demo: one row per leaver, written as an HR export."""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path

from licensewatch.demo.common import day, pick
from licensewatch.demo.files import write_csv

SEPARATION_COLUMNS = ("employee_id", "email", "name", "department", "separation_date", "reason")
#: (values, cumulative weights) for :func:`~licensewatch.demo.common.pick`.
REASONS = (
    ("Resignation", "Retirement", "End of contract", "End of assignment", "Mutual agreement",
     "Transfer to another organization"),
    (30, 50, 80, 90, 95, 100),
)  # fmt: skip


def separation(
    rng: random.Random, employee_id: str, email: str, name: str, dept: str, when: int
) -> tuple[str, ...]:
    """One separations row: the leaver, the separation date (``when``) and a drawn reason."""
    reason = pick(rng, REASONS)
    return (employee_id, email, name, dept, day(when), reason)


def write_separations(path: Path, rows: Iterable[tuple[str, ...]]) -> None:
    """Write the separations CSV at ``path``."""
    # HR exports come out of spreadsheets: a byte-order mark is the usual quirk.
    write_csv(path, SEPARATION_COLUMNS, rows, bom=True)
