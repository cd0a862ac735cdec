"""Current phone registration from Cisco Unified CM's RisPort70 ``selectCmDeviceExt``.

Phones are asked for by name, at most 1,000 a request. RisPort allows few
requests a minute (15 by default, server-wide): a client-side sliding-window
:class:`RateLimiter` keeps under it, and the ``Server.RateControl`` SOAP fault
("Exceeded allowed rate …", sent instead of HTTP 429) is answered by waiting a
full minute and asking again. Each request carries the ``StateInfo`` of the
previous answer; a node answering ``NoChange`` to a carried ``StateInfo`` is
asked again with an empty one, so that no answer is ever "same as before".

Each node (``CmNodes/item``) answers for itself. ``CmNodes`` may be
``xsi:nil`` (no node knows any of the phones). A node whose ``ReturnCode`` is
``NotFound`` has none of them; any code other than ``Ok``/``NotFound`` is a
failed node: its batch is asked again (up to ``max_retries``), and if it still
fails, the pull fails unless every phone of the batch was reported
``Registered`` by a node that answered — a phone registered on one node is
registered, whatever the failed node would have said; any other phone might
be registered on the failed node, so calling it unregistered would be a guess.
A device listed under several nodes keeps its newest ``TimeStamp``.
"""

from __future__ import annotations

import functools
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from licensewatch.errors import SourceError
from licensewatch.logs import get_logger
from licensewatch.sources.cucm.inventory_csv import STATUSES
from licensewatch.sources.cucm.soap import (
    SoapClient,
    SoapFault,
    child,
    children,
    descendant,
    envelope,
    is_nil,
    stripped,
    tag,
    text_of,
)

log = get_logger(__name__)

RIS_NS = "http://schemas.cisco.com/ast/soap"
SOAP_ACTION = "selectCmDeviceExt"
MAX_BATCH = 1000
WINDOW_S = 60.0
#: Added to every wait of the limiter: requests reach the server a little after we send them.
MARGIN_S = 1.0
RATE_CONTROL_WAIT_S = 60.0
OK_CODES = frozenset({"ok", "notfound"})
IN_USE = frozenset({"registered", "partially_registered"})
#: The fields of a CmDevices item that are read, in any namespace (lxml's ``{*}``).
_DEVICE_FIELDS = ("{*}Name", "{*}Status", "{*}TimeStamp")
_RANK = {"registered": 0, "partially_registered": 1, "rejected": 2, "unregistered": 3}


class RateLimiter:
    """At most ``per_minute`` acquisitions in any 60-second window; waits with ``sleep``.

    A sliding window allows the first ``per_minute`` requests at once, then one
    more each time the oldest of the window is 60 s (plus a 1 s margin) old.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self.waited_s = 0.0
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()

    def acquire(self) -> None:
        """Return when one more request keeps the window under the limit (sleeping if needed)."""
        now = self._clock()
        while True:
            while self._sent and now - self._sent[0] >= WINDOW_S:
                self._sent.popleft()
            if len(self._sent) < self.per_minute:
                self._sent.append(now)
                return
            wait = WINDOW_S + MARGIN_S - (now - self._sent[0])
            self.waited_s += wait
            self._sleep(wait)
            now = max(self._clock(), self._sent[0] + WINDOW_S + MARGIN_S)


class RateControl:
    """``fault_wait`` for RisPort: wait a minute on ``Server.RateControl``; counts the faults."""

    def __init__(self) -> None:
        self.faults = 0

    def __call__(self, fault: SoapFault) -> float | None:
        """Seconds to wait before asking again, or None when the fault is not rate control."""
        if "ratecontrol" in fault.code.lower() or "exceeded allowed rate" in fault.text.lower():
            self.faults += 1
            return RATE_CONTROL_WAIT_S
        return None


class RisDevice(NamedTuple):
    """One device as one node reports it (``timestamp``: epoch seconds of the last change).

    A named tuple for the reason :class:`~licensewatch.sources.cucm.axl.InventoryPhone` is.
    """

    name: str
    status: str
    timestamp: int | None
    node: str


@dataclass(frozen=True)
class NodeAnswer:
    """One ``CmNodes/item``: a node's return code and the devices it lists."""

    name: str
    return_code: str
    no_change: bool
    devices: tuple[RisDevice, ...]

    @property
    def ok(self) -> bool:
        """Whether the node answered (``Ok``, or ``NotFound``: none of the phones are there)."""
        return self.return_code.lower() in OK_CODES


