"""Work in forked processes (``licensewatch.forked``): the remote pulls, errors crossing back."""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from licensewatch import forked
from licensewatch.errors import ConfigError, InputError, Problem, SourceError, SourceUnavailable
from licensewatch.logs import forget_secrets, register_secrets
from licensewatch.night.inputs import Sources, pull_local_first
from licensewatch.night.outputs import Background
from licensewatch.night.stages import Stages

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork: Linux only")

_FORK = multiprocessing.get_context("fork")


class _Remote:
    """A remote feed: meets the other at a cross-process barrier, then answers what ``act`` says."""

    remote = True

    def __init__(self, name: str, meet: object | None = None, act: str = "ok") -> None:
        self.name, self.meet, self.act = name, meet, act

    def pull(self) -> object:
        if self.meet is not None:
            self.meet.wait()  # type: ignore[attr-defined]  # both children at once, or a timeout
        if self.act == "fail":
            raise SourceUnavailable(f"{self.name} is down", hint="try later")
        if self.act == "exit":
            os._exit(3)
        if self.act == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.act == "lock":
            raise _Unpicklable(f"{self.name} held {threading.Lock()} with s3cr3t-pw")
        if self.act == "slow":
            time.sleep(0.5)
        frame = pd.DataFrame({"id": ["a", "é", None]}, dtype="string")
        return (self.name, os.getpid(), frame)


class _Unpicklable(Exception):
    """An error that cannot cross a pipe: it holds a lock, which does not pickle."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.lock = threading.Lock()


class _Local:
    remote = False

    def pull(self) -> object:
        return ("separations", os.getpid())


def _feeds(accounts: _Remote, phones: _Remote) -> Sources:
    return Sources(accounts, phones, _Local())  # type: ignore[arg-type]


def test_each_remote_pull_runs_in_its_own_process_at_the_same_time() -> None:
    meet = _FORK.Barrier(2, timeout=30)  # only two pulls running at once get past it
    stages = Stages()
    accounts, phones, separations = pull_local_first(
        _feeds(_Remote("graph", meet), _Remote("cucm", meet)), stages.run, processes=True
    )
    me = os.getpid()
    assert separations == ("separations", me)  # a file is read here, first
    assert accounts[0] == "graph" and phones[0] == "cucm"  # type: ignore[index]
    pids = {accounts[1], phones[1]}  # type: ignore[index]
    assert len(pids) == 2 and me not in pids
    frame = accounts[2]  # type: ignore[index]
    assert frame["id"].dtype == "string" and frame["id"].tolist() == ["a", "é", pd.NA]
    assert sorted(t.name for t in stages.timings) == [
        "pull accounts",
        "pull phones",
        "read separations",
    ]
    assert multiprocessing.active_children() == []  # both joined


def test_a_pull_error_comes_back_as_itself_after_the_other_pull_ended() -> None:
    started = time.perf_counter()
    with pytest.raises(SourceUnavailable) as raised:
        pull_local_first(
            _feeds(_Remote("graph", act="slow"), _Remote("cucm", act="fail")),
            Stages().run,
            processes=True,
        )
    assert raised.value.message == "cucm is down" and raised.value.hint == "try later"
    assert time.perf_counter() - started >= 0.5  # the slow pull was waited for
    assert multiprocessing.active_children() == []


def test_the_first_failure_in_step_order_is_raised() -> None:
    with pytest.raises(SourceUnavailable, match="graph is down"):
        pull_local_first(
            _feeds(_Remote("graph", act="fail"), _Remote("cucm", act="fail")),
            Stages().run,
            processes=True,
        )


@pytest.mark.parametrize(("act", "said"), [("exit", "exit code 3"), ("kill", "signal 9")])
def test_a_pull_whose_process_dies_is_a_source_error(
    act: str, said: str, caplog: pytest.LogCaptureFixture
) -> None:
    died = f"pull phones stopped without an answer .*{said}"
    with (
        caplog.at_level(logging.INFO, logger="licensewatch.forked"),
        pytest.raises(SourceError, match=died),
    ):
        pull_local_first(
            _feeds(_Remote("graph"), _Remote("cucm", act=act)), Stages().run, processes=True
        )
    figures = [r.getMessage() for r in caplog.records if "CPU s" in r.getMessage()]
    assert len(figures) == 1 and figures[0].startswith("pull accounts: in process")


def test_an_error_that_cannot_cross_the_pipe_is_described_with_secrets_masked() -> None:
    register_secrets(["s3cr3t-pw"])
    try:
        with pytest.raises(SourceError) as raised:
            pull_local_first(
                _feeds(_Remote("graph", act="lock"), _Remote("cucm")),
                Stages().run,
                processes=True,
            )
    finally:
        forget_secrets()
    text = str(raised.value)
    assert text.startswith("_Unpicklable: graph held <unlocked _thread.lock")
    assert "s3cr3t-pw" not in text


def test_the_child_runs_no_atexit_clean_up(tmp_path: Path) -> None:
    # A child ends with os._exit: atexit work (the parent's run lock and
    # database connections have theirs) is not done by the child as well.
    marker = tmp_path / "cleaned"

    def pull() -> int:
        atexit.register(marker.write_text, "the child ran atexit handlers")
        return os.getpid()

    child = forked.start("pull x", pull)
    assert child.result() != os.getpid()
    assert child.process.exitcode == 0 and child.peak_mb > 0
    assert not marker.exists()


def test_processes_are_used_on_linux_with_more_than_one_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert forked.usable()
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert not forked.usable()


def test_an_input_error_crosses_a_pipe_as_itself() -> None:
    problems = [Problem("a.csv", "bad", 2, "x"), Problem("a.csv", "worse", 3, "y")]
    error = forked.start("check", lambda: _raise(InputError(problems)), failure=ConfigError)
    with pytest.raises(InputError) as raised:
        error.result()
    assert raised.value.problems == tuple(problems)
    assert str(raised.value) == "a.csv, row 2, column 'x': bad (and 1 more problem)"
    assert raised.value.hint == "fix the file and run again; nothing was written"
    assert raised.value.exit_code == InputError.exit_code


def _raise(error: Exception) -> None:
    raise error


def test_a_child_no_longer_wanted_is_stopped() -> None:
    child = forked.start("pull y", lambda: time.sleep(60))
    started = time.perf_counter()
    child.stop()
    assert time.perf_counter() - started < 30
    assert child.process.exitcode == -signal.SIGKILL and child.reader.closed
    assert multiprocessing.active_children() == []


def test_a_large_answer_comes_back_whole() -> None:
    frame = pd.DataFrame({"id": [f"user-{i}@contoso.org" for i in range(300_000)]})
    child = forked.start("pull z", lambda: frame)
    pd.testing.assert_frame_equal(child.result(), frame)


_KILLED_RUN = """
import os, sys, time
from pathlib import Path
from licensewatch import forked

