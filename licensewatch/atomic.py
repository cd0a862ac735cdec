"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every write goes to a temporary file in the target's folder (created by
:func:`tempfile.mkstemp`, so mode 0600), which is flushed and fsync'ed, renamed
over the target, and then the folder's entry is fsync'ed too where the platform
allows it. On any failure the temporary file is removed and the target is left
as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from licensewatch.filemodes import FileModes


def fsync_folder(folder: Path) -> None:
    """Flush ``folder``'s directory entries to disk, where the platform supports it."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(folder, flags)
    except OSError:
        return  # e.g. Windows: a folder cannot be opened; the rename is as durable as it gets
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse to fsync a folder; the file itself is on disk
    finally:
        os.close(fd)


class AtomicFile:
    """A temporary file beside ``path`` that replaces ``path`` when its ``with`` block succeeds.

    ``modes`` gives the file its configured mode and group (else it stays 0600).
    The temporary file is created by the constructor, so that a caller can tell
    "cannot create a file in this folder" (raised here) from "cannot write it"
    (raised by the ``with`` block).
    """

    def __init__(
        self,
        path: Path,
        *,
        text: bool = False,
        newline: str | None = None,
        modes: FileModes | None = None,
    ) -> None:
        self.path = path
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        self.tmp = Path(tmp)
        try:
            if modes is not None:
                modes.apply_fd(fd)  # before the rename: the file never shows with 0600
            if text:
                self._fh: IO[Any] = os.fdopen(fd, "w", encoding="utf-8", newline=newline)
            else:
                self._fh = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            self.tmp.unlink(missing_ok=True)
            raise

    def __enter__(self) -> IO[Any]:
        return self._fh

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                with self._fh as fh:
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(self.tmp, self.path)
                fsync_folder(self.path.parent)
            else:
                self._fh.close()
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise
        if exc_type is not None:
            self.tmp.unlink(missing_ok=True)


def open_binary(path: Path) -> AtomicFile:
    """A binary file that atomically replaces ``path`` when its ``with`` block ends well."""
    return AtomicFile(path)


def open_text(path: Path, *, newline: str | None = None) -> AtomicFile:
    """A UTF-8 text file (``newline`` as for :func:`open`) that atomically replaces ``path``."""
    return AtomicFile(path, text=True, newline=newline)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (fsync'ed before the rename)."""
    with open_binary(path) as fh:
        fh.write(data)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for a writer that wants a file name (openpyxl).

    When the block succeeds the file is fsync'ed and renamed over ``path``;
    otherwise it is removed.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    staged = Path(tmp)
    try:
        yield staged
        with staged.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(staged, path)
        fsync_folder(path.parent)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise


__all__ = [
    "AtomicFile",
    "fsync_folder",
    "open_binary",
    "open_text",
    "replacing",
    "write_bytes_atomic",
    "write_text_atomic",
]
