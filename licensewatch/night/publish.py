"""Reports are written to a staging folder and swapped into place only when the run succeeds.

A failed run leaves the previous ``reports/<as_of>/`` exactly as it was; a
successful re-run of the same day replaces it in one rename.

Each staging folder has an owner file beside it (``.<as_of>.staging-<run
key>.owner``: host, pid and run key), written before the folder is made and
removed after it is gone or published. :func:`remove_leftovers` removes only
the staging folders whose owner is dead, so a run never deletes the folder of
another live run (another database's run sharing the reports folder, say).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from licensewatch.atomic import open_text
from licensewatch.errors import StorageError
from licensewatch.logs import get_logger

log = get_logger(__name__)

#: Suffix of the file beside a staging folder that names the run owning it.
OWNER_SUFFIX: Final = ".owner"
_STAGING: Final = ".staging-"
_OLD: Final = ".old-"
_UNCHANGED: Final = (
    "nothing was recorded or sent and the previous reports are as they were; "
    "free space or fix the permissions, then run again"
)
_RECORDED: Final = (
    "the run is recorded and its emails are queued; free space or fix the permissions, "
    "then run again to publish the reports"
)
#: Run keys of this process's runs whose staging folders are live.
_LIVE: set[str] = set()


@contextmanager
def storage_writes(doing: str, hint: str | None = None) -> Iterator[None]:
    """Turn an ``OSError`` raised inside the block into a one-line :class:`StorageError`.

    ``doing`` completes "could not …" ("write the reports"); the message names
    the file the operating system named and its reason (no space left, …).
    """
    try:
        yield
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0) or str(exc)
        raise StorageError(
            f"could not {doing}{where}: {reason}",
            hint=hint or "free space or fix the permissions, then run again",
        ) from exc


def _owner_file(staging: Path) -> Path:
    return staging.with_name(staging.name + OWNER_SUFFIX)


@contextmanager
def staged_folder(final: Path, run_key: str) -> Iterator[Path]:
    """Yield a fresh staging folder beside ``final``; remove it if the block fails.

    The caller calls :func:`publish` inside the block once everything else
    (database commit included) has succeeded. An ``OSError`` inside the block
    (a full disk, a folder made read-only) becomes one :class:`StorageError`.
    """
    staging = final.parent / f".{final.name}{_STAGING}{run_key}"
    owner = _owner_file(staging)
    with storage_writes("create the staging folder for the reports"):
        final.parent.mkdir(parents=True, exist_ok=True)
        owner.write_text(
            json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "run_key": run_key}),
            encoding="utf-8",
        )
        _LIVE.add(run_key)
        staging.mkdir()
    try:
        with storage_writes("write the reports", hint=_UNCHANGED):
            yield staging
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        owner.unlink(missing_ok=True)
        _LIVE.discard(run_key)


def publish(staging: Path, final: Path) -> None:
    """Swap ``staging`` into ``final`` with renames; the old contents are removed after."""
    old: Path | None = None
    with storage_writes("publish the reports", hint=_RECORDED):
        if final.exists():
            old = final.parent / f".{final.name}{_OLD}{staging.name.rsplit('-', 1)[-1]}"
            os.replace(final, old)
        try:
            os.replace(staging, final)
        except OSError:
            if old is not None:
                os.replace(old, final)  # put the previous reports back
            raise
    _owner_file(staging).unlink(missing_ok=True)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def owner_alive(owner: Path) -> bool:
    """Whether the run named in the owner file may still be running (unknown: assume so)."""
    try:
        doc = json.loads(owner.read_text(encoding="utf-8"))
        host, pid, run_key = str(doc["host"]), int(doc["pid"]), str(doc["run_key"])
    except FileNotFoundError:
        return False
    except (OSError, ValueError, KeyError, TypeError):
        return False  # unreadable: not written by a live run of this version
    if host != socket.gethostname():
        return True  # a run on another machine sharing the folder: we cannot tell
    if pid == os.getpid():
        return run_key in _LIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another account's
    return True


def remove_leftovers(folder: Path) -> None:
    """Remove staging folders (and owner files) that runs no longer alive left in ``folder``."""
    if not folder.is_dir():
        return
    for path in sorted(folder.iterdir()):
        name = path.name
        if not name.startswith(".") or (_STAGING not in name and _OLD not in name):
            continue
        if name.endswith(OWNER_SUFFIX):
            staging = path.with_name(name[: -len(OWNER_SUFFIX)])
            if not staging.exists() and not owner_alive(path):
                path.unlink(missing_ok=True)
            continue
        if _STAGING in name and owner_alive(_owner_file(path)):
            log.info("leaving %s alone: the run that owns it is still running", name)
            continue
        log.info("removing %s, left by an interrupted run", name)
        shutil.rmtree(path, ignore_errors=True)
        _owner_file(path).unlink(missing_ok=True)


def write_json(path: Path, doc: Mapping[str, Any]) -> None:
    """Write ``doc`` as pretty JSON atomically (temp file, fsync, rename)."""
    with open_text(path) as fh:
        json.dump(doc, fh, indent=2, sort_keys=True, default=str)
        fh.write("\n")
