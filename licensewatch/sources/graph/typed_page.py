"""Graph users pages decoded straight into the fields the accounts pull reads (msgspec).

Parsed as JSON objects, a page of 500 users is 500 dicts, each with a dict of
sign-in activity and lists of dicts of licences and licence states, and some
25 strings a user, most of which the pull never reads: all built, then freed
once the page's columns are taken (1,035,000 users: 3.5-6 CPU s to parse with
orjson, and more to free). :func:`decode` decodes a page against the fields
read, as small untracked objects, skipping the rest (1.2-1.4 s); parse and
read together went from 17.8-22.8 to 9.1-11.8 CPU s.

Only a page whose every field read has its documented JSON type decodes:
anything else (a number where text belongs, a user that is not an object, a
lone surrogate, not JSON at all) gives None, and the page is parsed as a JSON
object and read as before, problems and all. :data:`COLUMNS` reads a decoded
page into the same columns as ``export.USER_COLUMNS`` reads a parsed one (a
test holds the two to the same keys and the same values).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any, Final

import msgspec

from licensewatch.sources.graph.user_fields import (
    SIGN_IN_FIELDS,
    SIGNAL,
    STATES_FIELD,
    TEXT_FIELDS,
    sku_id_of,
)

_TEXT: Final = (*TEXT_FIELDS, "createdDateTime")

#: signInActivity's fields read, each text or null.
SignIn = msgspec.defstruct(
    "SignIn", [(name, str | None, None) for name in SIGN_IN_FIELDS], gc=False
)


class Licence(msgspec.Struct, gc=False):
    """One ``assignedLicenses`` entry: its SKU id (text or null)."""

    skuId: str | None = None


#: A user's fields read: text or null, ``accountEnabled`` true, false or null.
User = msgspec.defstruct(
    "User",
    [
        *((name, str | None, None) for name in _TEXT),
        ("accountEnabled", bool | None, None),
        (SIGNAL, SignIn | None, None),
        ("assignedLicenses", list[Licence] | None, None),
    ],
    gc=False,
)


class Page(msgspec.Struct, gc=False):
    """A users page: its users, and its ``@odata.context`` and ``@odata.nextLink``."""

    value: list[User]  # type: ignore[valid-type]
    context: str | None = msgspec.field(name="@odata.context", default=None)
    next_link: str | None = msgspec.field(name="@odata.nextLink", default=None)


class State(msgspec.Struct, gc=False):
    """One ``licenseAssignmentStates`` entry, its fields as sent (``LicenseStates`` checks them)."""

    skuId: Any = None
    assignedByGroup: Any = None
    error: Any = None
    state: Any = None


#: A user with its licence states (the pull with ``seats = true``).
UserWithStates = msgspec.defstruct(
    "UserWithStates", [(STATES_FIELD, list[State] | None, None)], bases=(User,), gc=False
)


class PageWithStates(Page, gc=False):
    """A users page whose users carry their licence states."""

    value: list[UserWithStates]  # type: ignore[valid-type]


_DECODER: Final = msgspec.json.Decoder(Page)
_WITH_STATES: Final = msgspec.json.Decoder(PageWithStates)


def decode(data: bytes) -> Page | None:
    """The users page ``data`` decoded, or None when it is not one in the documented types."""
    try:
        return _DECODER.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def decode_with_states(data: bytes) -> PageWithStates | None:
    """As :func:`decode`, the users' ``licenseAssignmentStates`` decoded too."""
    try:
        return _WITH_STATES.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def states_of(user: Any) -> dict[str, Any]:
    """A decoded user as much of a parsed one as ``LicenseStates`` reads: id and states."""
    states = getattr(user, STATES_FIELD)
    return {
        "id": user.id,
        STATES_FIELD: None if states is None else [msgspec.structs.asdict(s) for s in states],
    }


_LICENCES: Final = attrgetter("assignedLicenses")


def _sku_ids(licences: list[Licence] | None) -> tuple[str | None, ...] | None:
    return tuple([sku_id_of(lic.skuId) for lic in licences]) if licences else None


def _sign_ins(page: Page) -> list[Any]:
    return [getattr(u, SIGNAL) for u in page.value]


def _text(name: str) -> Callable[[Page, list[Any]], list[Any]]:
    get = attrgetter(name)
    return lambda page, _: list(map(get, page.value))


def _sign_in(name: str) -> Callable[[Page, list[Any]], list[Any]]:
    get = attrgetter(name)
    return lambda _, sign_ins: [None if s is None else get(s) for s in sign_ins]


#: A decoded page's columns, as ``export.USER_COLUMNS`` reads a parsed page's: each entry
#: reads the page and its users' signInActivity (None where absent or null).
COLUMNS: Final[dict[str, Callable[[Page, list[Any]], list[Any]]]] = {
    **{name: _text(name) for name in _TEXT},
    "accountEnabled": _text("accountEnabled"),
    SIGNAL: lambda page, _: [None] * len(page.value),  # always an object, or none
    **{f"{SIGNAL}.{name}": _sign_in(name) for name in SIGN_IN_FIELDS},
    "assignedLicenses": lambda page, _: list(map(_sku_ids, map(_LICENCES, page.value))),
}


def columns(page: Page) -> dict[str, list[Any]]:
    """The page's users as columns (:data:`COLUMNS`)."""
    sign_ins = _sign_ins(page)
    return {name: read(page, sign_ins) for name, read in COLUMNS.items()}
