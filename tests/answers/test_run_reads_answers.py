"""The nightly run reads the answers mailbox first, records in its transaction, files after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from licensewatch.cli.parser import main
from tests import orgfiles
from tests.answers.test_inbox import KEY, PASS, TRUSTED, answer_csv, reply
from tests.imapserver import LoopbackDovecot
from tests.smtporg import rows, whole_text, write_smtp_org
from tests.smtpserver import LoopbackSmtp


def with_answers(config: Path, server: LoopbackDovecot) -> None:
    """Point ``config`` at ``server`` as its IMAP answers mailbox (and its replies there)."""
    text = config.read_text(encoding="utf-8")
    text += (
        '\n[answers]\nkind = "imap"\n'
        f'trusted_authserv_id = "{TRUSTED}"\nsigning_key_env = "LW_ANSWERS_KEY"\n'
        "[answers.imap]\n"
        f'host = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\n'
        'username = "ict"\npassword_env = "LW_IMAP_PW"\n'
    )
    config.write_text(text, encoding="utf-8")


@pytest.fixture
def night_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LW_ANSWERS_KEY", KEY.decode())
    monkeypatch.setenv("LW_IMAP_PW", "imap-pw")


@pytest.mark.usefixtures("night_env")
def test_tonights_run_records_this_mornings_reply_and_files_it(
    tmp_path: Path, dovecot: LoopbackDovecot
) -> None:
    config = orgfiles.write_org(tmp_path / "org")
    with_answers(config, dovecot)
    assert main(["run", "--config", str(config), "--as-of", orgfiles.AS_OF]) == 0
    db = config.parent / "licensewatch.db"
    [(dave,)] = rows(db, "select resource_id from resource_state where subject = 'dave@contoso.org'"
                     " and resource_kind = 'license'")  # fmt: skip
    # Received a minute after the first run (INTERNALDATE has whole seconds only).
    later = datetime.now(UTC) + timedelta(minutes=1)
    answer = reply("fp.legal@contoso.org", 1, answer_csv([f"{dave},,remove,,"]))
    dovecot.append("ict", "INBOX", answer, received=later)
    assert main(["run", "--config", str(config), "--as-of", "2020-01-01"]) == 0
    assert rows(db, "select resource_id, decided_by, source from decisions") == [
        (dave, "fp.legal@contoso.org", "mail")
    ]
    assert rows(db, "select folder, recorded from answer_messages") == [("processed", 1)]
    assert dovecot.folder_messages("ict", "INBOX") == []
    assert len(dovecot.folder_messages("ict", "licensewatch.processed")) == 1
    # The answer went out with the night's emails (the directory transport).
    assert rows(db, "select status from outbox where kind = 'confirmation'") == [("sent",)]
    # With no operator command in between, the licence is on the deprovisioning list.
    listed = tmp_path / "deprovision.csv"
    assert main(["deprovision", "--config", str(config), "--out", str(listed)]) == 0
    assert dave in listed.read_text(encoding="utf-8")


@pytest.mark.usefixtures("night_env")
def test_a_failed_run_leaves_the_reply_waiting_and_records_nothing(
    tmp_path: Path, dovecot: LoopbackDovecot
) -> None:
    config = orgfiles.write_org(tmp_path / "org")
    with_answers(config, dovecot)
    assert main(["run", "--config", str(config), "--as-of", orgfiles.AS_OF]) == 0
    db = config.parent / "licensewatch.db"
    dovecot.append("ict", "INBOX", reply("fp.legal@contoso.org", 1, answer_csv(["x,,remove,,"])))
    # The rate card breaks after the mailbox was read: the run's transaction rolls back.
    (config.parent / "rate_card.csv").write_text("not,a,rate,card\n", encoding="utf-8")
    assert main(["run", "--config", str(config), "--as-of", "2020-01-01"]) == 2
    assert rows(db, "select count(*) from answer_messages") == [(0,)]
    assert len(dovecot.folder_messages("ict", "INBOX")) == 1


def test_a_missing_mac_key_stops_the_run_before_anything_is_read(
    tmp_path: Path, dovecot: LoopbackDovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LW_IMAP_PW", "imap-pw")
    monkeypatch.delenv("LW_ANSWERS_KEY", raising=False)
    config = orgfiles.write_org(tmp_path / "org")
    with_answers(config, dovecot)
    dovecot.append("ict", "INBOX", reply("fp.legal@contoso.org", 1, None, results=PASS))
    assert main(["run", "--config", str(config), "--as-of", orgfiles.AS_OF]) == 2
    assert len(dovecot.folder_messages("ict", "INBOX")) == 1


@pytest.mark.usefixtures("night_env")
def test_the_answer_reaches_the_sender_through_the_smtp_relay_once(
    tmp_path: Path, dovecot: LoopbackDovecot, smtp_server: LoopbackSmtp
) -> None:
    config = write_smtp_org(tmp_path / "org", smtp_server)
    with_answers(config, dovecot)
    assert main(["run", "--config", str(config), "--as-of", orgfiles.AS_OF]) == 0
    [(carol,)] = rows(
        config,
        "select resource_id from resource_state where subject = 'carol@contoso.org'"
        " and resource_kind = 'license'",
    )
    later = datetime.now(UTC) + timedelta(minutes=1)
    bad = answer_csv([f"{carol},,keep,,2020-03-31"])  # a keep needs a justification
    dovecot.append("ict", "INBOX", reply("fp.legal@contoso.org", 5, bad), received=later)
    before = len(smtp_server.messages)
    assert main(["run", "--config", str(config), "--as-of", "2020-01-01"]) == 0
    assert main(["run", "--config", str(config), "--as-of", "2020-01-01"]) == 0
    [answer] = [m for m in smtp_server.messages[before:] if "answer_" in m.message["Message-ID"]]
    assert answer.rcpt_tos == ["fp.legal@contoso.org"]
    assert answer.message["In-Reply-To"] == "<reply-5@contoso.org>"
    text = " ".join(whole_text(answer.message).split())
    assert "Not recorded" in text and "row 2, column justification" in text
    assert rows(config, "select count(*) from decisions") == [(0,)]
    assert len(dovecot.folder_messages("ict", "licensewatch.rejected")) == 1


def test_check_config_says_when_replies_would_not_reach_the_answers_mailbox(
    tmp_path: Path,
    dovecot: LoopbackDovecot,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LW_ANSWERS_KEY", raising=False)
    monkeypatch.setenv("LW_IMAP_PW", "imap-pw")
    config = orgfiles.write_org(tmp_path / "org")
    with_answers(config, dovecot)
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("[answers]\n", '[answers]\naddress = "ict-licensing@contoso.org"\n'),
        encoding="utf-8",
    )
    assert main(["check-config", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "[mail] from (reply_to is not set) is 'licensewatch@contoso.org'" in err
    assert "set [mail] reply_to = 'ict-licensing@contoso.org'" in err
    assert "signing_key_env names $LW_ANSWERS_KEY, which is not set" in err
    monkeypatch.setenv("LW_ANSWERS_KEY", KEY.decode())
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            'from = "licensewatch@contoso.org"',
            'from = "licensewatch@contoso.org"\nreply_to = "ICT <ict-licensing@contoso.org>"',
        ),
        encoding="utf-8",
    )
    assert main(["check-config", "--config", str(config)]) == 0
