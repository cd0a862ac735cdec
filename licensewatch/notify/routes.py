"""Who gets a department's notices: focal points by department, the configured queues.

Departments are matched in NFC, case-folded and stripped (``model.fold_key``).
A focal point row without a valid address routes nothing; a malformed address
is an input error naming the row and column of the focal points file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import pandas as pd

from licensewatch import model
from licensewatch.errors import ConfigError, InputError

ADDRESS: Final = re.compile(r"[^@\s;,<>\"'()\[\]\\]+@[A-Za-z0-9.-]+")
LANGUAGES: Final = ("en", "fr")
# Characters after which a mail header would start a new line (str.splitlines' set).
_LINE_BREAKS: Final = re.compile(r"[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]+")


@dataclass(frozen=True)
class Route:
    """Where one department's notices go, and in which language."""

    label: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    name: str
    language: str


def header_text(value: str) -> str:
    """``value`` as a one-line header value: line breaks and control characters become spaces."""
    flat = _LINE_BREAKS.sub(" ", value)
    flat = "".join(" " if unicodedata.category(c) == "Cc" else c for c in flat)
    return " ".join(flat.split())


def _addresses(cell: object, *, row: int, column: str) -> tuple[str, ...]:
    if cell is None or cell is pd.NA or not isinstance(cell, str):
        return ()
    found = tuple(a.strip() for a in re.split(r"[;,]", cell) if a.strip())
    for address in found:
        if not ADDRESS.fullmatch(address):
            raise InputError.single(
                "focal points", f"{address!r} is not an email address", row=row, column=column
            )
    return found


def configured_addresses(cells: Sequence[str], key: str) -> tuple[str, ...]:
    """The addresses of a config list such as ``[mail] unassigned_to``; ``ConfigError`` if bad."""
    found = tuple(a.strip() for cell in cells for a in re.split(r"[;,]", cell))
    bad = [a for a in found if a and not ADDRESS.fullmatch(a)]
    if bad:
        raise ConfigError(
            f"[mail] {key}: {bad[0]!r} is not an email address",
            hint=f'write it as {key} = ["ict-licensing@example.org"]',
        )
    return tuple(a for a in found if a)


def _language(cell: object) -> str:
    text = str(cell).strip().casefold() if isinstance(cell, str) else ""
    return text[:2] if text[:2] in LANGUAGES else "en"


def focal_routes(focal_points: pd.DataFrame) -> dict[str, Route]:
    """Focal points by case-folded department; rows without an address route nothing.

    ``language`` picks the templates (``en`` or ``fr``; anything else, or
    nothing, means English).
    """
    routes: dict[str, Route] = {}
    keys = model.norm_key(focal_points["department"]).tolist()
    for i, (key, fp) in enumerate(zip(keys, focal_points.itertuples(index=False), strict=True)):
        to = _addresses(fp.email, row=i + 2, column="email")
        if key is pd.NA or not to or key in routes or key == model.UNASSIGNED.casefold():
            continue
        routes[key] = Route(
            label=str(fp.department).strip(),
            to=to,
            cc=_addresses(fp.cc, row=i + 2, column="cc"),
            name=header_text(fp.name) if isinstance(fp.name, str) else "",
            language=_language(fp.language),
        )
    return routes
