"""Two nights' outputs compared: ``python -m benchmarks.compare_outputs BEFORE AFTER``.

``BEFORE`` and ``AFTER`` are folders a night wrote (``benchmarks.run --keep``
keeps ``night-N``; ``licensewatch demo --dir`` writes one too). Every file is
paired by its path inside the folder and compared:

- ``.xlsx``: every sheet's cells read back with openpyxl, each as its value,
  number format, bold, fill and lock, and each sheet's layout (frozen pane,
  filter, column widths, data validations, protection, dimension); a
  different writer changes the bytes, not what finance reads or sees;
- ``.eml``: part by part, each byte for byte once the ``Date`` header, the
  run key (``X-Licensewatch-Run``) and the MIME boundaries are masked, an
  attached workbook (the answer file) by its cells and layout as above;
- everything else that is text (CSV, HTML, JSON, TXT): byte for byte once the
  run key, wall-clock timestamps and the folders' own paths are masked;
- ``licensewatch.db`` (SQLite): the ``findings`` rows without their ``id`` and
  ``run_id``, ordered by resource.

The database lock and SQLite's journal files, the config, ``result.json`` (timings) and other binary
files are skipped. Prints one line per difference and exits 1 if any.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import io
import re
import sqlite3
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import openpyxl

SKIPPED = {"licensewatch.db.lock", "licensewatch.toml", "result.json"}
#: SQLite's write-ahead log and its index: part of the database, read through it.
SKIPPED_SUFFIXES = ("-wal", "-shm", "-journal")
TEXT_SUFFIXES = {".csv", ".html", ".json", ".txt", ".md"}
#: A wall-clock timestamp (ISO 8601 with a time of day): when the run happened, not what it found.
_STAMP = re.compile(rb"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?")
_BOUNDARY = re.compile(rb"={15}\d+==")
_DATE = re.compile(rb"^Date: .*$", re.MULTILINE)


def _files(root: Path) -> dict[str, Path]:
    return {
        str(p.relative_to(root)): p
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in SKIPPED and not p.name.endswith(SKIPPED_SUFFIXES)
    }


def _run_keys(root: Path) -> list[bytes]:
    """The run keys a night wrote (run_summary.json and the emails' header)."""
    keys: set[bytes] = set()
    for path in root.rglob("run_summary.json"):
        keys.update(re.findall(rb'"run_key":\s*"([^"]+)"', path.read_bytes()))
    for path in root.rglob("*.eml"):
        keys.update(re.findall(rb"^X-Licensewatch-Run: (\S+)", path.read_bytes(), re.MULTILINE))
    return sorted(keys, key=len, reverse=True)


def masker(root: Path) -> Callable[[bytes], bytes]:
    """What hides, in ``root``'s files, what differs between two runs of the same night."""
    paths = [str(root).encode(), str(root.parent).encode()]
    keys = _run_keys(root)

    def mask(data: bytes) -> bytes:
        for key in keys:
            data = data.replace(key, b"<RUN>")
        for path in paths:
            data = data.replace(path, b"<DIR>")
        data = _BOUNDARY.sub(b"<BOUNDARY>", data)
        data = _DATE.sub(b"Date: <DATE>", data)
        return _STAMP.sub(b"<TIME>", data)

    return mask


#: SpreadsheetML's namespaces: the sheet's, relationships in a part, a package's relationships.
_NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "p": "http://schemas.openxmlformats.org/package/2006/relationships",
}
#: A cell no writer styled: its format, bold, fill and lock as openpyxl reads them.
_PLAIN = ("General", False, None, True)


def _cell(cell: Any) -> tuple[Any, ...]:
    """A cell as (value, number format, bold, fill colour, locked)."""
    font, fill, protection = (getattr(cell, a, None) for a in ("font", "fill", "protection"))
    colour = fill.fgColor.rgb if fill is not None and fill.patternType else None
    return (
        cell.value,
        getattr(cell, "number_format", None) or "General",
        bool(font is not None and font.b),
        colour,
        True if protection is None else bool(protection.locked),
    )


@dataclass(repr=False)
class Workbook:
    """A workbook as compared: each sheet's layout and rows of cells (:func:`_cell`)."""

    layouts: dict[str, tuple[Any, ...]]
    sheets: dict[str, list[tuple[Any, ...]]]

    @classmethod
    def read(cls, path: Path | io.BytesIO) -> Workbook:
        """The workbook at ``path`` (or in a buffer)."""
        return cls(_layouts(path), _sheets(path))

    def __repr__(self) -> str:
        return f"<workbook of {len(self.sheets)} sheet(s)>"

    def differences(self, other: Workbook) -> Iterator[str]:
        """What differs, one line each: the sheets, then each sheet's layout and first cell."""
        if list(self.sheets) != list(other.sheets):
            yield f"sheets {list(self.sheets)} != {list(other.sheets)}"
        for sheet, rows in self.sheets.items():
            if sheet not in other.sheets:
                continue
            mine, theirs = self.layouts.get(sheet), other.layouts.get(sheet)
            if mine != theirs:
                yield f"[{sheet}] layout: {mine!r} != {theirs!r}"
            if rows != other.sheets[sheet]:
                yield f"[{sheet}]: {_first_difference(rows, other.sheets[sheet])}"


def _sheets(path: Path | io.BytesIO) -> dict[str, list[tuple[Any, ...]]]:
    """Every sheet's rows of cells (:func:`_cell`), trailing plain empty cells left out."""
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        out: dict[str, list[tuple[Any, ...]]] = {}
        for ws in book.worksheets:
            rows: list[tuple[Any, ...]] = []
            for row in ws.iter_rows():
                values = [_cell(c) for c in row]
                while values and values[-1][0] is None and values[-1][1:] == _PLAIN:
                    values.pop()
                rows.append(tuple(values))
            while rows and not rows[-1]:
                rows.pop()
            out[ws.title] = rows
        return out
    finally:
        book.close()


