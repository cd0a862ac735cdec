"""gc_pause: the collector is off during a bulk read, back on after it, and thawed at the end."""

from __future__ import annotations

import gc

import pytest

from licensewatch import gc_pause


def test_the_collector_is_paused_inside_and_what_exists_is_frozen_after() -> None:
    assert gc.isenabled()
    try:
        with gc_pause.paused():
            assert not gc.isenabled()
            kept = [[i] for i in range(1000)]  # containers a pull would build
        assert gc.isenabled()
        assert gc.get_freeze_count() >= len(kept)
    finally:
        gc_pause.thaw()
    assert gc.get_freeze_count() == 0


def test_a_failed_read_turns_the_collector_back_on() -> None:
    try:
        with pytest.raises(RuntimeError), gc_pause.paused():
            raise RuntimeError("Graph is down")
        assert gc.isenabled()
    finally:
        gc_pause.thaw()


def test_a_collector_the_caller_had_turned_off_stays_off() -> None:
    gc.disable()
    try:
        with gc_pause.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc_pause.thaw()
