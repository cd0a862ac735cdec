"""docs/architecture.md stays true: it lists every package, and every package it lists exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"


def documented_packages() -> list[str]:
    """The packages of the doc's tree table, in the order written."""
    text = DOC.read_text(encoding="utf-8")
    table = text.split("<!-- packages -->", 1)[1].split("<!-- /packages -->", 1)[0]
    return re.findall(r"^\| `([\w.]+)` \|", table, flags=re.MULTILINE)


def actual_packages() -> list[str]:
    """Every folder of Python modules in the source tree (packages and the migrations)."""
    folders = {path.parent for path in (ROOT / "licensewatch").rglob("*.py")}
    found = []
    for folder in sorted(folders):
        parts = folder.relative_to(ROOT).parts
        if not any(part.startswith("_") for part in parts):
            found.append(".".join(parts))
    return found


def test_every_package_is_documented_and_every_documented_one_exists() -> None:
    documented = documented_packages()
    actual = actual_packages()
    assert len(documented) == len(set(documented)), "a package is listed twice"
    missing = sorted(set(actual) - set(documented))
    stale = sorted(set(documented) - set(actual))
    assert not missing, f"packages not described in docs/architecture.md: {missing}"
    assert not stale, f"docs/architecture.md describes packages that do not exist: {stale}"


def test_the_files_named_in_where_to_add_exist() -> None:
    text = DOC.read_text(encoding="utf-8").split("## Where to add", 1)[1]
    named = set(re.findall(r"`((?:sources|notify|night|cli|reports|rules)/[\w/]*\.py)`", text))
    assert named, "the 'Where to add' section names no files"
    for path in sorted(named):
        assert (ROOT / "licensewatch" / path).is_file(), path
