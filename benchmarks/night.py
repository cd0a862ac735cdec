"""One nightly run, measured: ``python -m benchmarks.night --config C --as-of D --result R``.

Runs :func:`licensewatch.night.run.run` in this process (the orchestrator
starts a fresh one per run, so time and memory are the job's alone) and
writes ``R`` as JSON: every stage's seconds, the process's memory high-water
mark at its end (``RunResult.stages``) and the highest resident memory
sampled while it ran (a sampler reads ``/proc/self/statm`` every 10 ms), the
time spent outside the named stages, and the run's counts. With
``--smtp-port`` the job's own SMTP transport delivers the notices (through the
outbox) to the SMTP server on 127.0.0.1 and the "send emails" stage times it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from licensewatch.config import load_settings
from licensewatch.logs import LOGGER_NAME
from licensewatch.night import run as pipeline
from licensewatch.night.stages import Stages, peak_rss_mb

T = TypeVar("T")
PAGE_MB = os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


class RssSampler:
    """Samples this process's resident memory every ``interval`` seconds in a thread."""

    def __init__(self, interval: float = 0.01, pss_interval: float = 1.0) -> None:
        self.interval = interval
        self.pss_interval = pss_interval
        self.samples: list[tuple[float, float]] = []
        #: The highest memory of this process and its children (the forked processes) together.
        self.with_children_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss_mb(pid: str = "self") -> float:
        """Resident memory of ``pid`` now, in MiB (0 for a process that has just ended)."""
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                return int(fh.read().split()[1]) * PAGE_MB
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return 0.0

    @staticmethod
    def children() -> list[str]:
        """This process's children (Linux ``/proc/self/task/*/children``)."""
        pids: list[str] = []
        for task in Path("/proc/self/task").iterdir():
            try:
                pids += (task / "children").read_text(encoding="ascii").split()
            except FileNotFoundError:
                continue
        return pids

    @staticmethod
    def pss_mb(pid: str) -> float:
        """Proportional set size of ``pid`` in MiB: a page shared by n processes counts 1/n."""
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
                for line in fh:
                    if line.startswith(b"Pss:"):
                        return int(line.split()[1]) / 1024
        except (FileNotFoundError, ProcessLookupError):
            pass
        return 0.0

    def _run(self) -> None:
        every = max(1, round(self.pss_interval / self.interval))
        tick = 0
        while not self._stop.wait(self.interval):
            self.samples.append((time.time(), self.rss_mb()))
            tick += 1
            if tick % every:
                continue
            # A proportional size walks the page tables: tens of milliseconds for each
            # of the 1M night's 2 GB processes, which at ten a second cost the night
            # 6.6 CPU s of the two cores it measures. Once a second, children alive only.
            children = self.children()
            if children:
                # Forked children share pages with this process: sum proportional sizes.
                total = sum(self.pss_mb(pid) for pid in ["self", *children])
                self.with_children_mb = max(self.with_children_mb, total)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, start: float, end: float) -> float:
        """The highest sample in [start, end] (the nearest one if none fell inside)."""
        inside = [mb for t, mb in self.samples if start <= t <= end]
        if inside:
            return max(inside)
        if not self.samples:
            return 0.0
        return min(self.samples, key=lambda s: abs(s[0] - end))[1]


