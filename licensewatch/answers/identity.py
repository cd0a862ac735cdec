"""Whose an answer file is: the department, notice key and MAC columns the job wrote into it.

Every answer file a notice attaches (XLSX and CSV) carries, on each row and in
locked cells, its ``department``, the notice's ``notice_key`` and their
``mac`` (:mod:`~licensewatch.answers.signature`) when the deployment reads an
answers mailbox. :func:`identify` reads them back from a returned file, which
must hold exactly one value of each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pandas as pd

from licensewatch.answers.answer_file import is_workbook
from licensewatch.errors import InputError, Problem
from licensewatch.sources.options import TableOptions
from licensewatch.sources.tabular.table import ProblemLog, TableSpec, check_grid, read_table
from licensewatch.sources.tabular.xlsx import load_sheet

#: The columns an answer file carries to say whose it is (the same value on every row).
IDENTITY_COLUMNS: Final = ("department", "notice_key", "mac")


def sign_table(table: pd.DataFrame, department: str, notice_key: str, mac: str) -> pd.DataFrame:
    """``table`` with the identity columns filled in (department replaced, the others last)."""
    return table.assign(department=department, notice_key=notice_key, mac=mac)


def identify(path: Path) -> tuple[str, str, str]:
    """(department, notice key, mac) of the answer file at ``path``; ``InputError`` if not one."""
    log = ProblemLog(path.name)
    if is_workbook(path):
        grid = load_sheet(path, sheet=None, label=path.name, expected="the answer workbook")
        table = check_grid(grid, TableSpec((), IDENTITY_COLUMNS), TableOptions(), log)
    else:
        table = read_table(
            path, required=(), optional=IDENTITY_COLUMNS, problems=log, label=path.name
        )
    log.raise_if_any()
    return identity_of(table, path.name)


def identity_of(table: pd.DataFrame, filename: str) -> tuple[str, str, str]:
    """(department, notice key, mac) from an answer file's identity columns, one value each.

    Raises ``InputError`` when a column is missing or holds more than one value
    (a file put together from two notices).
    """
    problems: list[Problem] = []
    found: list[str] = []
    for column in IDENTITY_COLUMNS:
        values = table[column].dropna().astype(str).str.strip() if column in table else pd.Series()
        distinct = sorted(set(values) - {""})
        if len(distinct) != 1:
            problems.append(
                Problem(
                    filename,
                    f"the file must carry one {column} on its rows, as the job wrote it "
                    f"(found {len(distinct)}): reply with the file attached to your notice",
                    column=column,
                )
            )
        else:
            found.append(distinct[0])
    if problems:
        raise InputError(problems)
    return found[0], found[1], found[2]