@dataclass(frozen=True)
class RisAnswer:
    """One ``selectCmDeviceReturn``."""

    total_found: int | None
    state_info: str
    nodes: tuple[NodeAnswer, ...]

    @property
    def entries(self) -> int:
        """How many device entries the answer lists, over all nodes."""
        return sum(len(n.devices) for n in self.nodes)


def select_request(names: Sequence[str], state_info: str = "") -> bytes:
    """A ``selectCmDeviceExt`` envelope asking for ``names`` (phones, any model and status)."""
    items = "".join(f"<soap:item>{tag('soap:Item', n)}</soap:item>" for n in names)
    criteria = (
        f"{tag('soap:MaxReturnedDevices', MAX_BATCH)}{tag('soap:DeviceClass', 'Phone')}"
        f"{tag('soap:Model', 255)}{tag('soap:Status', 'Any')}<soap:NodeName></soap:NodeName>"
        f"{tag('soap:SelectBy', 'Name')}<soap:SelectItems>{items}</soap:SelectItems>"
        f"{tag('soap:Protocol', 'Any')}{tag('soap:DownloadStatus', 'Any')}"
    )
    return envelope(
        f"<soap:selectCmDeviceExt><soap:StateInfo>{escape(state_info)}</soap:StateInfo>"
        f"<soap:CmSelectionCriteria>{criteria}</soap:CmSelectionCriteria>"
        "</soap:selectCmDeviceExt>",
        {"soap": RIS_NS},
    )


@functools.lru_cache(maxsize=256)
def canonical_status(value: str | None) -> str:
    """RisPort's status spelling (``Registered``, ``UnRegistered`` …) as a canonical value.

    Remembered: a night reads a handful of spellings on a million devices.
    """
    if value is None:
        return "unknown"
    key = "".join(ch for ch in value.casefold() if ch.isalpha())
    return STATUSES.get(key, "unknown")


def _int(value: str | None, what: str, device: str | None = None) -> int | None:
    """``value`` as a whole number; ``what`` (of ``device``) names it in the error."""
    if value is None:
        return None
    if not value.isdigit():
        of = f"the {what} of {device}" if device is not None else what
        raise SourceError(f"RisPort gave {of} as {value!r}, not a whole number")
    return int(value)


def _node(item: Element) -> NodeAnswer:
    name = text_of(item, "Name") or "(unnamed node)"
    devices: list[RisDevice] = []
    listed = child(item, "CmDevices")
    listed_items = (
        listed.iterchildren("{*}item")  # type: ignore[attr-defined]
        if listed is not None and not is_nil(listed)
        else ()
    )
    for dev in listed_items:
        # Only the three fields read, picked by lxml (any namespace), in one pass (as
        # text_of: the first of a name, stripped, empty as None): a 1M night reads
        # 930,000 devices of some thirty fields each.
        fields: dict[str, str | None] = {}
        for part in dev.iterchildren(*_DEVICE_FIELDS):
            fields.setdefault(part.tag.rsplit("}", 1)[-1], part.text)
        dev_name = stripped(fields.get("Name"))
        if dev_name is None:
            continue
        stamp = _int(stripped(fields.get("TimeStamp")), "TimeStamp", dev_name)
        status = canonical_status(stripped(fields.get("Status")))
        devices.append(RisDevice(dev_name, status, stamp if stamp else None, name))
    return NodeAnswer(
        name=name,
        return_code=text_of(item, "ReturnCode") or "",
        no_change=(text_of(item, "NoChange") or "").lower() == "true",
        devices=tuple(devices),
    )


def parse_select(root: Element) -> RisAnswer:
    """The ``selectCmDeviceReturn`` of a parsed RisPort answer."""
    ret = descendant(root, "selectCmDeviceReturn")
    if ret is None:
        raise SourceError("RisPort answer has no <selectCmDeviceReturn> element")
    result = child(ret, "SelectCmDeviceResult")
    nodes = child(result, "CmNodes") if result is not None else None
    items = () if nodes is None or is_nil(nodes) else tuple(children(nodes, "item"))
    return RisAnswer(
        total_found=_int(text_of(result, "TotalDevicesFound"), "TotalDevicesFound"),
        state_info=text_of(ret, "StateInfo") or "",
        nodes=tuple(_node(item) for item in items),
    )


def _newer(a: RisDevice, b: RisDevice) -> bool:
    """Whether ``a`` should replace ``b``: newer TimeStamp; on a tie, the more in-use status."""
    ta, tb = a.timestamp or -1, b.timestamp or -1
    if ta != tb:
        return ta > tb
    return _RANK.get(a.status, 9) < _RANK.get(b.status, 9)


