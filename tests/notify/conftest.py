"""Fixtures for the notice tests."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.notify.org import compose, deliver


@pytest.fixture
def sent(tmp_path: Path) -> dict[str, EmailMessage]:
    """The fixtures' notices as written to and read back from a folder of .eml files."""
    notices, _ = compose()
    return deliver(notices, tmp_path / "outbox")
