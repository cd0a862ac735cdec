"""Canonical frames, reason codes and resource kinds shared by every stage.

Every source returns the same pandas frame for its feed, with exactly the
columns below. Timestamps are timezone-aware UTC (``datetime64[us, UTC]``),
text is pandas' nullable ``string`` dtype (stored in Arrow: pyarrow is a
dependency; :func:`text` builds it), flags are nullable ``boolean``;
missing is ``pd.NA``/``NaT``, never a sentinel. Join keys (departments,
UPNs, mails, device names, employee ids) are compared in Unicode NFC,
case-folded and stripped (:func:`fold_key`, :func:`norm_key`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from enum import StrEnum
from typing import Any, Final

import numpy as np
import pandas as pd
from pandas.arrays import ArrowStringArray

STRING: Final = "string"
DATETIME: Final = "datetime64[us, UTC]"
BOOLEAN: Final = "boolean"
INT: Final = "int64"

Schema = dict[str, str]


class ResourceKind(StrEnum):
    """What a finding is about: a licence held by an account, or a phone."""

    LICENSE = "license"
    PHONE = "phone"


class Reason(StrEnum):
    """Why a resource is dormant (DESIGN.md, "Findings and reason codes")."""

    SEPARATED = "SEPARATED"
    INACTIVE = "INACTIVE"
    NEVER_SIGNED_IN = "NEVER_SIGNED_IN"
    DISABLED_LICENSED = "DISABLED_LICENSED"
    PHONE_UNREGISTERED = "PHONE_UNREGISTERED"
    PHONE_OWNER_DORMANT = "PHONE_OWNER_DORMANT"
    PHONE_NO_OWNER = "PHONE_NO_OWNER"


REASON_ORDER: Final[tuple[Reason, ...]] = tuple(Reason)

#: Plain words for each reason, as a focal point reads them.
REASON_TEXT: Final[dict[Reason, str]] = {
    Reason.SEPARATED: "owner has left the organization",
    Reason.INACTIVE: "no sign-in for longer than the inactivity limit",
    Reason.NEVER_SIGNED_IN: "never signed in",
    Reason.DISABLED_LICENSED: "account disabled but still licensed",
    Reason.PHONE_UNREGISTERED: "phone not registered for longer than the limit",
    Reason.PHONE_OWNER_DORMANT: "phone's owner account is dormant",
    Reason.PHONE_NO_OWNER: "phone has no owner",
}


class FindingStatus(StrEnum):
    """A finding's status across runs."""

    NEW = "new"
    NOTIFIED = "notified"
    KEPT = "kept"
    REMOVED = "removed"


#: Department given to findings that no department owns (routed to the unassigned queue).
UNASSIGNED: Final = "(unassigned)"

ACCOUNTS: Final[Schema] = {
    "account_id": STRING,
    "upn": STRING,
    "mail": STRING,
    "employee_id": STRING,
    "display_name": STRING,
    "department": STRING,
    "account_enabled": BOOLEAN,
    "user_type": STRING,
    "created_at": DATETIME,
    "last_interactive_at": DATETIME,
    "last_noninteractive_at": DATETIME,
    "last_successful_at": DATETIME,
}

ACCOUNT_LICENSES: Final[Schema] = {
    "account_id": STRING,
    "sku_id": STRING,
    "sku_part_number": STRING,
}

PHONES: Final[Schema] = {
    "device_name": STRING,
    "description": STRING,
    "model": STRING,
    "device_pool": STRING,
    "owner_user_id": STRING,
    "directory_number": STRING,
    "registration_status": STRING,
    "status_changed_at": DATETIME,
    "last_seen_at": DATETIME,
    #: The call-manager cluster the phone is configured on (NA for a file inventory).
    "cluster": STRING,
}

SEPARATIONS: Final[Schema] = {
    "employee_id": STRING,
    "email": STRING,
    "name": STRING,
    "department": STRING,
    "separation_date": DATETIME,
    "reason": STRING,
    "hired_on": DATETIME,  # optional: a (re)hire on or after the separation means not a leaver
}

