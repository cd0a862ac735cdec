"""Is an XLSX safe to open? Zip bombs and macro-enabled workbooks are refused unopened.

An XLSX is a zip file. Before openpyxl reads one that came by email, its
directory is checked: at most ``MAX_MEMBERS`` members, at most
``MAX_UNPACKED_BYTES`` in all once unpacked, no member unpacking to more than
``MAX_RATIO`` times its packed size (what a zip bomb does), and no VBA project
(``xl/vbaProject.bin``) or macro-enabled content type, whatever the file's name.
"""

from __future__ import annotations

import io
import zipfile
from typing import Final

MAX_MEMBERS: Final = 200
MAX_UNPACKED_BYTES: Final = 50 * 1024 * 1024
MAX_RATIO: Final = 200
_MACRO_MARKERS: Final = (b"macroEnabled", b"vbaProject")


def xlsx_problem(data: bytes) -> str:
    """Why ``data`` must not be opened as a workbook, or "" when it may."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        return "it is not an Excel workbook (.xlsx)"
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            return f"the workbook holds more than {MAX_MEMBERS} parts"
        total = 0
        for member in members:
            total += member.file_size
            if total > MAX_UNPACKED_BYTES:
                return f"the workbook unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MB"
            if (
                member.file_size > MAX_RATIO * max(member.compress_size, 1)
                and member.file_size > 2**20
            ):
                return "the workbook is compressed abnormally (a zip bomb); save it again in Excel"
            if member.filename.lower().endswith("vbaproject.bin"):
                return (
                    "the workbook contains macros; save it as .xlsx (no macros) and send it again"
                )
        try:
            types = archive.read("[Content_Types].xml")
        except KeyError:
            return "it is not an Excel workbook (.xlsx): [Content_Types].xml is missing"
        if any(marker in types for marker in _MACRO_MARKERS):
            return "the workbook is macro-enabled; save it as .xlsx (no macros) and send it again"
    return ""
