"""The demo folder: refusing foreign folders, its marker, and writing its JSON and CSV files."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from licensewatch.errors import ConfigError

MARKER = ".licensewatch-demo"


def refuse_foreign(root: Path) -> None:
    """Raise ``ConfigError`` unless ``root`` is new, empty or an earlier demo folder."""
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} is a file, not a folder", hint="choose a folder with --dir")
    if root.is_dir() and not (root / MARKER).is_file() and any(root.iterdir()):
        raise ConfigError(
            f"{root} already holds files and is not a licensewatch demo folder",
            hint="choose a new or empty folder with --dir; the demo overwrites only its own folder",
        )


def prepare(root: Path, stamp: str) -> None:
    """Make ``root`` a demo folder: its subfolders, its marker, no stale users pages."""
    refuse_foreign(root)  # again: the folder may have changed while generating
    graph = root / "exports" / "graph"
    graph.mkdir(parents=True, exist_ok=True)
    (root / "config").mkdir(exist_ok=True)
    (root / MARKER).write_bytes(
        f"Written by `licensewatch demo` ({stamp}); it overwrites its own files here.\n".encode()
    )
    # Pages of an earlier, larger demo would be read as part of this one.
    for old in graph.glob("users_*.json"):
        if re.fullmatch(r"users_\d+\.json", old.name):
            old.unlink()


def write_json(path: Path, doc: Any) -> None:
    """Write ``doc`` to ``path`` as Graph sends JSON: compact, UTF-8, no ASCII escapes."""
    # dumps (not dump) takes the C encoder's fast path.
    path.write_bytes(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def write_csv(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[str]], *, bom: bool = False
) -> None:
    """Write ``header`` and ``rows`` to ``path`` as CSV (``bom``: with a byte-order mark)."""
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