FOCAL_POINTS: Final[Schema] = {
    "department": STRING,
    "email": STRING,
    "name": STRING,
    "cc": STRING,
    "language": STRING,
    "delegates": STRING,
}

EXEMPTIONS: Final[Schema] = {
    "subject": STRING,
    "reason": STRING,
    "approved_by": STRING,
    "expires_on": DATETIME,
}

#: The rate card, one row per item and period. ``matches`` is the ';'-separated
#: SKU part numbers (licences) or phone models, or "*" for every resource of the
#: kind that no other item matches; compared case-folded. ``effective_to`` is the
#: last day the rate applies (inclusive); NaT means open-ended.
RATE_CARD: Final[Schema] = {
    "item": STRING,
    "description": STRING,
    "resource_kind": STRING,
    "matches": STRING,
    "annual_rate_cents": INT,
    "effective_from": DATETIME,
    "effective_to": DATETIME,
}

#: Findings as reconcile returns them: one row per dormant resource.
#: ``resource_id`` is the stable key across runs ("license:<account_id>:<sku_id>"
#: or "phone:<key>", :func:`phone_keys`: the device name case-folded, cluster-qualified
#: for named clusters); ``subject`` is what a
#: person recognizes (the UPN for a licence, the device name for a phone);
#: ``reasons`` is the ';'-joined reason codes in :data:`REASON_ORDER`;
#: ``match_key`` is what the rate card matches (SKU part number or phone model).
FINDINGS: Final[Schema] = {
    "resource_id": STRING,
    "resource_kind": STRING,
    "subject": STRING,
    "account_id": STRING,
    "owner_upn": STRING,
    "display_name": STRING,
    "department": STRING,
    "reasons": STRING,
    "dormant_since": DATETIME,
    "last_activity_at": DATETIME,
    "separation_date": DATETIME,
    "match_key": STRING,
    #: A phone's call-manager cluster (NA for licences and file inventories).
    "cluster": STRING,
}

#: Costed findings: FINDINGS plus what pricing adds. Money is integer cents so
#: that every total adds up exactly; ``item`` is NA for unpriced findings.
COSTED_FINDINGS: Final[Schema] = {
    **FINDINGS,
    "days_dormant": INT,
    "item": STRING,
    "item_description": STRING,
    "annual_rate_cents": INT,
    "annual_cost_cents": INT,
    "accrued_cost_cents": INT,
    "priced": BOOLEAN,
    # Where a licence finding's licence comes from (issue 17): the licensing group's id and
    # display name when inherited, and whether it is assigned directly too. NA for phones.
    "via_group_id": STRING,
    "via_group": STRING,
    "assigned_directly": BOOLEAN,
}

#: What is paid per SKU, from ``subscribedSkus``: ``prepaidUnits`` and ``consumedUnits``.
SKU_SEATS: Final[Schema] = {
    "sku_id": STRING,
    "sku_part_number": STRING,
    "enabled": INT,
    "warning": INT,
    "suspended": INT,
    "locked_out": INT,
    "consumed": INT,
}

#: The organization's subscriptions, from ``GET /directory/subscriptions``.
SUBSCRIPTIONS: Final[Schema] = {
    "subscription_id": STRING,
    "sku_id": STRING,
    "sku_part_number": STRING,
    "total_licenses": INT,
    "status": STRING,
    "is_trial": BOOLEAN,
    "next_lifecycle_at": DATETIME,
    "created_at": DATETIME,
}

#: How each account holds each licence, from the users' ``licenseAssignmentStates``:
#: ``assigned_by_group`` is NA for a direct assignment; ``group_name`` the group's
#: display name when it was resolved.
LICENSE_STATES: Final[Schema] = {
    "account_id": STRING,
    "sku_id": STRING,
    "assigned_by_group": STRING,
    "group_name": STRING,
    "state": STRING,
    "error": STRING,
}


