"""Progress for long pulls: a one-line bar on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from licensewatch.logs import get_logger

log = get_logger(__name__)


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
    ) -> None:
        self.label = label
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
        self._show(final=True)

    def _text(self) -> str:
        count = f"{self.done:,}" + (f"/{self.total:,}" if self.total else "")
        elapsed = self._clock() - self._started
        extra = f", {self.extra}" if self.extra else ""
        # Under a second the rate means nothing (and a fake clock in tests gives absurd ones).
        rate = f" ({self.done / elapsed:,.1f}/s)" if elapsed >= 1 else ""
        return f"{self.label}: {count} {self.unit}{extra}{rate}"

    def _show(self, *, final: bool) -> None:
        if self._tty:
            width = 30
            bar = ""
            if self.total:
                filled = int(width * min(self.done / self.total, 1.0))
                bar = "[" + "#" * filled + "." * (width - filled) + "] "
            self._stream.write("\r" + bar + self._text() + ("\n" if final else ""))
            self._stream.flush()
        else:
            log.info("%s%s", self._text(), " (done)" if final else "")
