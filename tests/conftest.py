"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import orgfiles


@pytest.fixture
def org(tmp_path: Path) -> Path:
    """The tiny organization of ``tests/orgfiles.py``; returns its config path."""
    return orgfiles.write_org(tmp_path / "org")
