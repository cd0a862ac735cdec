"""Reading RisPort70 ``selectCmDeviceExt`` answers: nodes, devices and what settles a batch.

Each node (``CmNodes/item``) answers for itself. ``CmNodes`` may be
``xsi:nil`` (no node knows any of the phones). A node whose ``ReturnCode`` is
``NotFound`` has none of them; any other code than ``Ok``/``NotFound`` is a
failed node. Of each device only its name, status and ``TimeStamp`` are read;
a device listed under several nodes keeps its newest ``TimeStamp``
(:func:`merge`). An answer is read in two steps: :func:`select_head` reads
what decides the next request (return codes, ``NoChange``, the counts and
``StateInfo``), :meth:`SelectHead.answer` the devices, so that the next
request can be on its way while they are read (:mod:`.risport`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple
from xml.etree.ElementTree import Element

from licensewatch.errors import SourceError
from licensewatch.sources.cucm.inventory_csv import STATUSES
from licensewatch.sources.cucm.soap import (
    child,
    children,
    descendant,
    is_nil,
    stripped,
    text_of,
)

OK_CODES = frozenset({"ok", "notfound"})
IN_USE = frozenset({"registered", "partially_registered"})
#: The fields of a CmDevices item that are read, in any namespace (lxml's ``{*}``).
_DEVICE_FIELDS = ("{*}Name", "{*}Status", "{*}TimeStamp")
_RANK = {"registered": 0, "partially_registered": 1, "rejected": 2, "unregistered": 3}


class RisDevice(NamedTuple):
    """One device as one node reports it (``timestamp``: epoch seconds of the last change).

    A named tuple for the reason :class:`~licensewatch.sources.cucm.axl.InventoryPhone` is.
    """

    name: str
    status: str
    timestamp: int | None
    node: str


def answered(return_code: str) -> bool:
    """Whether a node's ``ReturnCode`` says it answered (``Ok``, or ``NotFound``: none there)."""
    return return_code.lower() in OK_CODES


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
        return answered(self.return_code)


@dataclass(frozen=True)
class RisAnswer:
    """One ``selectCmDeviceReturn``.

    ``entries`` counts the device entries listed over all nodes, named or not
    (an entry without a name is listed, but not read into ``devices``).
    """

    total_found: int | None
    state_info: str
    nodes: tuple[NodeAnswer, ...]
    entries: int


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


class _NodeHead(NamedTuple):
    """One ``CmNodes/item`` before its devices are read: what decides the next request."""

    name: str
    return_code: str
    no_change: bool
    items: list[Element]

    @property
    def ok(self) -> bool:
        """As :attr:`NodeAnswer.ok`."""
        return answered(self.return_code)


def _node_head(item: Element) -> _NodeHead:
    listed = child(item, "CmDevices")
    return _NodeHead(
        name=text_of(item, "Name") or "(unnamed node)",
        return_code=text_of(item, "ReturnCode") or "",
        no_change=(text_of(item, "NoChange") or "").lower() == "true",
        items=(
            list(listed.iterchildren("{*}item"))  # type: ignore[attr-defined]
            if listed is not None and not is_nil(listed)
            else []
        ),
    )


def _node(head: _NodeHead) -> NodeAnswer:
    devices: list[RisDevice] = []
    for dev in head.items:
        # Only the three fields read, picked by lxml (any namespace), in one pass (as
        # text_of: the first of a name, stripped, empty as None): a 1M night reads
        # 930,000 devices of some thirty fields each.
        fields: dict[str, str | None] = {}
        for part in dev.iterchildren(*_DEVICE_FIELDS):  # type: ignore[attr-defined]
            fields.setdefault(part.tag.rsplit("}", 1)[-1], part.text)
        dev_name = stripped(fields.get("Name"))
        if dev_name is None:
            continue
        stamp = _int(stripped(fields.get("TimeStamp")), "TimeStamp", dev_name)
        status = canonical_status(stripped(fields.get("Status")))
        devices.append(RisDevice(dev_name, status, stamp if stamp else None, head.name))
    return NodeAnswer(head.name, head.return_code, head.no_change, tuple(devices))


@dataclass(frozen=True)
class SelectHead:
    """A parsed RisPort answer before its devices are read (:meth:`answer` reads them)."""

    total_found: int | None
    state_info: str
    nodes: tuple[_NodeHead, ...]

    @property
    def entries(self) -> int:
        """Device entries listed over all nodes, named or not."""
        return sum(len(n.items) for n in self.nodes)

    @property
    def settled(self) -> bool:
        """Whether this answer ends its batch whatever its devices say.

        Every node answered, none said ``NoChange`` and nothing was cut short:
        the next request is the next batch with this ``StateInfo``.
        """
        complete = self.total_found is None or self.entries >= self.total_found
        return complete and all(n.ok and not n.no_change for n in self.nodes)

    def answer(self) -> RisAnswer:
        """The whole answer, devices read."""
        return RisAnswer(
            self.total_found, self.state_info, tuple(_node(n) for n in self.nodes), self.entries
        )


def select_head(root: Element) -> SelectHead:
    """The ``selectCmDeviceReturn`` of a parsed RisPort answer, its devices not read yet."""
    ret = descendant(root, "selectCmDeviceReturn")
    if ret is None:
        raise SourceError("RisPort answer has no <selectCmDeviceReturn> element")
    result = child(ret, "SelectCmDeviceResult")
    nodes = child(result, "CmNodes") if result is not None else None
    items = () if nodes is None or is_nil(nodes) else tuple(children(nodes, "item"))
    return SelectHead(
        total_found=_int(text_of(result, "TotalDevicesFound"), "TotalDevicesFound"),
        state_info=text_of(ret, "StateInfo") or "",
        nodes=tuple(_node_head(item) for item in items),
    )


def parse_select(root: Element) -> RisAnswer:
    """The ``selectCmDeviceReturn`` of a parsed RisPort answer."""
    return select_head(root).answer()


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


def registered_names(answers: Iterable[RisAnswer]) -> set[str]:
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
