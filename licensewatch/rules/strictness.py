"""``--strict``: data warnings become errors, for organizations that want clean HR data.

A run reports questionable data (leavers that match no account, accounts
matched to a leaver by e-mail only, exemptions of unknown subjects, dates
before 1990 or in the future set aside by ``licensewatch.rules.date_bounds``) as data
and carries on. With ``--strict`` the same warnings stop the run before
anything is written, with exit code 2 and one line per warning.
"""

from __future__ import annotations

from collections.abc import Sequence

from licensewatch.errors import InputError, Problem

#: How a warning names where it comes from: "<where>: <what>".
_SEPARATOR = ": "
HINT = "--strict treats data warnings as errors: fix the data, or run without --strict"


def as_problem(warning: str) -> Problem:
    """A "<where>: <what>" warning as a problem of ``where`` (the config table or file)."""
    where, found, what = warning.partition(_SEPARATOR)
    return Problem(where, what) if found and where and what else Problem("data", warning)


def enforce(warnings: Sequence[str], *, strict: bool) -> None:
    """Raise :class:`InputError` (exit code 2) listing ``warnings`` if ``strict``; else nothing."""
    if strict and warnings:
        raise InputError([as_problem(w) for w in warnings], hint=HINT)
