"""The CLI end to end on the tiny organization: outputs, exit codes, nothing written on errors."""

from __future__ import annotations

import argparse
import csv
import email
import email.policy
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import pytest

from licensewatch.cli.parser import build_parser, main
from tests import orgfiles

AS_OF = orgfiles.AS_OF


def run_cli(*args: str) -> int:
    return main(list(args))


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def emails(folder: Path) -> list[EmailMessage]:
    out = []
    for path in sorted(folder.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        out.append(msg)
    return out


def whole_text(msg: EmailMessage) -> str:
    """Every decoded text part of a message, attachments included, plus its headers."""
    parts = [str(v) for _, v in msg.items()]
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)


def db_counts(db: Path) -> dict[str, int]:
    if not db.exists():
        return {}
    with sqlite3.connect(db) as con:
        names = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
        return {n: con.execute(f'select count(*) from "{n}"').fetchone()[0] for n in names}


def test_run_writes_expected_findings_reports_and_emails(
    org: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("run", "--config", str(org), "--as-of", AS_OF) == 0
    out = capsys.readouterr().out
    assert "annual avoidable cost" in out and "USD 1,638.00" in out

    reports = org.parent / "reports" / AS_OF
    findings = read_csv(reports / "findings.csv")
    assert list(findings[0]) == [
        "department",
        "resource_kind",
        "subject",
        "owner_upn",
        "display_name",
        "reasons",
        "dormant_since",
        "days_dormant",
        "item",
        "annual_cost_usd",
        "accrued_cost_usd",
        "status",
        "sku_part_number",
        "via_group",
        "follow_up",
    ]
    got = {
        (r["department"], r["subject"], r["reasons"], r["item"], r["annual_cost_usd"])
        for r in findings
    }
    assert got == orgfiles.EXPECTED
    # Where each stands for finance and the committee: nobody has answered yet, none overdue.
    assert {r["follow_up"] for r in findings} == {"unanswered"}
    bob = next(r for r in findings if r["subject"] == "bob@contoso.org" and r["item"])
    assert bob["dormant_since"] == "2019-06-01" and bob["days_dormant"] == "213"
    assert bob["accrued_cost_usd"] == "110.64"  # 18960 cents × 213 / 365 = 11064.33 cents
    # Emailed departments and the unassigned queue (unassigned_to is set) are "notified".
    status = {r["subject"]: r["status"] for r in findings}
    assert status["frank@contoso.org"] == "notified" == status["bob@contoso.org"]

    summary = read_csv(reports / "finance_summary.csv")
    total = sum(Decimal(r["annual_avoidable_usd"]) for r in summary)
    assert total == sum(Decimal(r["annual_cost_usd"]) for r in findings) == Decimal("1638.00")
    accrued = sum(Decimal(r["accrued_avoidable_usd"]) for r in summary)
    assert accrued == sum(Decimal(r["accrued_cost_usd"]) for r in findings)

    assert [r["subject"] for r in read_csv(reports / "unassigned.csv")] == ["frank@contoso.org"]
    assert [r["email"] for r in read_csv(reports / "leavers_without_account.csv")] == [
        "zed@contoso.org"
    ]

    messages = emails(org.parent / "outbox")
    by_to = {str(m["To"]): m for m in messages}
    assert set(by_to) == {
        "fp.finance@contoso.org",
        "fp.legal@contoso.org",
        "ict-licensing@contoso.org",
    }
    finance, legal = by_to["fp.finance@contoso.org"], by_to["fp.legal@contoso.org"]
    assert "Zoë Müller" in whole_text(finance)
    assert "legal.assistant@contoso.org" in str(legal["Cc"])
    # A department's email carries that department's rows only, attachments included.
    for mine, other in (
        (finance, ["carol@", "dave@", "erin@", "SEP000000000003", "frank@"]),
        (legal, ["bob@", "SEP000000000002", "frank@", "alice@"]),
    ):
        text = whole_text(mine)
        for foreign in other:
            assert foreign not in text


def test_rerun_same_day_sends_nothing_new(org: Path) -> None:
    assert run_cli("run", "--config", str(org), "--as-of", AS_OF) == 0
    outbox = org.parent / "outbox"
    first = {p.name: p.stat().st_mtime_ns for p in outbox.glob("*.eml")}
    assert run_cli("run", "--config", str(org), "--as-of", AS_OF) == 0
    assert {p.name: p.stat().st_mtime_ns for p in outbox.glob("*.eml")} == first
    counts = db_counts(org.parent / "licensewatch.db")
    assert counts["runs"] == 2 and counts["findings"] == 2 * len(orgfiles.EXPECTED)


def test_dry_run_sends_and_records_nothing(org: Path) -> None:
    assert run_cli("run", "--config", str(org), "--as-of", AS_OF, "--dry-run") == 0
    assert not list(org.parent.glob("outbox/*.eml"))
    counts = db_counts(org.parent / "licensewatch.db")
    assert counts.get("runs", 0) == 0 and counts.get("findings", 0) == 0
    assert not (org.parent / "reports" / AS_OF).exists()
    reports = org.parent / "reports" / "dry-run" / AS_OF
    assert len(read_csv(reports / "findings.csv")) == len(orgfiles.EXPECTED)
    assert len(list((reports / "email-previews").glob("*.eml"))) == 3
    # Nothing was notified, so every finding is still new.
    assert {r["status"] for r in read_csv(reports / "findings.csv")} == {"new"}


def error_lines(err: str) -> list[str]:
    """The error lines the CLI printed on stderr, log lines left out."""
    return [line for line in err.splitlines() if line.startswith("licensewatch: error:")]


FIX_AND_RERUN = " (fix the file and run again; nothing was written)"

# The whole error line, {root} standing for the organization's folder.
BAD_INPUTS = [
    pytest.param(
        "phones",
        orgfiles.PHONES.replace("registration_status,", "status,"),
        "licensewatch: error: {root}/exports/phones.csv, row 1, column 'registration_status': "
        "required column 'registration_status' is missing" + FIX_AND_RERUN,
        id="missing-column",
    ),
    pytest.param(
        "separations",
        orgfiles.SEPARATIONS.replace("2019-11-30", "30/11/2019x"),
        "licensewatch: error: {root}/exports/separations.csv, row 2, column 'separation_date': "
        "'30/11/2019x' is not a date like 2019-12-31" + FIX_AND_RERUN,
        id="unparseable-date",
    ),
    pytest.param(
        "phones",
        orgfiles.PHONES
        + "sep000000000001,dup,Cisco 8845,DP_FIN,alice,1005,Registered,2019-12-30\n",
        "licensewatch: error: {root}/exports/phones.csv, row 6, column 'device_name': "
        "duplicate device_name 'sep000000000001': also in row 2" + FIX_AND_RERUN,
        id="duplicate-subject",
    ),
]


@pytest.mark.parametrize(("name", "text", "line"), BAD_INPUTS)
def test_bad_input_exits_2_names_the_place_and_writes_nothing(
    org: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, line: str
) -> None:
    assert run_cli("run", "--config", str(org), "--as-of", AS_OF) == 0
    reports = org.parent / "reports" / AS_OF
    before_reports = {p.name: p.read_bytes() for p in reports.iterdir()}
    before_db = db_counts(org.parent / "licensewatch.db")
    capsys.readouterr()

    orgfiles.write_org(org.parent, **{name: text})
    assert run_cli("run", "--config", str(org), "--as-of", AS_OF) == 2
    expected = line.format(root=org.parent)
    err = capsys.readouterr().err
    assert error_lines(err) == [expected]
    assert err.endswith(expected + "\n")
    assert "Traceback" not in err
    assert {p.name: p.read_bytes() for p in reports.iterdir()} == before_reports
    assert db_counts(org.parent / "licensewatch.db") == before_db

    assert run_cli("check-config", "--config", str(org)) == 2
    assert capsys.readouterr().err == expected + "\n"


def test_bad_input_on_first_run_creates_no_database(
    org: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    orgfiles.write_org(org.parent, rate_card=orgfiles.RATE_CARD.replace("189.60", "abc"))
    assert run_cli("run", "--config", str(org), "--as-of", AS_OF) == 2
    assert error_lines(capsys.readouterr().err) == [
        f"licensewatch: error: {org.parent}/rate_card.csv, row 2, column 'annual_rate_usd': "
        "'abc' is not an amount in dollars like 189.60" + FIX_AND_RERUN
    ]
    assert not (org.parent / "licensewatch.db").exists()
    assert not (org.parent / "reports").exists() or not any((org.parent / "reports").iterdir())


def test_failure_after_staging_leaves_database_and_reports_as_they_were(
    org: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("run", "--config", str(org), "--as-of", AS_OF) == 0
    reports = org.parent / "reports" / AS_OF
    before_reports = {p.name: p.read_bytes() for p in reports.iterdir()}
    before_db = db_counts(org.parent / "licensewatch.db")

    from licensewatch import store
    from licensewatch.errors import StorageError

    def broken(*args: object, **kwargs: object) -> None:
        raise StorageError("database went away")

    monkeypatch.setattr(store, "finish_run", broken)
    assert run_cli("run", "--config", str(org), "--as-of", AS_OF) == 1
    assert error_lines(capsys.readouterr().err) == ["licensewatch: error: database went away"]
    assert {p.name: p.read_bytes() for p in reports.iterdir()} == before_reports
    assert db_counts(org.parent / "licensewatch.db") == before_db
    assert not [p for p in reports.parent.iterdir() if p.name.startswith(".")]


def test_check_config_accepts_a_good_config(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("check-config", "--config", str(org)) == 0
    assert "OK" in capsys.readouterr().out
    assert not (org.parent / "licensewatch.db").exists()


def test_config_errors_exit_2_with_one_line(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    orgfiles.write_org(
        org.parent,
        config=orgfiles.CONFIG.replace("inactive_days = 90\n", "inactive_dayz = 90\n", 1),
    )
    assert run_cli("run", "--config", str(org)) == 2
    assert capsys.readouterr().err == (
        "licensewatch: error: licensewatch.toml: unknown key inactive_dayz in [policy] (valid "
        "keys are: inactive_days, phone_inactive_days, separation_grace_days, activity_signal, "
        "max_dormant_fraction, max_feed_drop, max_new_findings_factor, new_findings_floor, "
        "allow_empty_separations, auto_remove_after_days)\n"
    )


def test_missing_config_and_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli("run", "--config", str(tmp_path / "nope.toml")) == 2
    assert capsys.readouterr().err == (
        f"licensewatch: error: config file {tmp_path / 'nope.toml'} does not exist "
        "(pass --config with the path of your licensewatch.toml)\n"
    )
    with pytest.raises(SystemExit) as exc:
        run_cli("run", "--as-of", "31/12/2019")
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "licensewatch run: error: argument --as-of: '31/12/2019' is not a date: use YYYY-MM-DD"
    )
    monkeypatch.delenv("LICENSEWATCH_CONFIG", raising=False)
    assert run_cli("outbox") == 2
    assert capsys.readouterr().err == (
        "licensewatch: error: no config file (pass --config FILE or set LICENSEWATCH_CONFIG)\n"
    )


def test_debug_shows_the_traceback(org: Path) -> None:
    orgfiles.write_org(org.parent, rate_card="nonsense\n")
    from licensewatch.errors import InputError

    for argv in (
        ["--debug", "run", "--config", str(org)],
        ["run", "--debug", "--config", str(org)],
    ):
        with pytest.raises(InputError):
            main(argv)


def _commands(
    parser: argparse.ArgumentParser, path: str = "licensewatch"
) -> Iterator[tuple[str, str | None, argparse.ArgumentParser]]:
    """Every (sub)command at any depth, with the help its parent gives it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {c.dest: c.help for c in action._choices_actions}
            for name, sub in action.choices.items():
                yield f"{path} {name}", helps.get(name), sub
                yield from _commands(sub, f"{path} {name}")


def test_every_command_and_option_has_help() -> None:
    found = list(_commands(build_parser()))
    names = {name for name, _, _ in found}
    assert {
        "licensewatch db upgrade",
        "licensewatch report finance",
        "licensewatch report risk",
    } <= names
    for name, help_text, sub in found:
        assert help_text, f"{name} has no help"
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings} has no help"


def test_jobs_nightly_reads_the_config_from_the_environment(org: Path) -> None:
    env = {**os.environ, "LICENSEWATCH_CONFIG": str(org)}
    proc = subprocess.run(
        [sys.executable, "-m", "jobs.nightly", "--as-of", AS_OF],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.returncode == 0, proc.stderr
    assert (org.parent / "reports" / AS_OF / "findings.csv").exists()
