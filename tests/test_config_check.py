"""``check-config`` lists every problem at once; ``run`` reads local files before remote feeds.

Issue 19 item 3: OK only when there is no problem at all (an unknown key in
``[mail.smtp]`` used to print OK and then fail); every problem of the config
and of every file in one pass; a missing file named by the key pointing to it.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from licensewatch import config_check
from licensewatch.cli.parser import main
from licensewatch.config import draft_settings, secret_variables
from tests import orgfiles

AS_OF = orgfiles.AS_OF
FIX = " (fix the file and run again; nothing was written)"
SMTP = '\n[mail.smtp]\nhost = "127.0.0.1"\nsecurity = "none"\n'
POLICY_KEYS = (
    "inactive_days, phone_inactive_days, separation_grace_days, activity_signal, "
    "max_dormant_fraction, max_feed_drop, max_new_findings_factor, new_findings_floor, "
    "allow_empty_separations, auto_remove_after_days"
)
SMTP_KEYS = "host, port, security, username, password_env, timeout_s, ca_file, local_hostname"
SEPARATIONS_HEADER = (
    "employee_id, email, name, department, separation_date, reason (optional: hired_on, rehire)"
)


def smtp_config(extra: str = "") -> str:
    return orgfiles.CONFIG.replace('transport = "directory"', 'transport = "smtp"') + SMTP + extra


def test_unknown_key_in_mail_smtp_is_not_ok(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    orgfiles.write_org(org.parent, config=smtp_config("bogus = 1\n"))
    assert main(["check-config", "--config", str(org)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"licensewatch: error: unknown key 'bogus' in [mail.smtp]; valid keys are: {SMTP_KEYS} "
        "(correct or remove the key in [mail.smtp])\n"
    )
    orgfiles.write_org(org.parent, config=smtp_config())
    assert main(["check-config", "--config", str(org)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"{org}: OK"


def test_every_problem_of_config_and_files_in_one_pass(
    org: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = org.parent
    config = smtp_config("bogus = 1\n")
    config = config.replace("inactive_days = 90\n", "inactive_dayz = 90\n", 1)
    config = config.replace("max_dormant_fraction = 0.9", "max_dormant_fraction = 1.5")
    orgfiles.write_org(
        root,
        config=config,
        rate_card=orgfiles.RATE_CARD.replace("189.60", "abc"),
        focal_points=orgfiles.FOCAL_POINTS.replace("fp.legal@contoso.org", "not-an-address"),
        phones=orgfiles.PHONES.replace(",UnRegistered,2019-01-01", ",Gone,2019-01-01"),
    )
    (root / "exports" / "separations.csv").unlink()
    assert main(["check-config", "--config", str(org)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"licensewatch: error: 7 problems in {org} and the files it names:",
        f"  licensewatch.toml: unknown key inactive_dayz in [policy] (valid keys are: "
        f"{POLICY_KEYS})",
        "  licensewatch.toml: [policy] max_dormant_fraction must be in (0, 1], not 1.5",
        f"  {root}/exports/phones.csv, row 4, column 'registration_status': 'Gone' is not a "
        "registration status; valid: Registered, UnRegistered, Rejected, PartiallyRegistered, "
        "Unknown, None" + FIX,
        f'  [sources.separations] path = "exports/separations.csv": no such file '
        f"({root}/exports/separations.csv); expected a CSV file with the header row: "
        f"{SEPARATIONS_HEADER} (correct path in [sources.separations], or put the file there)",
        f"  {root}/rate_card.csv, row 2, column 'annual_rate_usd': 'abc' is not an amount in "
        "dollars like 189.60" + FIX,
        f"  {root}/focal_points.csv, row 3, column 'email': 'not-an-address' is not an email "
        "address like name@example.org" + FIX,
        f"  unknown key 'bogus' in [mail.smtp]; valid keys are: {SMTP_KEYS} "
        "(correct or remove the key in [mail.smtp])",
        "  (fix them and run check-config again; nothing was written)",
    ]
    assert not (root / "licensewatch.db").exists()


def test_a_missing_reference_file_is_named_by_its_key(
    org: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (org.parent / "focal_points.csv").unlink()
    for command in (["check-config"], ["run", "--as-of", AS_OF]):
        assert main([*command, "--config", str(org)]) == 2
        assert capsys.readouterr().err.splitlines()[-1] == (
            f'licensewatch: error: [focal_points] path = "focal_points.csv": no such file '
            f"({org.parent}/focal_points.csv); expected a CSV file with the header row: "
            "department, email, name, cc, language, delegates "
            "(correct path in [focal_points], or put the file there)"
        )


def test_run_lists_every_config_problem(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = orgfiles.CONFIG.replace('transport = "directory"', 'transport = "pigeon"')
    config = config.replace("phone_inactive_days = 90", "phone_inactive_days = -1")
    orgfiles.write_org(org.parent, config=config)
    assert main(["run", "--config", str(org), "--as-of", AS_OF]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "licensewatch: error: 2 problems in the config:",
        "  licensewatch.toml: [policy] phone_inactive_days must be zero or more, not -1",
        "  licensewatch.toml: [mail] transport must be one of directory, smtp, graph, not 'pigeon'",
    ]


def test_registered_checks_run_with_the_reference_files(
    org: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[str]] = []

    def departments_without_reply_to(loaded: config_check.Loaded) -> Iterable[str]:
        departments = sorted(loaded.reference["focal_points"]["department"])
        seen.append(departments)
        if not loaded.settings.mail.reply_to:
            yield "[mail] reply_to is empty: replies would go to the sender"

    monkeypatch.setattr(config_check, "CHECKS", [departments_without_reply_to])
    assert main(["check-config", "--config", str(org)]) == 2
    assert seen == [["Finance", "Legal"]]
    assert capsys.readouterr().err == (
        "licensewatch: error: [mail] reply_to is empty: replies would go to the sender\n"
    )
    config = orgfiles.CONFIG.replace('from = "', 'reply_to = "ict@contoso.org"\nfrom = "')
    orgfiles.write_org(org.parent, config=config)
    assert main(["check-config", "--config", str(org)]) == 0
    assert "OK" in capsys.readouterr().out


class _Counting(ThreadingHTTPServer):
    """A loopback HTTP server that counts every connection made to it, TLS or not."""

    connections = 0

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        self.connections += 1  # in the serving thread, one connection at a time
        super().process_request(request, client_address)


class _Refuse(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_error(503)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def counting_server() -> Iterator[_Counting]:
    server = _Counting(("127.0.0.1", 0), _Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _live_phones_config(port: int) -> str:
    live = (
        "[sources.phones]\n"
        'kind = "cucm"\n'
        f'axl_url = "https://127.0.0.1:{port}/axl/"\n'
        'username = "licensewatch-axl"\n'
        'password_env = "LW_TEST_I19_AXL_PASSWORD"\n'
        "verify_tls = false\n"
        "max_retries = 0\n"
        "timeout_s = 5\n"
        'owner_match = "upn_local_part"\n'
    )
    old = (
        '[sources.phones]\nkind = "csv"\npath = "exports/phones.csv"\n'
        'owner_match = "upn_local_part"\n'
    )
    assert old in orgfiles.CONFIG
    return orgfiles.CONFIG.replace(old, live)


def test_run_reads_a_missing_hr_file_before_any_remote_pull(
    org: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    counting_server: _Counting,
) -> None:
    monkeypatch.setenv("LW_TEST_I19_AXL_PASSWORD", "not-a-real-password")
    port = counting_server.server_address[1]
    orgfiles.write_org(org.parent, config=_live_phones_config(port))
    separations = org.parent / "exports" / "separations.csv"
    separations.unlink()
    assert main(["run", "--config", str(org), "--as-of", AS_OF]) == 2
    err = capsys.readouterr().err
    assert '[sources.separations] path = "exports/separations.csv": no such file' in err
    assert counting_server.connections == 0
    # The control: with the HR file back, the same run does reach the (failing) call manager.
    separations.write_text(orgfiles.SEPARATIONS, encoding="utf-8")
    assert main(["run", "--config", str(org), "--as-of", AS_OF]) == 1
    assert counting_server.connections >= 1
    assert not (org.parent / "reports" / AS_OF).exists()


def test_missing_export_folders_are_named_by_their_keys(
    org: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = orgfiles.CONFIG.replace('path = "exports/graph"', 'path = "exports/graf"')
    config = config.replace(
        'kind = "csv"\npath = "exports/phones.csv"',
        'kind = "cucm-export"\npath = "exports/phones.csv"',
    )
    orgfiles.write_org(org.parent, config=config)
    assert main(["check-config", "--config", str(org)]) == 2
    assert capsys.readouterr().err.splitlines()[1:3] == [
        f'  [sources.accounts] path = "exports/graf": no such folder ({org.parent}/exports/graf); '
        "expected the users pages (users*.json) and subscribedSkus.json of a Graph export "
        "(correct path in [sources.accounts], or put the folder there)",
        f'  [sources.phones] path = "exports/phones.csv": is a file, not a folder '
        f"({org.parent}/exports/phones.csv); expected a saved CUCM pull (FOLDER/phones of "
        "licensewatch pull --save FOLDER) (correct path in [sources.phones], or put the folder "
        "there)",
    ]


def test_a_config_with_problems_still_names_its_secret_variables(org: Path) -> None:
    config = smtp_config('username = "lw"\npassword_env = "LW_TEST_I19_SMTP"\n')
    config = config.replace("inactive_days = 90\n", "inactive_days = -5\n", 1)
    orgfiles.write_org(org.parent, config=config)
    draft = draft_settings(org)
    assert draft.settings is None and len(draft.errors) == 1
    assert secret_variables(draft) == ["LW_TEST_I19_SMTP"]
