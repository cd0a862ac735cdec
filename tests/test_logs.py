"""Logs: JSON lines for shippers, run id / as_of / counts / outcome, secrets masked everywhere."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from licensewatch import logs, pipeline
from licensewatch.cli import main
from licensewatch.errors import SourceError
from tests import orgfiles


def test_json_log_lines_carry_the_run_and_its_outcome(
    org: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["run", "--config", str(org), "--as-of", orgfiles.AS_OF, "--log-format", "json"]) == 0
    )
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines and all({"time", "level", "logger", "message"} <= set(doc) for doc in lines)
    assert all(doc["time"].endswith("Z") for doc in lines)
    finished = [doc["message"] for doc in lines if " finished: as_of=2019-12-31" in doc["message"]]
    assert len(finished) == 1
    assert '"accounts_read": 8' in finished[0] and '"phones_read": 4' in finished[0]


def test_registered_secrets_are_masked_in_records_and_tracebacks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.setup_logging("INFO", "json")
    logs.register_secrets(["hunter2-very-secret", "ab"])
    log = logs.get_logger("test")
    log.warning("token was %s", "hunter2-very-secret")
    try:
        raise ValueError("bad secret hunter2-very-secret")
    except ValueError:
        log.exception("failed")
    err = capsys.readouterr().err
    assert "hunter2-very-secret" not in err and logs.MASK in err
    assert logs.redact("ab cab") == "ab cab"  # too short to be a secret: not masked
    logs._SECRETS.clear()
    logging.getLogger(logs.LOGGER_NAME).handlers.clear()


def test_the_cli_error_line_masks_secrets_named_by_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "Sup3r-Secret-Value"
    monkeypatch.setenv("LW_TEST_SECRET", secret)
    config = orgfiles.CONFIG.replace(
        '[sources.phones]\nkind = "csv"\npath = "exports/phones.csv"\n',
        '[sources.phones]\nkind = "cucm"\naxl_url = "https://127.0.0.1:1/axl/"\n'
        'username = "lw"\npassword_env = "LW_TEST_SECRET"\n',
    )
    org = orgfiles.write_org(tmp_path / "org", config=config)

    def leaky(*args: object) -> None:
        raise SourceError(f"the call manager echoed the password {secret}")

    monkeypatch.setattr(pipeline, "_read_inputs", leaky)
    assert main(["run", "--config", str(org)]) == 1
    err = capsys.readouterr().err
    assert secret not in err and f"the password {logs.MASK}" in err
    logs._SECRETS.clear()
