"""Fixtures shared by the whole suite."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from licensewatch import logs
from licensewatch.logs import LOGGER_NAME
from tests import orgfiles


@pytest.fixture
def org(tmp_path: Path) -> Path:
    """The tiny organization of ``tests/orgfiles.py``; returns its config path."""
    return orgfiles.write_org(tmp_path / "org")


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """Start and end every test with licensewatch's logger as Python leaves it.

    The CLI's set-up stops propagation (so caplog would see nothing) and may
    register secrets; module-scoped fixtures run the CLI too, hence the reset
    on both sides.
    """

    def reset() -> None:
        logger = logging.getLogger(LOGGER_NAME)
        logger.handlers.clear()
        logger.setLevel(logging.NOTSET)
        logger.propagate = True
        logs.forget_secrets()

    reset()
    yield
    reset()


@pytest.fixture
def no_real_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that would really wait: ``time.sleep`` raises.

    Code under test looks ``time.sleep`` up when it waits, so patching the
    module attribute catches every real wait. Opt in per module with
    ``pytestmark = pytest.mark.usefixtures("no_real_sleep")``.
    """

    def refuse(seconds: float) -> None:
        raise AssertionError(f"a test asked to really sleep {seconds} s")

    monkeypatch.setattr(time, "sleep", refuse)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """A ``responses`` mock that refuses any request not registered: nothing reaches a server."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
