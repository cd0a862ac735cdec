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
Answers are read by :mod:`.risport_answer`.

One request is in flight at a time. When an answer settles its batch (every
node answered, none said ``NoChange``, nothing cut short), the next batch is
asked for with its ``StateInfo`` in a worker thread while the answer's
devices are read: the requests are the same, in the same order, as one after
the other, and RisPort answers the next while we read (issue 18).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from licensewatch.ahead import Ahead
from licensewatch.errors import SourceError
from licensewatch.logs import get_logger
from licensewatch.sources.cucm.risport_answer import RisAnswer, registered_names, select_head
from licensewatch.sources.cucm.soap import SoapClient, SoapFault, envelope, tag

log = get_logger(__name__)

RIS_NS = "http://schemas.cisco.com/ast/soap"
SOAP_ACTION = "selectCmDeviceExt"
MAX_BATCH = 1000
WINDOW_S = 60.0
#: Added to every wait of the limiter: requests reach the server a little after we send them.
MARGIN_S = 1.0
RATE_CONTROL_WAIT_S = 60.0


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
        self._ahead: Ahead | None = None
        #: The next batch, the StateInfo it was asked with, and its answer on the way.
        self._next: tuple[list[str], str, Future[Element]] | None = None

    def _call(self, names: Sequence[str], state: str) -> Element:
        return self._client.call(
            "selectCmDeviceExt",
            select_request(names, state),
            soap_action=SOAP_ACTION,
            request={"names": len(names), "first": names[0], "state_info": state},
        )

    def _ask(self, names: list[str], out: Registrations, upcoming: list[str] | None) -> RisAnswer:
        ahead, self._next = self._next, None
        if ahead is not None and ahead[0] is names and ahead[1] == self._state:
            root = ahead[2].result()
        else:
            if ahead is not None:
                # Not reached: a settled answer ends its batch, so the next ask is the batch
                # asked for ahead. Were it reached, that answer is waited for and dropped,
                # so that one request at a time stays true.
                ahead[2].exception()
            root = self._call(names, self._state)
        head = select_head(root)
        self._state = head.state_info
        if head.settled and upcoming is not None and self._ahead is not None:
            # This batch is done whatever its devices say: RisPort answers the next one
            # while they are read (issue 18). One request in flight, in the same order.
            state = self._state
            self._next = (upcoming, state, self._ahead.submit(self._call, upcoming, state))
        answer = head.answer()
        out.answers.append(answer)
        return answer

    def read(self, names: Sequence[str]) -> Registrations:
        """Ask for every name; raise ``SourceError`` if any answer leaves a phone undetermined.

        The next batch is asked for (in a worker thread) as soon as an answer is
        known to settle its batch, while its devices are read; a batch whose
        devices fail to read has its successor asked for already, and the pull
        stops once that answer is in.
        """
        out = Registrations()
        queue = deque(list(names[i : i + self._batch]) for i in range(0, len(names), self._batch))
        with Ahead("risport-next-batch") as self._ahead:
            try:
                while queue:
                    batch = queue.popleft()
                    halves = self._read_batch(batch, out, queue[0] if queue else None)
                    if halves:
                        queue.extendleft(reversed(halves))
                    else:
                        self._on_batch(len(batch))
            finally:
                self._ahead, self._next = None, None
        return out

    def _read_batch(
        self, batch: list[str], out: Registrations, upcoming: list[str] | None
    ) -> list[list[str]]:
        """Ask for one batch until it is answered; returns halves if the answer was cut short."""
        answered: list[RisAnswer] = []  # this batch's answers, for the phones registered
        attempt = 0
        asked_fresh = False
        while True:
            carried = self._state
            answer = self._ask(batch, out, upcoming)
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
            registered = registered_names(answered)
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
