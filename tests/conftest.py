"""Fixtures shared by the whole suite."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

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
