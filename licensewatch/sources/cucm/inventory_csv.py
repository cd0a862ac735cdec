"""Kind ``csv`` for ``[sources.phones]``: a phone inventory exported to CSV.

Columns: ``device_name, description, model, device_pool, owner_user_id,
directory_number, registration_status, status_changed_at`` and optionally
``last_seen_at``. Required: ``device_name, model, owner_user_id,
registration_status, status_changed_at``; an empty ``owner_user_id`` means the
phone has no owner.
"""

from __future__ import annotations

import re
from typing import ClassVar, Final

import pandas as pd

from licensewatch import model
from licensewatch.config import SourceSettings
from licensewatch.errors import ConfigError
from licensewatch.sources.interface import PhonesPull, PhonesSource
from licensewatch.sources.options import source_path
from licensewatch.sources.tabular.table import ProblemLog, check_options, read_table, table_options

OWNER_MATCHES: Final = ("upn", "upn_local_part", "mail", "employee_id")

REGISTERED: Final = "registered"
UNREGISTERED: Final = "unregistered"
REJECTED: Final = "rejected"
PARTIALLY_REGISTERED: Final = "partially_registered"
UNKNOWN: Final = "unknown"

#: Vendor spellings (case-folded, without spaces, '_' or '-') → canonical status.
#: AXL writes "Unregistered", RisPort "UnRegistered"; RisPort's "None" means it knows nothing.
STATUSES: Final[dict[str, str]] = {
    "registered": REGISTERED,
    "unregistered": UNREGISTERED,
    "rejected": REJECTED,
    "partiallyregistered": PARTIALLY_REGISTERED,
    "unknown": UNKNOWN,
    "none": UNKNOWN,
}
_VALID = "Registered, UnRegistered, Rejected, PartiallyRegistered, Unknown, None"
#: Statuses in which the phone is talking to the call manager right now.
_IN_CONTACT: Final = (REGISTERED, PARTIALLY_REGISTERED)
_REQUIRED: Final = (
    "device_name",
    "model",
    "owner_user_id",
    "registration_status",
    "status_changed_at",
)
_OPTIONAL: Final = ("description", "device_pool", "directory_number", "last_seen_at")


def canonical_status(values: pd.Series) -> pd.Series:
    """Vendor registration statuses → canonical values (NA where unrecognised)."""
    # An inventory holds a handful of distinct spellings: map those, not every row.
    spellings = {
        v: STATUSES.get(re.sub(r"[\s_-]", "", v.casefold())) for v in values.dropna().unique()
    }
    return values.map(spellings).astype(model.STRING)


def fill_last_seen(phones: pd.DataFrame) -> pd.Series:
    """``last_seen_at`` where the export left it empty, from status and status change.

    ``last_seen_at`` is the last time the phone was seen registered. A phone
    that is registered (or partially registered) now has no earlier such time
    to report, so an empty cell stays NaT: its status already says it is live.
    For every other status the change of status is when it left the registered
    state, the latest moment it can have been seen registered, so
    ``status_changed_at`` is used.
    """
    in_contact = phones["registration_status"].isin(_IN_CONTACT).to_numpy(dtype=bool)
    fallback = phones["status_changed_at"].mask(in_contact)
    return phones["last_seen_at"].fillna(fallback)


_STRING_KEYS: Final = ("path", "owner_match", "encoding", "delimiter", "date_format")
_EXPECTED: Final = "a CSV file with the header row: " + ", ".join(_REQUIRED)


class PhonesCsvSource(PhonesSource):
    """Phones from a CSV inventory export.

    Options: ``path`` (required); ``owner_match`` (how ``owner_user_id`` finds
    its account: upn, upn_local_part, mail or employee_id; default "upn"; used
    by reconcile, only validated here); ``encoding`` ("auto": UTF-8 or UTF-16
    by byte-order mark, else UTF-8; or a code page such as "cp1252");
    ``delimiter`` ("auto": sniffed among , ; and tab); ``date_format`` ("iso",
    "day-first" or "month-first"); ``columns`` (header renames).
    """

    KEYS: ClassVar[tuple[str, ...]] = (*_STRING_KEYS, "columns")

    def __init__(self, settings: SourceSettings) -> None:
        options = check_options(
            settings,
            _STRING_KEYS,
            {"owner_match": "upn", "encoding": "auto", "delimiter": "auto", "date_format": "iso"},
            other=("columns",),
        )
        if options["owner_match"] not in OWNER_MATCHES:
            raise ConfigError(
                f"[sources.{settings.feed}] owner_match must be one of "
                f"{', '.join(OWNER_MATCHES)}, not {options['owner_match']!r}"
            )
        self.settings = settings
        self.path = settings.path()
        self.owner_match = options["owner_match"]
        self.options = table_options(settings, options, (*_REQUIRED, *_OPTIONAL))

    def check(self) -> None:
        """Read and validate the file (it is small enough to check in full)."""
        self.pull()

    def pull(self) -> PhonesPull:
        """Read the inventory; bad rows raise ``InputError`` naming file, row and column."""
        source_path(self.settings, expected=f"expected {_EXPECTED}")
        log = ProblemLog(str(self.path))
        table = read_table(
            self.path,
            required=_REQUIRED,
            optional=_OPTIONAL,
            timestamps=("status_changed_at", "last_seen_at"),
            nonempty=("device_name", "registration_status"),
            unique="device_name",
            options=self.options,
            problems=log,
        )
        raw_status = table["registration_status"]
        table["registration_status"] = canonical_status(raw_status)
        unrecognised = raw_status.notna() & table["registration_status"].isna()
        log.add_rows(
            unrecognised,
            "registration_status",
            lambda row: f"{raw_status[row]!r} is not a registration status; valid: {_VALID}",
        )
        table["last_seen_at"] = fill_last_seen(table)
        log.raise_if_any()
        return PhonesPull(model.conform(table, model.PHONES))
