"""``[reports] file_mode`` and ``group``: every report and email file and folder gets them."""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

import pytest

from licensewatch.cli.parser import main
from licensewatch.config import load_settings
from licensewatch.errors import ConfigError
from tests import orgfiles

MY_GROUP = grp.getgrgid(os.getgid()).gr_name


def _org(tmp_path: Path, extra: str = "") -> Path:
    config = orgfiles.CONFIG.replace(
        '[reports]\ndir = "reports"', f'[reports]\ndir = "reports"\n{extra}'
    )
    assert extra == "" or config != orgfiles.CONFIG
    return orgfiles.write_org(tmp_path / "org", config=config)


def _modes(root: Path) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {"files": set(), "folders": set()}
    for path in (root, *root.rglob("*")):
        found["folders" if path.is_dir() else "files"].add(stat.S_IMODE(path.stat().st_mode))
    return found


def test_reports_and_emails_are_0640_in_0750_folders_by_default(tmp_path: Path) -> None:
    org = _org(tmp_path)
    old = os.umask(0o077)  # the modes do not depend on the job's umask
    try:
        assert main(["run", "--config", str(org), "--as-of", orgfiles.AS_OF]) == 0
    finally:
        os.umask(old)
    reports = org.parent / "reports" / orgfiles.AS_OF
    assert (reports / "findings.csv").exists()
    assert _modes(reports) == {"files": {0o640}, "folders": {0o750}}
    emails = list((org.parent / "outbox").glob("*.eml"))
    assert len(emails) == 3  # both departments and the unassigned queue
    assert {stat.S_IMODE(p.stat().st_mode) for p in emails} == {0o640}
    assert stat.S_IMODE((org.parent / "outbox").stat().st_mode) == 0o750


def test_a_configured_mode_and_group_apply_to_files_and_folders(tmp_path: Path) -> None:
    org = _org(tmp_path, f'file_mode = "0600"\ngroup = "{MY_GROUP}"')
    assert main(["run", "--config", str(org), "--as-of", orgfiles.AS_OF, "--dry-run"]) == 0
    previews = org.parent / "reports" / "dry-run" / orgfiles.AS_OF
    assert (previews / "email-previews").is_dir()
    assert _modes(previews) == {"files": {0o600}, "folders": {0o700}}
    assert {p.stat().st_gid for p in previews.rglob("*")} == {os.getgid()}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('file_mode = "0666"', "[reports] file_mode = '0666': world-writable files are refused"),
        ('file_mode = "0642"', "[reports] file_mode = '0642': world-writable files are refused"),
        ("file_mode = 640", "[reports] file_mode = 640: not an octal mode"),
        ('file_mode = "0890"', "[reports] file_mode = '0890': not an octal mode"),
        (
            'file_mode = "0440"',
            "[reports] file_mode = '0440': the owner must be able to read and write",
        ),
        (
            'group = "no-such-group-lw"',
            "[reports] group = 'no-such-group-lw': no such group on this machine",
        ),
    ],
)
def test_a_bad_mode_or_group_is_a_config_error_naming_the_key(
    tmp_path: Path, extra: str, message: str
) -> None:
    org = _org(tmp_path, extra)
    with pytest.raises(ConfigError) as err:
        load_settings(org)
    assert err.value.message == f"{org.name}: {message}"
