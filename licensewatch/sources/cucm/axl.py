"""The phone inventory and owners from Cisco Unified CM's AXL API.

Two ways to read it. ``executeSQLQuery`` (preferred) joins ``device`` with its
owner (``enduser`` via ``device.fkenduser``), model, device pool, primary line
and ``registrationdynamic.lastseen`` (epoch seconds as a string, ``'0'`` =
never) in one query. AXL refuses answers over its size limit with the fault
"Query request too large. Total rows matched: N rows. Suggestive Row Fetch:
less than M rows"; the query is then split with ``SKIP``/``FIRST`` into pages
under M rows (ordered by device name, so pages do not overlap). ``listPhone``
pages with ``skip``/``first`` and gives no last-seen date; it is used when
asked for, or when the AXL user may not run SQL.

Only the top element of an AXL request is namespaced, and the version in the
namespace must match the one in ``SOAPAction``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final, NamedTuple
from xml.etree.ElementTree import Element

from licensewatch.ahead import Ahead
from licensewatch.errors import SourceAuthError, SourceError
from licensewatch.logs import get_logger
from licensewatch.sources.cucm.soap import (
    SoapClient,
    SoapFault,
    SoapFaultError,
    child,
    children,
    descendant,
    envelope,
    stripped,
    tag,
    text_of,
)

log = get_logger(__name__)

AXL_NS = "http://www.cisco.com/AXL/API/{version}"
LIST_PHONE_TAGS = ("name", "description", "product", "model", "devicePoolName", "ownerUserName")

#: tkclass 1 = phones. Ordered by name so that SKIP/FIRST pages never overlap.
#: Column names as in the CUCM data dictionary (device, typemodel, devicepool,
#: enduser, registrationdynamic, devicenumplanmap, numplan).
PHONE_SQL = (
    "select {paging}d.name as name, d.description as description, tm.name as model, "
    "dp.name as devicepool, eu.userid as owner, n.dnorpattern as dnorpattern, "
    "rd.lastseen as lastseen "
    "from device as d "
    "inner join typemodel as tm on tm.enum = d.tkmodel "
    "left outer join devicepool as dp on dp.pkid = d.fkdevicepool "
    "left outer join enduser as eu on eu.pkid = d.fkenduser "
    "left outer join registrationdynamic as rd on rd.fkdevice = d.pkid "
    "left outer join devicenumplanmap as dnpm "
    "on dnpm.fkdevice = d.pkid and dnpm.numplanindex = 1 "
    "left outer join numplan as n on n.pkid = dnpm.fknumplan "
    "where d.tkclass = 1 order by d.name"
)

_TOO_LARGE = re.compile(r"query request too large", re.IGNORECASE)
_TOTAL = re.compile(r"total rows matched:\s*(\d+)", re.IGNORECASE)
_SUGGEST = re.compile(r"suggestive row fetch:\s*less than\s*(\d+)", re.IGNORECASE)
_DENIED = re.compile(r"not authori[sz]ed|permission|access denied|not allowed", re.IGNORECASE)
_BUSY = re.compile(r"maximum axl memory allocation consumed", re.IGNORECASE)


class InventoryPhone(NamedTuple):
    """One phone as AXL describes it. ``last_seen_epoch`` is None when never seen (or unknown).

    A named tuple, not a frozen dataclass: a 1M night makes 929,600 of them, and a frozen
    dataclass sets each field through ``object.__setattr__`` (1.0 µs a phone against 0.3).
    """

    name: str
    description: str | None
    model: str | None
    device_pool: str | None
    owner: str | None
    directory_number: str | None
    last_seen_epoch: int | None


@dataclass(frozen=True)
class TooLarge:
    """What the "Query request too large" fault says about the query."""

    total_rows: int | None
    fetch_below: int | None


def too_large(fault: SoapFault) -> TooLarge | None:
    """The row counts of a "Query request too large" fault, or None for any other fault."""
    text = f"{fault.message} {fault.axl_message or ''}"
    if not _TOO_LARGE.search(text):
        return None
    total, below = _TOTAL.search(text), _SUGGEST.search(text)
    return TooLarge(
        total_rows=int(total.group(1)) if total else None,
        fetch_below=int(below.group(1)) if below else None,
    )


def is_denied(fault: SoapFault) -> bool:
    """Whether a fault says the AXL user may not run this request."""
    return bool(_DENIED.search(f"{fault.message} {fault.axl_message or ''}"))


def busy_wait(fault: SoapFault) -> float | None:
    """AXL's "Maximum AXL Memory Allocation Consumed" is transient: wait 5 s and retry."""
    return 5.0 if _BUSY.search(fault.text) else None


