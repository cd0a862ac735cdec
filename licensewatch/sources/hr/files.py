"""Kinds ``csv`` and ``xlsx`` for ``[sources.separations]``: HR separations in a file.

Canonical columns: ``employee_id, email, name, department, separation_date,
reason`` and optionally ``hired_on`` (a hire or re-hire date) and ``rehire``
(a yes/no flag HR sets on a separation followed by a re-hire). A
``[sources.separations.columns]`` table maps the organization's own headers
onto these names. Every row needs an ``employee_id`` or an ``email`` (or
both) so that it can find its account, and a ``separation_date`` unless it
is a hire record (``hired_on`` only). Which separations are in force
(rehires, duplicates, future dates) is decided by reconcile, not here.
"""

from __future__ import annotations

from typing import ClassVar, Final

import pandas as pd

from licensewatch import model
from licensewatch.config import SourceSettings
from licensewatch.sources.interface import SeparationsPull, SeparationsSource
from licensewatch.sources.options import source_path
from licensewatch.sources.tabular.table import (
    ProblemLog,
    TableSpec,
    check_grid,
    check_options,
    constant,
    read_table,
    table_options,
)
from licensewatch.sources.tabular.text import Grid
from licensewatch.sources.tabular.xlsx import load_sheet, sheet_label

KEYS: Final = ("employee_id", "email")
SPEC: Final = TableSpec(
    required=("separation_date",),
    optional=("employee_id", "email", "name", "department", "reason", "hired_on", "rehire"),
    any_of=KEYS,
    dates=("separation_date", "hired_on"),
    # A row with a hire date only is a hire record: it says the person works here again.
    nonempty_unless=(("separation_date", "hired_on"),),
)
#: The header row messages show: the canonical columns (``hired_on`` and ``rehire`` may follow).
HEADER: Final = (
    ", ".join(c for c in model.SEPARATIONS if c != "hired_on") + " (optional: hired_on, rehire)"
)
#: Names a ``columns`` table may map a header to.
CANONICAL: Final = (*SPEC.required, *SPEC.optional)
_YES: Final = frozenset({"yes", "y", "true", "1", "x", "oui"})
_NO: Final = frozenset({"no", "n", "false", "0", "non"})
_ENCODED: Final = ("path", "encoding", "delimiter", "date_format")
_DEFAULTS: Final = {"encoding": "auto", "delimiter": "auto", "date_format": "iso", "sheet": ""}


def finish_separations(table: pd.DataFrame, log: ProblemLog) -> pd.DataFrame:
    """Row checks shared by every separations kind; raises ``InputError`` listing all problems.

    ``table`` is what :func:`~licensewatch.sources.tabular.table.check_grid` returned
    for :data:`SPEC`. A ``rehire`` flag set on a separation makes its
    ``hired_on`` at least the separation date.
    """
    log.add_rows(
        table["employee_id"].isna() & table["email"].isna(),
        "employee_id",
        constant("neither employee_id nor email is given; one is needed to find the account"),
    )
    flag = table["rehire"].str.strip().str.casefold()
    yes = flag.isin(_YES).fillna(False).astype(bool)
    raw = table["rehire"]
    log.add_rows(
        flag.notna() & ~yes & ~flag.isin(_NO).fillna(False).astype(bool),
        "rehire",
        lambda row: f"{raw[row]!r} is not yes or no",
    )
    rehired_on = table["separation_date"].where(yes.to_numpy())
    hired = pd.concat([table["hired_on"], rehired_on], axis=1).max(axis=1)
    table["hired_on"] = hired.astype(model.DATETIME)
    log.raise_if_any()
    return model.conform(table, model.SEPARATIONS)


class SeparationsCsvSource(SeparationsSource):
    """HR separations from a CSV export.

    Options: ``path`` (required); ``encoding`` ("auto": UTF-8 or UTF-16 by
    byte-order mark, else UTF-8; or a code page such as "cp1252");
    ``delimiter`` ("auto": sniffed among , ; and tab); ``date_format``
    ("iso", "day-first" or "month-first"); ``columns`` (header renames).
    """

    KEYS: ClassVar[tuple[str, ...]] = (*_ENCODED, "columns")

    def __init__(self, settings: SourceSettings) -> None:
        options = check_options(settings, _ENCODED, _DEFAULTS, other=("columns",))
        self.settings = settings
        self.path = settings.path()
        self.options = table_options(settings, options, CANONICAL)

    def check(self) -> None:
        """Read and validate the file."""
        self.pull()

    def pull(self) -> SeparationsPull:
        """Read the separations; bad rows raise ``InputError`` naming file, row and column."""
        source_path(self.settings, expected=f"expected a CSV file with the header row: {HEADER}")
        log = ProblemLog(str(self.path))
        s = SPEC
        table = read_table(
            self.path,
            required=s.required,
            optional=s.optional,
            any_of=s.any_of,
            dates=s.dates,
            nonempty_unless=s.nonempty_unless,
            options=self.options,
            problems=log,
        )
        return SeparationsPull(finish_separations(table, log))


class SeparationsXlsxSource(SeparationsSource):
    """HR separations from an Excel workbook (.xlsx).

    Options: ``path`` (required); ``sheet`` (default: the first sheet);
    ``date_format`` for dates written as text; ``columns`` (header renames).
    Cells Excel holds as dates are read as dates whatever ``date_format`` says.
    """

    KEYS: ClassVar[tuple[str, ...]] = ("path", "sheet", "date_format", "columns")

    def __init__(self, settings: SourceSettings) -> None:
        options = check_options(
            settings, ("path", "sheet", "date_format"), _DEFAULTS, other=("columns",)
        )
        self.settings = settings
        self.path = settings.path()
        self.sheet: str | None = options["sheet"] or None
        self.options = table_options(settings, options, CANONICAL)

    def check(self) -> None:
        """Read and validate the sheet."""
        self.pull()

    def pull(self) -> SeparationsPull:
        """Read the separations; bad rows raise ``InputError`` naming sheet, row and column."""
        source_path(self.settings, expected=f"expected a workbook with the header row: {HEADER}")
        log = ProblemLog(sheet_label(self.path, self.sheet))
        grid: Grid = load_sheet(
            self.path,
            sheet=self.sheet,
            label=log.file,
            expected=f"expected a sheet with the header row: {HEADER}",
        )
        table = check_grid(grid, SPEC, self.options, log)
        return SeparationsPull(finish_separations(table, log))
