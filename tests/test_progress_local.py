"""Progress on long local work: a heartbeat per stage, counted pages and workbook rows.

Every clock here is a fake one moved by the test: nothing depends on how fast
the machine is.
"""

from __future__ import annotations

import io
import logging
import tempfile
from pathlib import Path

import openpyxl
import pytest

from licensewatch.night.stages import Stages
from licensewatch.progress import Heartbeat, Progress
from licensewatch.reports.sheets import COUNT, TEXT, Book, Column, Sheet, write_sheets
from licensewatch.reports.xlsx import counted


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "licensewatch.progress"]


def test_a_heartbeat_logs_every_30_seconds_under_cron(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    beat = Heartbeat("reconcile", stream=io.StringIO(), clock=clock)
    with caplog.at_level(logging.INFO, logger="licensewatch"):
        for _ in range(95):
            clock.now += 1
            beat.beat()
        beat.stop()
    assert _logged(caplog) == [
        "reconcile: running: 30 s",
        "reconcile: running: 60 s",
        "reconcile: running: 90 s",
    ]


def test_a_short_step_leaves_no_line_and_a_terminal_line_is_cleared(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    with caplog.at_level(logging.INFO, logger="licensewatch"):
        quick = Heartbeat("price", stream=io.StringIO(), clock=clock)
        clock.now += 5
        quick.beat()
        quick.stop()
    assert _logged(caplog) == []
    screen = Terminal()
    shown = Heartbeat("write finance reports", stream=screen, clock=clock)
    clock.now += 2
    shown.beat()
    shown.stop()
    assert screen.getvalue() == "\rwrite finance reports: running: 2 s\r\x1b[K"


def test_a_heartbeat_keeps_quiet_while_a_counting_bar_shows(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    pages = Progress("Graph users", unit="pages", stream=io.StringIO(), clock=clock)
    beat = Heartbeat("pull accounts", stream=io.StringIO(), clock=clock)
    with caplog.at_level(logging.INFO, logger="licensewatch"):
        clock.now += 31
        beat.beat()
        pages.advance()
        pages.finish()
        clock.now += 31
        beat.beat()
        beat.stop()
    assert _logged(caplog) == [
        "Graph users: 1 pages (0.0/s)",
        "Graph users: 1 pages (0.0/s) (done)",
        "pull accounts: running: 62 s",
    ]


def test_each_stage_runs_inside_a_heartbeat() -> None:
    seen: list[str] = []

    class Recorder(Heartbeat):
        def start(self) -> Heartbeat:
            seen.append(f"start {self.progress.label}")
            return self

        def stop(self) -> None:
            seen.append(f"stop {self.progress.label}")

    stages = Stages(heartbeat=lambda name: Recorder(name, stream=io.StringIO()))
    assert stages.run("reconcile", lambda: seen.append("step") or 7) == 7
    with pytest.raises(ZeroDivisionError):
        stages.run("price", lambda: 1 // 0)
    assert seen == [
        "start reconcile: running",
        "step",
        "stop reconcile: running",
        "start price: running",
        "stop price: running",
    ]


def test_workbook_rows_are_counted_as_they_are_written(caplog: pytest.LogCaptureFixture) -> None:
    class Ticking(FakeClock):
        def __call__(self) -> float:
            self.now += 1  # each look at the clock finds it a second later
            return self.now

    clock = Ticking()
    rows = [[f"row {n}", n] for n in range(100)]

    progress = Progress(
        "XLSX findings", total=100, unit="rows", stream=io.StringIO(), clock=clock, quiet=True
    )
    with caplog.at_level(logging.INFO, logger="licensewatch"), tempfile.TemporaryDirectory() as d:
        # The Findings sheet is written from the counted rows, as the finance workbook does.
        with Book(Path(d) / "book.xlsx") as book:
            write_sheets(
                book,
                [
                    Sheet(
                        "Findings", [Column("a", TEXT), Column("n", COUNT)], counted(rows, progress)
                    )
                ],
            )
        written = len(openpyxl.load_workbook(Path(d) / "book.xlsx")["Findings"]["A"]) - 1
    assert written == 100
    lines = _logged(caplog)
    # A line every 30 clock seconds: rows 30, 59, 88 (showing a line reads the clock too).
    assert [line.split()[2] for line in lines] == ["30/100", "59/100", "88/100", "100/100"]
    assert lines[-1].endswith(" (done)") and not lines[0].endswith(" (done)")
    quick = Progress("XLSX findings", total=3, unit="rows", stream=io.StringIO(), quiet=True)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="licensewatch"):
        quick.advance(3)
        quick.finish()
    assert _logged(caplog) == []  # a short job leaves the log alone


def test_a_bar_whose_work_failed_stops_counting_and_clears_its_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    terminal = Terminal()
    with (
        pytest.raises(RuntimeError),
        Progress("pull", total=10, stream=terminal, clock=clock) as bar,
    ):
        bar.advance(3)
        clock.now += 1
        bar.advance(1)
        raise RuntimeError("the pull failed")
    assert terminal.getvalue().endswith("\r\x1b[K")  # the half-drawn bar erased, no final line
    beat = Heartbeat("reconcile", stream=io.StringIO(), clock=clock)
    with caplog.at_level(logging.INFO, logger="licensewatch"):
        for _ in range(31):
            clock.now += 1
            beat.beat()
    assert bar.done == 4 and _logged(caplog) == ["reconcile: running: 30 s"]


def test_a_bar_whose_work_ended_shows_its_final_count() -> None:
    clock = FakeClock()
    terminal = Terminal()
    with Progress("pull", total=2, stream=terminal, clock=clock) as bar:
        bar.advance(2)
    assert terminal.getvalue().endswith("pull: 2/2 items\n")