def phone_sql(skip: int | None = None, first: int | None = None) -> str:
    """The inventory query, whole or one ``SKIP``/``FIRST`` page of it."""
    paging = ""
    if skip is not None and first is not None:
        paging = f"skip {int(skip)} first {int(first)} "
    return PHONE_SQL.format(paging=paging)


def sql_request(version: str, sql: str) -> bytes:
    """An ``executeSQLQuery`` envelope for AXL ``version``."""
    return envelope(
        f"<ns:executeSQLQuery>{tag('sql', sql)}</ns:executeSQLQuery>",
        {"ns": AXL_NS.format(version=version)},
    )


def list_phone_request(version: str, skip: int, first: int) -> bytes:
    """A ``listPhone`` envelope for every phone (name ``%``), one page."""
    returned = "".join(tag(name) for name in LIST_PHONE_TAGS)
    return envelope(
        "<ns:listPhone>"
        f"<searchCriteria>{tag('name', '%')}</searchCriteria>"
        f"<returnedTags>{returned}</returnedTags>"
        f"{tag('skip', skip)}{tag('first', first)}"
        "</ns:listPhone>",
        {"ns": AXL_NS.format(version=version)},
    )


def soap_action(version: str, operation: str) -> str:
    """AXL's SOAPAction: ``CUCM:DB ver=12.5 listPhone``."""
    return f"CUCM:DB ver={version} {operation}"


#: The response element whose ``return`` lists each kind of row.
_RESPONSES: Final = {"row": "executeSQLQueryResponse", "phone": "listPhoneResponse"}


def _return_element(root: Element, response: str) -> Element | None:
    answer = descendant(root, response)
    if answer is None:
        raise SourceError(f"AXL answer has no <{response}> element")
    return child(answer, "return")


def _epoch(value: str | None, device: str) -> int | None:
    if value is None:
        return None
    if not value.isdigit():
        raise SourceError(f"AXL gave device {device} a lastseen of {value!r}, not epoch seconds")
    seconds = int(value)
    return seconds if seconds > 0 else None


#: A row's element tag -> its column's name (local part, lower case): a page repeats the same
#: seven tags some 17,000 times (3.3 -> 2.2 us a row). Bounded: tags come from the network.
_COLUMNS: dict[str, str] = {}
_MAX_COLUMNS: Final = 1024


def _column(tag: str) -> str:
    name = tag.rsplit("}", 1)[-1].lower()
    if len(_COLUMNS) < _MAX_COLUMNS:
        _COLUMNS[tag] = name
    return name


def _rows_in(root: Element, row: str) -> int:
    """How many ``row`` elements an answer's ``return`` holds (counted, not read).

    An answer without its response element raises here, before a next page is asked for.
    """
    ret = _return_element(root, _RESPONSES[row])
    if ret is None:
        return 0
    rows: Iterator[Element] = ret.iterchildren(f"{{*}}{row}")  # type: ignore[attr-defined]
    return sum(1 for _ in rows)


def parse_sql_rows(root: Element) -> list[InventoryPhone]:
    """The phones in an ``executeSQLQueryResponse`` (``return/row`` elements)."""
    ret = _return_element(root, "executeSQLQueryResponse")
    phones: list[InventoryPhone] = []
    rows = ret.iterchildren("{*}row") if ret is not None else ()  # type: ignore[attr-defined]
    known = _COLUMNS.get
    for row in rows:
        # One pass over the row's columns (a page holds ~17,000 rows); as text_of: stripped,
        # empty as None; the last of a name wins.
        cols = {known(c.tag) or _column(c.tag): c.text for c in row}
        get = cols.get
        name = stripped(get("name"))
        if name is None:
            raise SourceError("AXL executeSQLQuery returned a row without a device name")
        phones.append(
            InventoryPhone(
                name,
                stripped(get("description")),
                stripped(get("model")),
                stripped(get("devicepool")),
                stripped(get("owner")),
                stripped(get("dnorpattern")),
                _epoch(stripped(get("lastseen")), name),
            )
        )
    return phones


def parse_list_phone(root: Element) -> list[InventoryPhone]:
    """The phones in a ``listPhoneResponse`` (``return/phone`` elements)."""
    ret = _return_element(root, "listPhoneResponse")
    phones: list[InventoryPhone] = []
    for phone in children(ret, "phone") if ret is not None else ():
        name = text_of(phone, "name")
        if name is None:
            raise SourceError("AXL listPhone returned a phone without a name")
        phones.append(
            InventoryPhone(
                name=name,
                description=text_of(phone, "description"),
                model=text_of(phone, "model") or text_of(phone, "product"),
                device_pool=text_of(phone, "devicePoolName"),
                owner=text_of(phone, "ownerUserName"),
                directory_number=None,
                last_seen_epoch=None,
            )
        )
    return phones


