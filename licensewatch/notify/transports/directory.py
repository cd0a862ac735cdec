"""The "directory" transport: each notice becomes ``<key>.eml`` in a folder.

The default for the demo and for ``--dry-run`` previews; an operator can open
the files in any mail client, or hand the folder to another mailer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Final

from licensewatch.atomic import AtomicFile
from licensewatch.errors import DeliveryError
from licensewatch.filemodes import FileModes
from licensewatch.notify.transports.base import Transport

_SAFE_KEY: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


class DirectoryTransport(Transport):
    """Writes each message to ``folder/<key>.eml`` (RFC 5322 bytes, CRLF line endings).

    A file is written to a hidden temporary name and renamed into place, so a
    reader never sees half a message; sending the same key again replaces the
    file, which makes a re-send idempotent.
    """

    def __init__(self, folder: Path, modes: FileModes | None = None) -> None:
        self.folder = folder
        #: ``[reports] file_mode`` and ``group``, given to each file and to the folder.
        self.modes = modes

    def path_for(self, key: str) -> Path:
        """Where the message with ``key`` is written."""
        if not _SAFE_KEY.fullmatch(key) or ".." in key:
            raise ValueError(f"message key {key!r} is not a safe file name")
        return self.folder / f"{key}.eml"

    def send(self, message: EmailMessage, *, key: str) -> None:
        """Write ``message`` as ``<key>.eml``; raises ``DeliveryError`` if the folder refuses."""
        self._write(message.as_bytes(), key)

    def send_stored(
        self, data: bytes, *, key: str, recipients: Sequence[str] | None = None
    ) -> dict[str, str]:
        """Write the outbox's bytes of a message as ``<key>.eml``, as they are.

        A folder has no recipients to tell apart: ``recipients`` is ignored,
        as :meth:`Transport.send_to` does.
        """
        self._write(data, key)
        return {}

    def _write(self, data: bytes, key: str) -> None:
        path = self.path_for(key)
        try:
            if not self.folder.is_dir():
                self.folder.mkdir(parents=True, exist_ok=True)
                if self.modes is not None:
                    self.modes.apply(self.folder)
            staged = AtomicFile(path, modes=self.modes)
        except OSError as exc:
            raise DeliveryError(
                f"cannot write emails to {self.folder}: {exc.strerror or exc}",
                hint="check that [mail] directory exists and is writable by this user",
            ) from exc
        try:
            with staged as fh:
                fh.write(data)
        except OSError as exc:
            raise DeliveryError(
                f"cannot write {path}: {exc.strerror or exc}",
                hint="check free disk space and permissions of [mail] directory",
            ) from exc
