"""licensewatch.heap: the free pages in the middle of the heap go back to the system."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import pytest

from licensewatch import heap
from licensewatch.night.stages import Stages

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _resident_mib() -> float:
    with open("/proc/self/statm", "rb") as fh:
        return int(fh.read().split()[1]) * PAGE / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_what_was_freed_between_kept_blocks_is_given_back() -> None:
    if not heap.release():
        pytest.skip("this C library has no malloc_trim")
    # Blocks malloc takes from its heap (not mapped one by one), every sixteenth kept:
    # the freed ones lie between kept ones, where free() alone gives nothing back.
    blocks = [bytearray(4000) for _ in range(60_000)]
    kept = blocks[::16]
    del blocks
    freed = _resident_mib()
    assert heap.release()
    assert freed - _resident_mib() > 100  # of about 220 MiB freed
    assert len(kept) == 3750


def test_it_says_when_it_cannot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "_malloc_trim", lambda: None)
    assert heap.release() is False


def test_each_stage_gives_back_what_it_freed(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def release() -> bool:
        calls.append("release")
        return True

    def step(name: str) -> Callable[[], str]:
        def run() -> str:
            calls.append(name)
            return name

        return run

    monkeypatch.setattr(heap, "release", release)
    stages = Stages()
    assert stages.run("one", step("one")) == "one"
    stages.run("two", step("two"))
    assert calls == ["one", "release", "two", "release"]
