"""Who may read the report and email files: ``[reports] file_mode`` and ``[reports] group``.

Files are written 0600 by :mod:`licensewatch.atomic` (``mkstemp``) and then
given the configured mode before they are renamed into place (email files)
or before their folder is published (reports), so no reader ever sees a file
with the wrong mode. Folders get the matching directory mode: each read bit
adds its search bit (0640 → 0750, 0600 → 0700). With ``group`` set, files and
folders are also given that group (the job's user must be a member of it).
"""

from __future__ import annotations

import grp
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from licensewatch.errors import ConfigError

DEFAULT_FILE_MODE: Final = 0o640
_OCTAL: Final = re.compile(r"0?[0-7]{3}")


@dataclass(frozen=True)
class FileModes:
    """The mode (and optional group) of every report and email file licensewatch writes."""

    file_mode: int = DEFAULT_FILE_MODE
    group: str | None = None
    gid: int | None = None

    @property
    def dir_mode(self) -> int:
        """The folders' mode: the file mode plus a search bit for each read bit."""
        return self.file_mode | ((self.file_mode & 0o444) >> 2)

    def apply_fd(self, fd: int) -> None:
        """Give an open file (a temporary file before its rename) the mode and group."""
        os.fchmod(fd, self.file_mode)
        if self.gid is not None:
            os.fchown(fd, -1, self.gid)

    def apply(self, path: Path) -> None:
        """Give one file or folder its mode and group."""
        os.chmod(path, self.dir_mode if path.is_dir() else self.file_mode)
        if self.gid is not None:
            os.chown(path, -1, self.gid)

    def apply_tree(self, root: Path) -> None:
        """Give ``root`` and every file and folder under it their mode and group."""
        self.apply(root)
        for folder, dirs, files in os.walk(root):
            for name in (*dirs, *files):
                self.apply(Path(folder) / name)


def file_modes(reports: Mapping[str, Any]) -> FileModes:
    """``[reports] file_mode`` and ``group`` checked: an octal string, not world-writable."""
    text = reports.get("file_mode", f"0{DEFAULT_FILE_MODE:o}")
    if not isinstance(text, str) or not _OCTAL.fullmatch(text):
        raise ConfigError(
            f"[reports] file_mode = {text!r}: not an octal mode",
            hint='write it as a string of octal digits, e.g. file_mode = "0640"',
        )
    mode = int(text, 8)
    if mode & 0o002:
        raise ConfigError(
            f"[reports] file_mode = {text!r}: world-writable files are refused",
            hint='anyone could change the reports and emails; use e.g. "0640" or "0644"',
        )
    if mode & 0o600 != 0o600:
        raise ConfigError(
            f"[reports] file_mode = {text!r}: the owner must be able to read and write",
            hint="the next run replaces the files; keep 6 as the first digit",
        )
    group = reports.get("group")
    if group is None:
        return FileModes(mode)
    if not isinstance(group, str) or not group:
        raise ConfigError(f"[reports] group = {group!r}: must be the name of a group")
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        raise ConfigError(
            f"[reports] group = {group!r}: no such group on this machine",
            hint="create it (groupadd) or name an existing group, e.g. the finance readers'",
        ) from None
    return FileModes(mode, group, gid)