marker = Path(sys.argv[1])

def pull():
    marker.write_text(str(os.getpid()))
    time.sleep(120)

child = forked.start("pull accounts", pull)
child.result()
"""


def test_a_child_does_not_outlive_a_killed_run(tmp_path: Path) -> None:
    # cron's timeout or an operator's kill -9: the pull must not page on alone.
    marker = tmp_path / "child.pid"
    run = subprocess.Popen([sys.executable, "-c", _KILLED_RUN, str(marker)])
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() or not marker.read_text():
            assert time.monotonic() < deadline and run.poll() is None
            time.sleep(0.05)
        pid = int(marker.read_text())
        run.kill()
        run.wait()
        while _alive(pid):
            assert time.monotonic() < deadline, "the child outlived the run"
            time.sleep(0.05)
    finally:
        run.kill()


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not reaped by init yet, does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_stage_in_a_child_lasts_until_it_ended_there_not_until_it_was_collected() -> None:
    stages = Stages()
    started = time.perf_counter()
    child = forked.start("write x", lambda: "written")
    child.process.join()  # it has ended; the run asks for it only later
    asked = time.perf_counter()
    value = stages.run("write x", child.result, started=started, ended=lambda: child.ended)
    [timing] = stages.timings
    assert value == "written"
    assert child.ended is not None and started < child.ended < asked
    assert timing.ended == child.ended and timing.seconds == child.ended - started
    # A stage of this process ends when its step returns.
    stages.run("here", lambda: None)
    assert stages.timings[-1].ended > asked


def test_background_stages_raise_the_first_error_and_stop_the_others() -> None:
    def fails() -> None:
        raise SourceError("the disk is full")

    background = Background(Stages())
    background.add("write a", time.perf_counter(), forked.start("write a", fails))
    slow = forked.start("write b", lambda: time.sleep(60))
    background.add("write b", time.perf_counter(), slow)
    with pytest.raises(SourceError, match="the disk is full"):
        background.wait()
    assert slow.process.exitcode == -signal.SIGKILL
    assert multiprocessing.active_children() == []
