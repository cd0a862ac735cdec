"""Progress for long work: a one-line bar on a terminal, periodic log lines otherwise.

:class:`Progress` counts units (pages, phones, rows); :class:`Heartbeat` shows
that a step with nothing to count (reconciling, writing a workbook) is still
running, by its elapsed time. Both take an injectable clock.
"""

from __future__ import annotations

import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import TextIO

from licensewatch.logs import get_logger

log = get_logger(__name__)
#: Counting bars not finished yet: a heartbeat keeps quiet while one is showing.
_COUNTING: weakref.WeakSet[Progress] = weakref.WeakSet()


class Progress:
    """Counts units of work (pages, users, devices) and reports them.

    On a terminal it redraws one line on stderr at most every ``redraw_s``
    seconds; elsewhere (cron, systemd) it logs a line every ``log_every_s``
    seconds, so logs stay short. ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        label: str,
        *,
        total: int | None = None,
        unit: str = "items",
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        redraw_s: float = 0.2,
        log_every_s: float = 30.0,
        rate: bool = True,
        quiet: bool = False,
    ) -> None:
        self.label = label
        self.rate = rate
        #: Outside a terminal, log the final line only if a periodic one was logged.
        self.quiet = quiet
        self.total = total
        self.unit = unit
        self.done = 0
        self.extra = ""
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty()
        self._clock = clock
        self._every = redraw_s if self._tty else log_every_s
        self._started = clock()
        self._last = self._started
        self._drawn = False
        if rate:
            _COUNTING.add(self)

    def advance(self, n: int = 1, *, extra: str = "") -> None:
        """Record ``n`` more units done; ``extra`` is shown after the count (e.g. "1,500 users")."""
        self.done += n
        if extra:
            self.extra = extra
        now = self._clock()
        if now - self._last >= self._every:
            self._last = now
            self._show(final=False)

    def finish(self) -> None:
        """Show the final count (a newline on a terminal, one log line otherwise)."""
        _COUNTING.discard(self)
        if self._tty or not self.quiet or self._last != self._started:
            self._show(final=True)

    def abandon(self) -> None:
        """Stop counting without a final count (the work failed): heartbeats show again."""
        _COUNTING.discard(self)
        self.clear()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        """:meth:`finish` when the work ended, :meth:`abandon` when it raised."""
        if kind is None:
            self.finish()
        else:
            self.abandon()

    def clear(self) -> None:
        """Erase the line drawn on a terminal (nothing otherwise)."""
        if self._tty and self._drawn:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._drawn = False

    def _text(self) -> str:
        count = f"{self.done:,}" + (f"/{self.total:,}" if self.total else "")
        elapsed = self._clock() - self._started
        extra = f", {self.extra}" if self.extra else ""
        # Under a second the rate means nothing (and a fake clock in tests gives absurd ones).
        rate = f" ({self.done / elapsed:,.1f}/s)" if elapsed >= 1 and self.rate else ""
        return f"{self.label}: {count} {self.unit}{extra}{rate}"

    def _show(self, *, final: bool) -> None:
        if self._tty:
            width = 30
            bar = ""
            if self.total:
                filled = int(width * min(self.done / self.total, 1.0))
                bar = "[" + "#" * filled + "." * (width - filled) + "] "
            self._stream.write("\r" + bar + self._text() + ("\n" if final else ""))
            self._drawn = not final
            self._stream.flush()
        else:
            log.info("%s%s", self._text(), " (done)" if final else "")


def counting() -> bool:
    """Whether a counting bar is showing (not finished, not abandoned)."""
    return bool(_COUNTING)


class Heartbeat:
    """The elapsed time of a step that has no units to count, while it runs.

    :meth:`beat` shows it (at most every ``redraw_s`` on a terminal, every
    ``log_every_s`` in a log); :meth:`start` beats from a daemon thread every
    ``tick_s`` until :meth:`stop`, which clears the terminal line. A step
    shorter than ``log_every_s`` leaves no line in a log.
    """

    def __init__(
        self,
        label: str,
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        log_every_s: float = 30.0,
        tick_s: float = 0.5,
    ) -> None:
        self._clock = clock
        self._started = clock()
        self._tick = tick_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.progress = Progress(
            f"{label}: running",
            unit="s",
            stream=stream,
            clock=clock,
            log_every_s=log_every_s,
            rate=False,
        )

    def beat(self) -> None:
        """Show the elapsed seconds if it is time to (not while a counting bar is showing)."""
        if counting():
            return
        elapsed = int(self._clock() - self._started)
        self.progress.advance(elapsed - self.progress.done)

    def start(self) -> Heartbeat:
        """Beat every ``tick_s`` from a daemon thread; returns itself."""
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self._tick):
            self.beat()

    def stop(self) -> None:
        """Stop beating; on a terminal, clear the line it drew."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.progress.clear()
