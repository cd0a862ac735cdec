"""Kind ``csv`` for ``[sources.separations]``: HR separations exported to CSV.

Columns: ``employee_id, email, name, department, separation_date, reason``.
``separation_date`` is required (a date, read as UTC midnight); every row needs
an ``employee_id`` or an ``email`` (or both) so that it can find its account.
"""

from __future__ import annotations

from licensewatch import model
from licensewatch.config import SourceSettings
from licensewatch.sources.csvfile import ProblemLog, check_options, constant, read_table
from licensewatch.sources.interface import SeparationsPull, SeparationsSource

KEYS = ("employee_id", "email")


class SeparationsCsvSource(SeparationsSource):
    """HR separations from a CSV export.

    Options: ``path`` (required), ``encoding`` (default "utf-8-sig").
    """

    def __init__(self, settings: SourceSettings) -> None:
        options = check_options(settings, ("path", "encoding"), {"encoding": "utf-8-sig"})
        self.path = settings.path()
        self.encoding = options["encoding"]

    def check(self) -> None:
        """Read and validate the file."""
        self.pull()

    def pull(self) -> SeparationsPull:
        """Read the separations; bad rows raise ``InputError`` naming file, row and column."""
        log = ProblemLog(str(self.path))
        table = read_table(
            self.path,
            required=("separation_date",),
            optional=("employee_id", "email", "name", "department", "reason"),
            any_of=KEYS,
            dates=("separation_date",),
            nonempty=("separation_date",),
            encoding=self.encoding,
            problems=log,
        )
        log.add_rows(
            table["employee_id"].isna() & table["email"].isna(),
            "employee_id",
            constant("neither employee_id nor email is given; one is needed to find the account"),
        )
        log.raise_if_any()
        return SeparationsPull(model.conform(table, model.SEPARATIONS))
