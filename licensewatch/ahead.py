"""One call at a time in a worker thread: the next request on its way while the caller reads.

The pulls ask for the next page or batch as soon as they know which it is and
read the answer in hand meanwhile (issue 18). :class:`Ahead` runs those calls
in one daemon thread, a call at a time, each answering through a
:class:`~concurrent.futures.Future`.

Why not a ``ThreadPoolExecutor``: its threads are joined when the interpreter
exits, so a Ctrl-C while a request waits out a throttled Retry-After would
wait for it, retries and all. Here, leaving the ``with`` block normally or by
an error (a generator closed included) waits for the call in flight, so it is
finished, and recorded, before the error surfaces, as one after the other
would have been; that wait is interrupted by Ctrl-C like any other. Leaving it
by ``KeyboardInterrupt`` or ``SystemExit`` does not wait: the daemon thread
ends with the process.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, wait
from functools import partial
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")
_Work = tuple[Future[Any], Callable[[], Any]]


class Ahead:
    """A worker thread running one call at a time; use it as a context manager."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._work: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pending: Future[Any] | None = None

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``fn(*args)`` in the worker; refused while the previous call is still running."""
        if self._pending is not None and not self._pending.done():
            raise RuntimeError(f"{self.name}: one call at a time")
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()
        future: Future[T] = Future()
        self._pending = future
        self._work.put((future, partial(fn, *args)))
        return future

    def _loop(self) -> None:
        while (work := self._work.get()) is not None:
            future, call = work
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(call())
            except BaseException as exc:  # handed to whoever waits for the answer
                future.set_exception(exc)

    def __enter__(self) -> Ahead:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the worker; wait for the call in flight unless the process is being stopped."""
        self._work.put(None)
        if kind is not None and issubclass(kind, (KeyboardInterrupt, SystemExit)):
            return  # the daemon thread ends with the process
        if self._pending is not None:
            wait([self._pending])
        if self._thread is not None:
            self._thread.join()
