"""Where the conformance tests look for the vendor schemas, and when their absence fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance.schemas import DIR_ENV, FILES, REQUIRE_ENV, ROOT, schemas_dir


def test_the_default_is_shared_schemas_beside_the_repository(tmp_path: Path) -> None:
    expected = ROOT.parent / "shared" / "schemas"
    if expected.is_dir():
        assert schemas_dir({}) == expected
    else:
        with pytest.raises(pytest.skip.Exception, match=str(expected)):
            schemas_dir({})


def test_a_missing_folder_skips_unless_required(tmp_path: Path) -> None:
    missing = {DIR_ENV: str(tmp_path / "nowhere")}
    with pytest.raises(pytest.skip.Exception, match="nowhere"):
        schemas_dir(missing)
    with pytest.raises(pytest.fail.Exception, match=f"{REQUIRE_ENV}=1"):
        schemas_dir({**missing, REQUIRE_ENV: "1"})


def test_an_incomplete_folder_fails_and_a_complete_one_is_used(tmp_path: Path) -> None:
    for name in FILES[1:]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("<x/>")
    with pytest.raises(pytest.fail.Exception, match=FILES[0]):
        schemas_dir({DIR_ENV: str(tmp_path)})
    (tmp_path / FILES[0]).write_text("<x/>")
    assert schemas_dir({DIR_ENV: str(tmp_path)}) == tmp_path


def test_ci_requires_the_schemas() -> None:
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert f"export {REQUIRE_ENV}=1" in lines
