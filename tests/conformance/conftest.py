"""The schemas folder for the conformance tests (skipped without it, unless required)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance.schemas import schemas_dir


@pytest.fixture(scope="session")
def schemas() -> Path:
    """The vendor schemas folder (see ``tests/conformance/schemas.py`` for skip/require)."""
    return schemas_dir()
