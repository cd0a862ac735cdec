"""The scheduler side: the entry point ships in the package, the systemd units do what they say."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JOBS = ROOT / "jobs"
SERVICE = JOBS / "licensewatch.service"
TIMER = JOBS / "licensewatch.timer"
FAILURE = JOBS / "licensewatch-failure@.service"
ENTRY = "python -m licensewatch.jobs.nightly"


def unit_keys(path: Path) -> dict[str, dict[str, list[str]]]:
    """``{section: {key: [values]}}`` of a systemd unit file (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_the_wheel_ships_licensewatch_jobs_and_no_top_level_jobs(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("licensewatch-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/", 1)[0] for name in names if "/" in name} == {
        "licensewatch",
        wheel.name.split("-py3")[0] + ".dist-info",
    }
    assert "licensewatch/jobs/__init__.py" in names
    assert "licensewatch/jobs/nightly.py" in names


def test_the_sdist_still_carries_the_examples() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    sdist = text.split("[tool.hatch.build.targets.sdist]", 1)[1].split("\n\n", 1)[0]
    assert '"jobs"' in sdist


def test_the_repository_shim_is_the_packaged_entry_point() -> None:
    from jobs import nightly as shim
    from licensewatch.jobs import nightly as packaged

    assert shim.nightly is packaged.nightly


def test_every_example_runs_the_packaged_entry_point() -> None:
    for path in (SERVICE, JOBS / "crontab.example", JOBS / "README.md", ROOT / "README.md"):
        text = path.read_text(encoding="utf-8")
        assert ENTRY in text, path.name
    for path in (SERVICE, JOBS / "crontab.example"):
        assert "-m jobs.nightly" not in path.read_text(encoding="utf-8"), path.name


def test_the_service_restarts_on_failure_except_for_input_errors_and_the_brake() -> None:
    unit = unit_keys(SERVICE)
    service, head = unit["Service"], unit["Unit"]
    assert service["Type"] == ["oneshot"]
    assert service["Restart"] == ["on-failure"]
    assert service["RestartPreventExitStatus"] == ["2 3"]
    assert service["ExecStart"] == [f"/opt/licensewatch/bin/{ENTRY}"]
    assert head["OnFailure"] == ["licensewatch-failure@%N.service"]
    assert FAILURE.is_file()
    assert {"StartLimitIntervalSec", "StartLimitBurst"} <= head.keys()


def test_the_service_is_hardened_and_reads_its_secrets_from_a_file() -> None:
    service = unit_keys(SERVICE)["Service"]
    assert service["User"] == ["licensewatch"]
    assert service["Group"] == ["licensewatch"]
    assert service["ProtectSystem"] == ["strict"]
    assert service["ProtectHome"] == ["yes"]
    assert service["PrivateTmp"] == ["yes"]
    assert service["NoNewPrivileges"] == ["yes"]
    writable = service["ReadWritePaths"][0].split()
    assert service["WorkingDirectory"][0] in writable
    assert "/srv/licensewatch/reports" in writable
    assert service["EnvironmentFile"] == ["/etc/licensewatch/secrets.env"]
    assert service["Environment"] == ["LICENSEWATCH_CONFIG=/etc/licensewatch/licensewatch.toml"]


def test_the_timer_runs_nightly_and_catches_up() -> None:
    timer = unit_keys(TIMER)
    assert timer["Timer"]["OnCalendar"] == ["*-*-* 02:30:00 UTC"]
    assert timer["Timer"]["Persistent"] == ["true"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]


def failure_scripts() -> list[str]:
    """The failure unit's shell scripts as systemd runs them for ``licensewatch.service``."""
    scripts = []
    for value in unit_keys(FAILURE)["Service"]["ExecStart"]:
        shell, flag, script = shlex.split(value)
        assert (shell, flag) == ("/bin/sh", "-c")
        script = script.replace("%i", "licensewatch").replace("%H", "batch01")
        scripts.append(script.replace("$$", "$"))
    return scripts


@pytest.mark.parametrize("mailto", ["", "ops@example.org"])
def test_the_failure_unit_logs_an_error_and_mails_when_told(tmp_path: Path, mailto: str) -> None:
    calls = tmp_path / "calls"
    for name in ("systemctl", "systemd-cat", "mail"):
        fake = tmp_path / name
        fake.write_text(f'#!/bin/sh\necho "{name} $*" >> {calls}\ncat > /dev/null\n')
        fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "LICENSEWATCH_MAILTO": mailto}
    ran = []
    for script in failure_scripts():
        calls.write_text("")
        subprocess.run(["/bin/sh", "-c", script], env=env, check=True, stdin=subprocess.DEVNULL)
        # The two ends of a pipe run at once: the order of their lines is not fixed.
        ran.append(sorted(calls.read_text().splitlines()))
    status = "systemctl status --full --no-pager --lines=30 licensewatch"
    mail = "mail -s licensewatch: licensewatch failed on batch01 ops@example.org"
    assert ran == [
        sorted([status, "systemd-cat --identifier=licensewatch-failure --priority=err"]),
        sorted([status, mail]) if mailto else [],
    ]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    for unit in (SERVICE, TIMER, FAILURE):
        text = unit.read_text(encoding="utf-8")
        text = text.replace("/opt/licensewatch/bin/python", sys.executable)
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    # The instance OnFailure= starts, so that the template's %i resolves.
    shutil.copy(tmp_path / FAILURE.name, tmp_path / "licensewatch-failure@licensewatch.service")
    names = [path.name for path in sorted(tmp_path.iterdir())]
    proc = subprocess.run(
        ["systemd-analyze", "verify", *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "notice"},
    )
    assert proc.returncode == 0, proc.stderr
    # An unknown key or a key in the wrong section is only a warning (exit 0): none either.
    assert not [
        line for line in proc.stderr.splitlines() if str(tmp_path) in line or "licensewatch" in line
    ], proc.stderr
