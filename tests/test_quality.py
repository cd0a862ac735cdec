"""The code stays ruff- and mypy-clean, and the shipped example config stays valid."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from licensewatch.config import load_settings
from licensewatch.resources import default_config_dir, templates_dir

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> list[str]:
    """The command that runs ``name`` with this interpreter; fails (never skips) when missing.

    Looking the tool up on PATH skipped when the venv was not activated although
    ``python -m name`` works, and passed silently whatever the interpreter had.
    """
    if importlib.util.find_spec(name) is None:
        pytest.fail(f"{name} is not installed for {sys.executable} (pip install '.[test]')")
    return [sys.executable, "-m", name]


def test_ruff_is_clean() -> None:
    proc = subprocess.run(
        [*_tool("ruff"), "check", "licensewatch", "jobs", "tests", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_is_clean() -> None:
    proc = subprocess.run([*_tool("mypy")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_example_config_is_valid() -> None:
    settings = load_settings(ROOT / "config" / "licensewatch.example.toml")
    assert settings.policy.inactive_days == 90
    assert settings.rate_card.exists() and settings.focal_points.exists()


def test_bundled_files_are_found() -> None:
    assert (default_config_dir() / "rate_card.csv").is_file()
    assert any(templates_dir().rglob("*.j2"))
