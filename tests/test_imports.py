"""The Graph and transport modules import first, each in a fresh interpreter.

The Graph client is shared by the accounts source, the mail transport and
licence removal; an import cycle between them showed only when one of them was
the first thing a process imported (``licensewatch.graph.auth`` →
``licensewatch.sources`` → ``sources.graph.live`` → ``graph.auth``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("graph", "sources/graph", "sources/cucm", "notify/transports", "answers")
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for package in PACKAGES
    for p in (ROOT / "licensewatch" / package).glob("*.py")
)


@pytest.mark.parametrize("name", MODULES)
def test_the_module_imports_first(name: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", f"import {name}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