def _layouts(path: Path | io.BytesIO) -> dict[str, tuple[Any, ...]]:
    """Each sheet's layout by title: what its XML holds outside its rows."""
    if isinstance(path, io.BytesIO):
        path.seek(0)
    with zipfile.ZipFile(path) as package:
        book = ElementTree.fromstring(package.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(package.read("xl/_rels/workbook.xml.rels"))
        targets = {r.get("Id"): r.get("Target", "") for r in rels.findall("p:Relationship", _NS)}
        out = {}
        for sheet in book.findall("m:sheets/m:sheet", _NS):
            target = targets[sheet.get(f"{{{_NS['r']}}}id")]
            part = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            out[sheet.get("name", "")] = _layout(package.read(part))
    if isinstance(path, io.BytesIO):
        path.seek(0)
    return out


def _layout(xml: bytes) -> tuple[Any, ...]:
    """Pane, filter, widths, validations, protection and dimension of one sheet's XML."""
    start, end = xml.find(b"<sheetData"), xml.find(b"</sheetData>")
    if start >= 0 and end > start:  # the rows (the bulk of a big sheet) are compared as cells
        xml = xml[:start] + xml[end + len(b"</sheetData>") :]
    root = ElementTree.fromstring(xml)

    def attrs(element: ElementTree.Element | None, *names: str) -> tuple[str | None, ...] | None:
        return None if element is None else tuple(element.get(n) for n in names)

    cols = tuple(
        (c.get("min"), c.get("max"), round(float(c.get("width", "0")), 2), c.get("hidden"))
        for c in root.findall("m:cols/m:col", _NS)
    )
    checks = tuple(
        sorted(
            (
                str(v.get("sqref")), str(v.get("type")), str(v.get("operator")),
                v.findtext("m:formula1", "", _NS), v.findtext("m:formula2", "", _NS),
            )
            for v in root.findall("m:dataValidations/m:dataValidation", _NS)
        )
    )  # fmt: skip
    protection = root.find("m:sheetProtection", _NS)
    return (
        attrs(root.find("m:sheetViews/m:sheetView/m:pane", _NS), "topLeftCell", "state"),
        attrs(root.find("m:autoFilter", _NS), "ref"),
        cols,
        checks,
        None if protection is None else tuple(sorted(protection.attrib.items())),
        attrs(root.find("m:dimension", _NS), "ref"),
    )


def _parts(data: bytes, mask: Callable[[bytes], bytes]) -> list[tuple[object, ...]]:
    """An email as (headers, then one entry per leaf part), workbooks as their cell values."""
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    headers = [(k, b"<DATE>" if k == "Date" else mask(str(v).encode())) for k, v in msg.items()]
    out: list[tuple[object, ...]] = [tuple(headers)]
    for part in msg.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        body: object = mask(payload) if isinstance(payload, bytes) else payload
        name = part.get_filename() or ""
        if name.endswith(".xlsx") and isinstance(payload, bytes):
            body = Workbook.read(io.BytesIO(payload))
        out.append((part.get_content_type(), name, body))
    return out


def _part_difference(a: list[tuple[object, ...]], b: list[tuple[object, ...]]) -> str:
    """The first difference of two emails' parts; an attached workbook's by sheet and cell."""
    for x, y in zip(a, b, strict=False):
        if x != y and isinstance(x[-1], Workbook) and isinstance(y[-1], Workbook):
            return f"{x[1]}: " + "; ".join(x[-1].differences(y[-1]))
    return _first_difference(a, b)


def _findings(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        names = [r[1] for r in db.execute("PRAGMA table_info(findings)")]
        kept = [n for n in names if n not in ("id", "run_id")]
        listed = ", ".join(f'"{n}"' for n in kept)
        query = f"SELECT {listed} FROM findings ORDER BY resource_id"
        return [tuple(r) for r in db.execute(query)]


def _first_difference(a: list[Any], b: list[Any]) -> str:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"row {i + 1}: {x!r} != {y!r}"
    return f"{len(a)} rows != {len(b)} rows"


def compare(before: Path, after: Path) -> Iterator[str]:
    """One line per difference between the night folders ``before`` and ``after``."""
    a_files, b_files = _files(before), _files(after)
    for name in sorted(set(a_files) ^ set(b_files)):
        yield f"{name}: only in {'before' if name in a_files else 'after'}"
    mask_a, mask_b = masker(before), masker(after)
    for name in sorted(set(a_files) & set(b_files)):
        a, b = a_files[name], b_files[name]
        if a.suffix == ".xlsx":
            for line in Workbook.read(a).differences(Workbook.read(b)):
                yield f"{name} {line}"
        elif a.name == "licensewatch.db":
            fa, fb = _findings(a), _findings(b)
            if fa != fb:
                yield f"{name} findings: {_first_difference(fa, fb)}"
        elif a.suffix == ".eml":
            pa, pb = _parts(a.read_bytes(), mask_a), _parts(b.read_bytes(), mask_b)
            if pa != pb:
                yield f"{name}: differs ({_part_difference(pa, pb)[:300]})"
        elif a.suffix in TEXT_SUFFIXES:
            if mask_a(a.read_bytes()) != mask_b(b.read_bytes()):
                yield f"{name}: differs"
        elif a.read_bytes() != b.read_bytes():
            yield f"{name}: differs (binary)"


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    files = len(_files(args.before))
    differences = list(compare(args.before, args.after))
    for line in differences:
        print(line)
    print(f"{files} files compared: {len(differences)} difference(s)")
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
