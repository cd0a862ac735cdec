"""Time and peak memory of each stage of a run, for the log and the benchmarks."""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from licensewatch import heap
from licensewatch.logs import get_logger
from licensewatch.progress import Heartbeat

log = get_logger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class StageTiming:
    """One stage: wall seconds, the process's peak resident memory when it ended, and when."""

    name: str
    seconds: float
    peak_rss_mb: float
    #: When it ended (``time.perf_counter()``): in another process, maybe before it was asked.
    ended: float


def peak_rss_mb() -> float:
    """The process's peak resident set size so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


@dataclass
class Stages:
    """Runs named steps, logging and keeping how long each took.

    While a step runs, a :class:`~licensewatch.progress.Heartbeat` shows it is
    alive: its elapsed time on a terminal, a log line every 30 s otherwise (cron).
    """

    timings: list[StageTiming] = field(default_factory=list)
    heartbeat: Callable[[str], Heartbeat] = Heartbeat

    def run(
        self,
        name: str,
        step: Callable[[], T],
        *,
        started: float | None = None,
        ended: Callable[[], float | None] | None = None,
    ) -> T:
        """Run ``step`` as the stage ``name`` and return its value.

        ``started`` (a ``time.perf_counter()`` value): the stage began then,
        in another process, and ``step`` waits for it to end; ``ended()``, once
        ``step`` has returned, says when it ended there (None: when ``step`` returned).
        """
        if started is None:
            started = time.perf_counter()
        beating = self.heartbeat(name).start()
        try:
            value = step()
        finally:
            beating.stop()
        heap.release()
        end = ended() if ended is not None else None
        if end is None:
            end = time.perf_counter()
        timing = StageTiming(name, end - started, peak_rss_mb(), end)
        self.timings.append(timing)
        log.info("%s: %.2f s (peak memory %.0f MiB)", name, timing.seconds, timing.peak_rss_mb)
        return value