@dataclass(frozen=True)
class Inventory:
    """The phones read and how (``"sql"`` or ``"listphone"``), with notes for the operator."""

    phones: list[InventoryPhone]
    method: str
    notes: tuple[str, ...] = ()


def _smaller(page: int, hint: TooLarge) -> int:
    """A page size under AXL's suggestion, and always smaller than the one refused."""
    if hint.fetch_below is None:
        return max(1, page // 2)
    return max(1, min(page - 1, hint.fetch_below - 1))


class AxlInventory:
    """Reads every phone through one :class:`SoapClient` pointed at AXL."""

    def __init__(
        self,
        client: SoapClient,
        version: str,
        *,
        page_size: int = 1000,
        on_rows: Callable[[int], None] | None = None,
    ) -> None:
        self._client = client
        self._version = version
        self._page_size = page_size
        self._on_rows = on_rows or (lambda n: None)

    def read(self, method: str) -> Inventory:
        """Read the inventory by ``"sql"`` (listPhone if SQL is refused) or ``"listphone"``."""
        if method == "listphone":
            return Inventory(self.list_phones(), "listphone")
        try:
            return Inventory(self.sql_phones(), "sql")
        except SourceAuthError as exc:
            reason = exc.message
        except SoapFaultError as exc:
            if not is_denied(exc.fault):
                raise
            reason = exc.fault.text
        note = (
            f"CUCM: executeSQLQuery refused ({reason}); read the inventory with listPhone "
            "instead, so last-seen dates come only from RisPort and the registration history"
        )
        log.warning("%s", note)
        return Inventory(self.list_phones(), "listphone", (note,))

    def sql_phones(self) -> list[InventoryPhone]:
        """All phones by SQL: one query, split into SKIP/FIRST pages if AXL says it is too large."""
        try:
            rows = parse_sql_rows(self._ask_sql(None, None))
        except SoapFaultError as exc:
            hint = too_large(exc.fault)
            if hint is None:
                raise
        else:
            self._on_rows(len(rows))
            return rows
        page = _smaller(hint.total_rows or self._page_size * 2, hint)
        log.info("AXL: query too large (%s rows); reading %d at a time", hint.total_rows, page)
        return self._paged(self._ask_sql, "row", parse_sql_rows, page)

    def list_phones(self) -> list[InventoryPhone]:
        """All phones by ``listPhone``, ``skip``/``first`` pages until a short page."""
        return self._paged(self._ask_list_phone, "phone", parse_list_phone, self._page_size)

    def _ask_sql(self, skip: int | None, first: int | None) -> Element:
        request: dict[str, object] = (
            {"sql": "whole"} if skip is None else {"sql": "page", "skip": skip, "first": first}
        )
        return self._client.call(
            "executeSQLQuery",
            sql_request(self._version, phone_sql(skip, first)),
            soap_action=soap_action(self._version, "executeSQLQuery"),
            request=request,
        )

    def _ask_list_phone(self, skip: int, first: int) -> Element:
        return self._client.call(
            "listPhone",
            list_phone_request(self._version, skip, first),
            soap_action=soap_action(self._version, "listPhone"),
            request={"skip": skip, "first": first},
        )

    def _paged(
        self,
        ask: Callable[[int, int], Element],
        row: str,
        read: Callable[[Element], list[InventoryPhone]],
        page: int,
    ) -> list[InventoryPhone]:
        """Every phone, ``page`` at a time from the first until a short page.

        The next page is asked for (in a worker thread) as soon as this one is
        known to be full, while this one's rows are read: the call manager
        answers it while we read, instead of after (issue 18). One request is
        in flight at a time, in the same order as one after the other; a page
        that fails to read has its successor asked for already, and the pull
        stops once that answer is in. An answer "too large" makes the page
        smaller (AXL's suggestion) and asks for the same rows again.
        """
        phones: list[InventoryPhone] = []
        with Ahead("axl-next-page") as ahead:
            pending = ahead.submit(ask, 0, page)
            while True:
                try:
                    root = pending.result()
                except SoapFaultError as exc:
                    hint = too_large(exc.fault)
                    if hint is None or page == 1:
                        raise
                    page = _smaller(page, hint)
                    pending = ahead.submit(ask, len(phones), page)
                    continue
                listed = _rows_in(root, row)
                if listed >= page:
                    pending = ahead.submit(ask, len(phones) + listed, page)
                rows = read(root)
                self._on_rows(len(rows))
                phones.extend(rows)
                if listed < page:
                    return phones
