"""Reports are written to a staging folder and swapped into place only when the run succeeds.

A failed run leaves the previous ``reports/<as_of>/`` exactly as it was; a
successful re-run of the same day replaces it in one rename.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def staged_folder(final: Path, run_key: str) -> Iterator[Path]:
    """Yield a fresh staging folder beside ``final``; remove it if the block fails.

    The caller calls :func:`publish` inside the block once everything else
    (database commit included) has succeeded.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.parent / f".{final.name}.staging-{run_key}"
    staging.mkdir()
    try:
        yield staging
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def publish(staging: Path, final: Path) -> None:
    """Swap ``staging`` into ``final`` with renames; the old contents are removed after."""
    old: Path | None = None
    if final.exists():
        old = final.parent / f".{final.name}.old-{staging.name.rsplit('-', 1)[-1]}"
        os.replace(final, old)
    os.replace(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_json(path: Path, doc: Mapping[str, Any]) -> None:
    """Write ``doc`` as pretty JSON atomically (temp file + rename)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2, sort_keys=True, default=str)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