def empty(schema: Schema) -> pd.DataFrame:
    """An empty frame with the schema's columns and dtypes."""
    return pd.DataFrame({col: pd.Series(dtype=dtype) for col, dtype in schema.items()})


def conform(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Return ``frame`` with exactly the schema's columns, in order, cast to its dtypes.

    Missing columns are added as all-NA, except integer columns (counts, money),
    which raise ``ValueError``. Raises ``ValueError``/``TypeError`` from pandas
    if a value cannot be cast, which adapters must prevent by parsing first.
    """
    out = pd.DataFrame(index=frame.index)
    for col, dtype in schema.items():
        if col in frame.columns:
            series = frame[col]
            if dtype == DATETIME:
                series = pd.to_datetime(series, utc=True).astype(DATETIME)
            elif dtype == STRING:
                series = text(series)
            else:
                series = series.astype(pd.api.types.pandas_dtype(dtype))
            out[col] = series
        elif dtype == INT:
            # Counts and money have no "missing": the caller must supply them.
            raise ValueError(f"column {col!r} ({dtype}) is required")
        else:
            out[col] = pd.Series(pd.NA, index=frame.index, dtype=dtype)
    return out.reset_index(drop=True)


def fold_key(text: str) -> str:
    """``text`` as a join key: NFC, case-folded, NFC again (folding can decompose), stripped.

    The one key normalisation of the job: "Le\u0301gal" (decomposed), "LÉGAL"
    and " légal " are one key. Every comparison of departments, UPNs, mails,
    device names and employee ids goes through here.
    """
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold()).strip()


def text(values: object, index: pd.Index | None = None) -> pd.Series:
    """``values`` (a sequence or a series) as a :data:`STRING` series.

    With pyarrow the text is stored in Arrow, which holds UTF-8 only. A value
    it cannot hold, a lone surrogate (``"\\ud800"`` is valid JSON), keeps the
    column in Python storage until :mod:`licensewatch.rules.neutralise`
    rewrites it: dirty directory text must not stop a night.
    """
    if isinstance(values, set | frozenset):  # pandas takes no set: in no particular order
        values = list(values)
    built = _arrow_text(values, index)
    if built is not None:
        return built
    try:
        return pd.Series(values, index=index, dtype=STRING)
    except UnicodeEncodeError:
        return pd.Series(values, index=index, dtype=_PYTHON_TEXT)


def stripped_text(values: list[Any]) -> pd.Series:
    """:func:`text` of ``values`` with every string stripped (``str.strip``) and blanks missing.

    What the pulls make of a feed's text fields: stripped by Arrow
    (:func:`licensewatch.arrow_text.stripped`) where Arrow holds the text; anything
    else (a number, a lone surrogate) is stripped by Python as it always was.
    """
    if _ARROW_TEXT is not None:
        from licensewatch import arrow_text

        array = arrow_text.stripped(values)
        if array is not None:
            return pd.Series(ArrowStringArray(array), dtype=STRING)
    return text([(v.strip() or None) if isinstance(v, str) else v for v in values])


def _arrow_text(values: object, index: pd.Index | None) -> pd.Series | None:
    """A list or object column of text and missing values, made Arrow text by Arrow itself.

    pandas checks and converts every value in Python first (0.27 s for a
    million, against 0.08 s): the pulls' columns are built this way. None when
    pyarrow is absent or a value is not text (a number, a lone surrogate):
    pandas then converts as it always has, to the same values.
    """
    if isinstance(values, pd.Series):
        if values.dtype != object or index is not None:
            return None
        items: object = values.to_numpy()
        index = values.index
    elif isinstance(values, list):
        items = values
    else:
        return None
    if _ARROW_TEXT is None:
        return None
    pa = _ARROW_TEXT
    try:
        array = pa.array(items, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError, UnicodeEncodeError):
        return None
    return pd.Series(ArrowStringArray(array), index=index, dtype=STRING)


def _pyarrow_for_text() -> Any:
    """pyarrow, when the :data:`STRING` dtype stores its text in Arrow; else None."""
    if pd.StringDtype().storage != "pyarrow":
        return None
    import pyarrow

    return pyarrow


_ARROW_TEXT: Final = _pyarrow_for_text()

#: Text in Python objects: what a column with a lone surrogate is kept in (:func:`text`).
_PYTHON_TEXT: Final = pd.StringDtype("python")


def _fold_or_none(text: str) -> str | None:
    return fold_key(text) or None


def isin(values: pd.Series, among: pd.Series | Collection[str]) -> np.ndarray:
    """Where the text of ``values`` is exactly one of ``among``'s (NA never is), as booleans.

    A hash join in Arrow when both are stored there (:func:`licensewatch.arrow_text.is_in`).
    """
    left, right = text(values).array, text(among).dropna().array
    if isinstance(left, ArrowStringArray) and isinstance(right, ArrowStringArray):
        from licensewatch import arrow_text

        return arrow_text.is_in(left, right)
    # Either side in Python storage: compare the objects (pandas' hash table).
    objects = np.asarray(right, dtype=object)
    return np.asarray(pd.Series(np.asarray(left, dtype=object), dtype=object).isin(objects), bool)


#: Values folded at a time by :func:`norm_key`: two million ids are not all Python strings
#: at once (folded in one piece, the ids of the 1M night's pull held about 400 MB).
FOLD_CHUNK: Final = 100_000


def norm_key(series: pd.Series) -> pd.Series:
    """:func:`fold_key` of every value; missing and empty strings become NA."""
    values = text(series)
    by_arrow = _arrow_fold(values)
    if by_arrow is not None:
        return text(by_arrow, series.index)
    parts = []
    for start in range(0, len(values), FOLD_CHUNK):
        chunk = values.iloc[start : start + FOLD_CHUNK].tolist()
        parts.append(text([_fold_or_none(v) if isinstance(v, str) else None for v in chunk]))
    if len(parts) == 1:
        return text(parts[0].array, series.index)
    if any(part.dtype != values.dtype for part in parts):  # a lone surrogate: see text()
        parts = [part.astype(_PYTHON_TEXT) for part in parts]
    folded = pd.concat(parts, ignore_index=True) if parts else text([])
    return text(folded.array, series.index)


def _arrow_fold(values: pd.Series) -> ArrowStringArray | None:
    """:func:`norm_key` of text stored in Arrow (:func:`licensewatch.arrow_text.folded`).

    None when the text is in Python storage (a lone surrogate).
    """
    if not isinstance(values.array, ArrowStringArray) or _ARROW_TEXT is None:
        return None
    from licensewatch import arrow_text

    return ArrowStringArray(arrow_text.folded(values.array, fold_key))


#: The cluster of the single-cluster ``[sources.phones]`` form: its phones keep bare keys.
DEFAULT_CLUSTER: Final = "default"


def phone_keys(phones: pd.DataFrame) -> pd.Series:
    """Each phone's key across runs: its device name case-folded (:func:`norm_key`).

    A device name is unique within one call-manager cluster only, so a phone of
    a named cluster other than :data:`DEFAULT_CLUSTER` is keyed
    ``<cluster>/<device name>`` (CUCM device names hold no ``/``). Phones of the
    default cluster and of file inventories keep the bare name, so a single
    cluster's history, findings and decisions carry over unchanged.
    """
    names = norm_key(phones["device_name"])
    if "cluster" not in phones.columns:
        return names
    cluster = norm_key(phones["cluster"])
    named = (cluster.notna() & cluster.ne(DEFAULT_CLUSTER)).fillna(False).to_numpy(bool)
    if not named.any():
        return names
    keys = names.copy()
    keys[named] = cluster[named] + "/" + names[named]
    return keys.astype(STRING)


def money(cents: int) -> str:
    """Integer cents as a decimal string with two places ("1234.50")."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(int(cents)), 100)
    return f"{sign}{whole}.{frac:02d}"
