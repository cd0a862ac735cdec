"""The departments' emails, composed by two processes where it is worth it.

The departments are split in two parts by their rows (:func:`split`); a child
process (:mod:`licensewatch.forked`) composes the first part while this one
composes the second, then the unassigned queue's email (``then``). Each
process prepares only its own departments' rows (:class:`Owned`): ``prepare``
of all rows took 1.25 s of the 1M night in this process alone before the
child could start. The emails are the same as one process composing them all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

import pandas as pd

from licensewatch import forked, model
from licensewatch.errors import LicensewatchError
from licensewatch.notify.routes import Route
from licensewatch.notify.rows import person_of, prepare

if TYPE_CHECKING:
    from licensewatch.notify.compose import DepartmentNotice

#: Rows of departments' findings from which a second process composes some of the emails.
PARALLEL_ROWS: Final = 1000
#: The share of the work (by rows) the second process takes: this one also composes the
#: unassigned queue's email and unpickles the child's. 1M night: the child's 22 departments
#: took 8.0 s, this process's 16 and the queue's 7.2 s; at 0.53 the stage was no shorter.
CHILD_SHARE: Final = 0.55
#: What an email costs beyond its rows (templates, MIME), in rows.
EMAIL_ROWS: Final = 200


@dataclass(frozen=True)
class Owned:
    """The costed rows of the departments with a focal point, to prepare part by part."""

    rows: pd.DataFrame
    #: Each row's department key (``model.norm_key``).
    department: pd.Series
    phones: pd.DataFrame | None

    def prepared(self, keys: Sequence[str]) -> dict[str, pd.DataFrame]:
        """The prepared rows (``rows.prepare``) of the departments ``keys``, by department.

        Exactly those ``prepare`` of every row gives them: a person's standing
        and total are of all their rows, whichever department lists them, so
        every row of each person these departments list is prepared (the
        stable sort keeps their order), and the others' rows are then dropped.
        """
        mine = model.isin(self.department, list(keys))
        person = person_of(self.rows)
        rows = prepare(self.rows[model.isin(person, person[mine])], self.phones)
        department = self.department.loc[rows.index]
        listed = model.isin(department, list(keys))
        return dict(iter(rows[listed].groupby(department[listed], sort=False)))


#: Departments: each one's key (``model.norm_key``) and route.
Part = list[tuple[str, Route]]
#: Composes a department's message(s) from its route and prepared rows.
Compose = Callable[[Route, pd.DataFrame], list["DepartmentNotice"]]


def split(weights: Sequence[int], share: float = CHILD_SHARE) -> int:
    """How many of the first departments (by ``weights``) make ``share`` of the work, 1 at least.

    The second part keeps one department at least.
    """
    half, done, total = 1, weights[0], sum(weights)
    while half < len(weights) - 1 and done + weights[half] <= total * share:
        done += weights[half]
        half += 1
    return half


def departments(
    order: Part,
    owned: Owned,
    compose: Compose,
    *,
    parallel: bool,
    then: Callable[[], list[DepartmentNotice]] = list,
) -> tuple[list[DepartmentNotice], list[DepartmentNotice]]:
    """The departments' emails in ``order``, and ``then()``; the first ones by a child if worth it.

    As one after the other: when several departments fail, the first one's
    error is raised (the child's part comes first, ``then`` last). ``then``
    runs in this process, after its departments and before the child's
    emails are waited for.
    """

    def part_of(part: Part) -> list[DepartmentNotice]:
        if not part:  # no department has a focal point
            return []
        rows = owned.prepared([key for key, _ in part])
        return [n for key, route in part for n in compose(route, rows[key])]

    def written(part: Part) -> list[DepartmentNotice]:
        # Each process writes its emails' bytes too, which the outbox would write later in
        # this one alone (0.84 s of the 1M night).
        return [replace(n, raw=n.message.as_bytes()) for n in part_of(part)]

    sizes = owned.department.value_counts(sort=False)
    rows = [int(sizes[key]) for key, _ in order]
    if not parallel or len(order) < 2 or sum(rows) < PARALLEL_ROWS or not forked.usable():
        return part_of(order), then()
    half = split([n + EMAIL_ROWS for n in rows])
    child = forked.start("compose emails", lambda: written(order[:half]), failure=LicensewatchError)
    try:
        mine = written(order[half:])
        after = then()
    except Exception:
        child.result()  # its error, if it failed, is the earlier department's
        raise
    theirs: list[DepartmentNotice] = child.result()
    return theirs + mine, after