def cpu_now() -> float:
    """CPU seconds of this process and of its children that have ended (the forked processes)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class StageCpu:
    """CPU seconds of this process (and of forked processes that ended) in each stage.

    Wraps ``Stages.run`` for the measured run.

    On a machine that others share, a stage's wall seconds include the time it
    waited for a core; its CPU seconds do not (nor do they include the local
    servers' share, which runs in their own process).
    """

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._real = Stages.run

    def __enter__(self) -> StageCpu:
        real, seconds = self._real, self.seconds

        def run(stages: Stages, name: str, step: Callable[[], T], **kw: Any) -> T:
            started = cpu_now()
            try:
                return real(stages, name, step, **kw)
            finally:
                seconds.append(cpu_now() - started)

        Stages.run = run  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        Stages.run = self._real  # type: ignore[method-assign]


class ForkedFigures(logging.Handler):
    """What each forked process took: (name, CPU s, peak MiB), from ``forked``'s log line."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.processes: list[tuple[str, float, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Remember each forked process's figures."""
        if record.name == f"{LOGGER_NAME}.forked" and isinstance(record.args, tuple):
            name, _pid, cpu_s, peak_mb = record.args
            self.processes.append((str(name), float(cpu_s), float(peak_mb)))  # type: ignore[arg-type]


def covered(spans: list[tuple[str, float, float]]) -> float:
    """Seconds inside at least one of the (name, start, end) spans."""
    total, reach = 0.0, float("-inf")
    for _, start, end in sorted(spans, key=lambda s: s[1]):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def together(spans: list[tuple[str, float, float]]) -> list[dict[str, Any]]:
    """Each group of stages that overlapped: their names and the wall seconds they took as one."""
    groups: list[list[tuple[str, float, float]]] = []
    for span in sorted(spans, key=lambda s: s[1]):
        if groups and span[1] < max(end for _, _, end in groups[-1]):
            groups[-1].append(span)
        else:
            groups.append([span])
    return [
        {"names": sorted(name for name, _, _ in group), "seconds": covered(group)}
        for group in groups
        if len(group) > 1
    ]


def measure(config: Path, as_of: date, smtp_port: int | None) -> dict[str, Any]:
    """Run the job once for ``as_of`` and return what it took."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    forked_figures = ForkedFigures()
    logger.addHandler(forked_figures)
    settings = load_settings(config)
    if smtp_port is not None:
        smtp_table = {"host": "127.0.0.1", "port": smtp_port, "security": "none", "timeout_s": 60}
        settings = replace(
            settings, mail=replace(settings.mail, transport="smtp", options=smtp_table)
        )
    with RssSampler() as sampler, StageCpu() as cpu:
        started = time.perf_counter()
        cpu_start = cpu_now()
        wall_start = time.time()
        result = pipeline.run(settings, as_of)
        total = time.perf_counter() - started
        total_cpu = cpu_now() - cpu_start
        stages: list[dict[str, Any]] = []
        # When each stage ended, on this clock: a stage of a forked process may end long
        # before the run collects it (the stage line is written then).
        to_wall = wall_start - started
        ended = [timing.ended + to_wall for timing in result.stages]
        for timing, end, cpu_s in zip(result.stages, ended, cpu.seconds, strict=True):
            stages.append(
                {
                    "name": timing.name,
                    "seconds": timing.seconds,
                    "cpu_s": cpu_s,
                    "hwm_mb": timing.peak_rss_mb,
                    "peak_mb": sampler.peak(end - timing.seconds, end),
                }
            )
        spans = [(s["name"], end - s["seconds"], end) for s, end in zip(stages, ended, strict=True)]
        smtp = None
        sending = next((s for s in stages if s["name"] == "send emails"), None)
        if smtp_port is not None and result.delivery is not None and sending is not None:
            smtp = {
                "messages": result.delivery.sent,
                "seconds": sending["seconds"],
                "peak_mb": sending["peak_mb"],
            }
    return {
        "status": result.status,
        "total_s": total,
        "total_cpu_s": total_cpu,
        "load_average": list(os.getloadavg()),
        "start_peak_mb": sampler.peak(wall_start - 1, wall_start + 0.05),
        # Stages that ran at the same time (the remote pulls) count once: the union of spans.
        "other_s": total - covered(spans),
        "together": together(spans),
        "processes": forked_figures.processes,
        "peak_rss_mb": peak_rss_mb(),
        "peak_with_children_mb": max(sampler.with_children_mb, peak_rss_mb()),
        "stages": stages,
        "counts": dict(result.counts),
        "findings": result.totals.license_findings + result.totals.phone_findings,
        "notices": result.notices,
        "annual_avoidable_cents": result.totals.annual_avoidable_cents,
        "smtp": smtp,
        "brake_reasons": list(result.brake_reasons),
    }


def main() -> None:
    """Command line: --config C --as-of YYYY-MM-DD --result FILE [--smtp-port P]."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--as-of", required=True, type=date.fromisoformat)
    parser.add_argument("--result", required=True, type=Path)
    parser.add_argument("--smtp-port", type=int)
    args = parser.parse_args()
    doc = measure(args.config, args.as_of, args.smtp_port)
    args.result.write_text(json.dumps(doc, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
