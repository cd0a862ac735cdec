"""Logs: JSON lines for shippers, run id / as_of / counts / outcome, secrets masked everywhere."""

from __future__ import annotations

import base64
import json
import logging
import re
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from licensewatch import logs
from licensewatch.cli.parser import main
from licensewatch.errors import SourceError
from licensewatch.sources.cucm.live import CucmSource
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
    logs.forget_secrets()
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

    def leaky(*args: object, **kwargs: object) -> None:
        raise SourceError(f"the call manager echoed the password {secret}")

    monkeypatch.setattr(CucmSource, "pull", leaky)
    assert main(["run", "--config", str(org)]) == 1
    err = capsys.readouterr().err
    assert secret not in err and f"the password {logs.MASK}" in err
    logs.forget_secrets()


@pytest.mark.parametrize("secret", ["pässwörd-ü€", 'Smtp+Pa55/w&rd="x\\y', "Qx8~plain.value_123"])
def test_encoded_forms_of_a_secret_are_masked(secret: str, monkeypatch: pytest.MonkeyPatch) -> None:
    logs.forget_secrets()
    logs.register_secrets([secret])
    raw = secret.encode()
    b64 = base64.b64encode
    forms = {
        "base64": b64(raw).decode(),
        "base64 unpadded": b64(raw).decode().rstrip("="),
        "base64url": base64.urlsafe_b64encode(raw).decode(),
        "AUTH PLAIN": b64(b"\0lw\0" + raw).decode(),
        "AUTH PLAIN with authzid": b64(b"lw\0lw\0" + raw).decode(),
        "Basic header": b64(b"lw:" + raw).decode(),
        "inside a longer blob": b64(b"grant_type=x&client_secret=" + raw + b"&scope=y").decode(),
        "URL-encoded": quote(secret, safe=""),
        "URL-encoded, / kept": quote(secret),
        "form-encoded": quote_plus(secret),
        "lower-case hex": re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quote(secret, "")),
        "JSON-escaped": json.dumps(secret)[1:-1],
        "JSON-escaped, ASCII": json.dumps(secret, ensure_ascii=True)[1:-1],
    }
    for name, form in forms.items():
        text = f"535 5.7.8 failed for <{form}>: try again"
        assert logs.redact(text) == f"535 5.7.8 failed for <{logs.MASK}>: try again", name
    # Ordinary words and other base64 stay as they are.
    other = "connection refused by relay01.contoso.org " + b64(b"\0lw\0another").decode()
    assert logs.redact(other) == other