def merge(answers: Iterable[RisAnswer]) -> dict[str, RisDevice]:
    """Every device that answering nodes list, keyed case-folded; the newest entry wins."""
    best: dict[str, RisDevice] = {}
    for answer in answers:
        for node in answer.nodes:
            if not node.ok:
                continue
            for dev in node.devices:
                key = dev.name.strip().casefold()
                if key not in best or _newer(dev, best[key]):
                    best[key] = dev
    return best


def _registered(answers: Iterable[RisAnswer]) -> set[str]:
    """The names (case-folded) of the phones a node that answered reports ``Registered``.

    Worked out only when a node failed (a phone registered on one node is
    registered), not for every batch: 930,000 devices at 1M accounts.
    """
    return {
        d.name.casefold()
        for answer in answers
        for n in answer.nodes
        if n.ok
        for d in n.devices
        if d.status == "registered"
    }


@dataclass
class Registrations:
    """What RisPort said: every answer (merge them with :func:`merge`) and notes."""

    answers: list[RisAnswer] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class RisPortReader:
    """Asks RisPort for the registration of a list of phone names, batch by batch."""

    def __init__(
        self,
        client: SoapClient,
        *,
        batch_size: int = MAX_BATCH,
        max_retries: int = 6,
        sleep: Callable[[float], None] = time.sleep,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._client = client
        self._batch = max(1, min(batch_size, MAX_BATCH))
        self._max_retries = max_retries
        self._sleep = sleep
        self._on_batch = on_batch or (lambda n: None)
        self._state = ""

    def _ask(self, names: Sequence[str], out: Registrations) -> RisAnswer:
        root = self._client.call(
            "selectCmDeviceExt",
            select_request(names, self._state),
            soap_action=SOAP_ACTION,
            request={"names": len(names), "first": names[0], "state_info": self._state},
        )
        answer = parse_select(root)
        out.answers.append(answer)
        self._state = answer.state_info
        return answer

    def read(self, names: Sequence[str]) -> Registrations:
        """Ask for every name; raise ``SourceError`` if any answer leaves a phone undetermined."""
        out = Registrations()
        queue = deque(list(names[i : i + self._batch]) for i in range(0, len(names), self._batch))
        while queue:
            batch = queue.popleft()
            halves = self._read_batch(batch, out)
            if halves:
                queue.extendleft(reversed(halves))
            else:
                self._on_batch(len(batch))
        return out

    def _read_batch(self, batch: list[str], out: Registrations) -> list[list[str]]:
        """Ask for one batch until it is answered; returns halves if the answer was cut short."""
        answered: list[RisAnswer] = []  # this batch's answers, for the phones registered
        attempt = 0
        asked_fresh = False
        while True:
            carried = self._state
            answer = self._ask(batch, out)
            answered.append(answer)
            if carried and not asked_fresh and any(n.ok and n.no_change for n in answer.nodes):
                # NoChange compares with what a carried StateInfo described: ask afresh.
                self._state, asked_fresh = "", True
                continue
            if answer.total_found is not None and answer.entries < answer.total_found:
                if len(batch) == 1:
                    raise SourceError(f"RisPort cut short its answer for the phone {batch[0]}")
                mid = len(batch) // 2
                out.notes.append(
                    f"RisPort listed {answer.entries} of {answer.total_found} entries for "
                    f"{len(batch)} phones; asked again in two halves"
                )
                return [batch[:mid], batch[mid:]]
            failed = [n for n in answer.nodes if not n.ok]
            if not failed:
                return []
            if attempt < self._max_retries:
                attempt += 1
                self._sleep(min(2.0**attempt, 60.0))
                continue
            where = ", ".join(f"{n.name} ({n.return_code or 'no code'})" for n in failed)
            registered = _registered(answered)
            undetermined = [n for n in batch if n.casefold() not in registered]
            if undetermined:
                raise SourceError(
                    f"RisPort nodes {where} did not answer for {len(undetermined)} phones "
                    f"(e.g. {undetermined[0]}) after {attempt + 1} attempts; their registration "
                    "is unknown, so the pull is incomplete",
                    hint="check the CUCM nodes' RIS Data Collector service, then run again",
                )
            out.notes.append(
                f"RisPort nodes {where} did not answer, but every phone of that batch was "
                "registered on another node"
            )
            return []
