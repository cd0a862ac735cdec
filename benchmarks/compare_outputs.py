"""Two nights' outputs compared: ``python -m benchmarks.compare_outputs BEFORE AFTER``.

``BEFORE`` and ``AFTER`` are folders a night wrote (``benchmarks.run --keep``
keeps ``night-N``; ``licensewatch demo --dir`` writes one too). Every file is
paired by its path inside the folder and compared:

- ``.xlsx``: every sheet's cell values read back with openpyxl (a different
  writer changes the bytes, not what finance reads);
- ``.eml``: part by part, each byte for byte once the ``Date`` header, the
  run key (``X-Licensewatch-Run``) and the MIME boundaries are masked, an
  attached workbook (the answer file) by its cell values as above;
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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


def _sheets(path: Path | io.BytesIO) -> dict[str, list[tuple[Any, ...]]]:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        out: dict[str, list[tuple[Any, ...]]] = {}
        for ws in book.worksheets:
            rows = []
            for row in ws.iter_rows(values_only=True):
                values = list(row)
                while values and values[-1] is None:
                    values.pop()
                rows.append(tuple(values))
            while rows and not rows[-1]:
                rows.pop()
            out[ws.title] = rows
        return out
    finally:
        book.close()


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
            body = _sheets(io.BytesIO(payload))
        out.append((part.get_content_type(), name, body))
    return out


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
            sa, sb = _sheets(a), _sheets(b)
            if list(sa) != list(sb):
                yield f"{name}: sheets {list(sa)} != {list(sb)}"
            for sheet in sa:
                if sheet in sb and sa[sheet] != sb[sheet]:
                    yield f"{name} [{sheet}]: {_first_difference(sa[sheet], sb[sheet])}"
        elif a.name == "licensewatch.db":
            fa, fb = _findings(a), _findings(b)
            if fa != fb:
                yield f"{name} findings: {_first_difference(fa, fb)}"
        elif a.suffix == ".eml":
            pa, pb = _parts(a.read_bytes(), mask_a), _parts(b.read_bytes(), mask_b)
            if pa != pb:
                yield f"{name}: differs ({_first_difference(pa, pb)[:200]})"
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
