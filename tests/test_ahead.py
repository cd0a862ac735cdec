"""The pulls' worker thread: one call at a time, waited for on errors, not on Ctrl-C."""

from __future__ import annotations

import threading

import pytest

from licensewatch.ahead import Ahead

#: Long enough for a slow machine; only reached when something is wrong.
PATIENCE_S = 10.0


def test_calls_run_in_the_named_worker_one_at_a_time_and_answer_by_future() -> None:
    names: list[str] = []

    def call(n: int) -> int:
        names.append(threading.current_thread().name)
        return n * 2

    with Ahead("graph-next-page") as ahead:
        assert [ahead.submit(call, n).result(PATIENCE_S) for n in range(3)] == [0, 2, 4]
        failed = ahead.submit(lambda: 1 // 0)
        with pytest.raises(ZeroDivisionError):
            failed.result(PATIENCE_S)
    assert names == ["graph-next-page"] * 3


def test_a_second_call_while_the_first_runs_is_refused() -> None:
    release = threading.Event()
    with Ahead("axl-next-page") as ahead:
        first = ahead.submit(release.wait, PATIENCE_S)
        with pytest.raises(RuntimeError, match="one call at a time"):
            ahead.submit(int)
        release.set()
        assert first.result(PATIENCE_S) is True


def test_leaving_by_an_error_waits_for_the_call_in_flight() -> None:
    started, release = threading.Event(), threading.Event()
    done: list[bool] = []

    def call() -> None:
        started.set()
        release.wait(PATIENCE_S)
        done.append(True)

    timer = threading.Timer(0.2, release.set)
    with pytest.raises(ValueError), Ahead("risport-next-batch") as ahead:
        ahead.submit(call)
        assert started.wait(PATIENCE_S)
        timer.start()
        raise ValueError("reading the answer failed")
    # The call was finished (and would have been recorded) before the error surfaced.
    assert done == [True]
    timer.join()


def test_leaving_by_ctrl_c_does_not_wait_and_leaves_a_daemon_thread() -> None:
    started, release = threading.Event(), threading.Event()

    def call() -> bool:
        started.set()
        return release.wait(PATIENCE_S)

    with pytest.raises(KeyboardInterrupt), Ahead("graph-next-page") as ahead:
        pending = ahead.submit(call)
        assert started.wait(PATIENCE_S)
        raise KeyboardInterrupt
    # Still waiting out its request: not joined, and it would not hold the process at exit.
    assert not pending.done()
    worker = next(t for t in threading.enumerate() if t.name == "graph-next-page" and t.daemon)
    release.set()
    worker.join(PATIENCE_S)
    assert not worker.is_alive()
