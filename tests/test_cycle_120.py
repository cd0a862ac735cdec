"""The cycle over 120 simulated nights of the tiny organization: nobody falls out of it.

Each night is ``licensewatch run --as-of`` in-process, delivering to the
directory transport; what went out is read back from the outbox table. Legal
answers part of its list on day 5; the rest is chased: every unanswered item
is in an email to its focal points at least every ``escalate_every_days``, the
committee gets exactly one digest per escalation day, and the no-response rule
puts the separated account's licence on the removal list.
"""

from __future__ import annotations

import email
import email.policy
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from licensewatch.cli.parser import main
from tests import orgfiles
from tests.smtporg import rows
from tests.store.conftest import fresh_schema, pg_server_url  # noqa: F401 - the fixture
from tests.test_cli import error_lines
from tests.test_cycle_days import answered

START = date(2019, 12, 31)
NIGHTS = 120
EVERY = 30
ESCALATION_TO = "ict-steering@contoso.org"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "sqlite":
        yield "sqlite:///licensewatch.db"
        return
    with fresh_schema(request.getfixturevalue("pg_server_url"), "lw_cycle120") as url:
        yield url


def org(root: Path, database_url: str = "sqlite:///licensewatch.db", mail: str = "") -> Path:
    config = orgfiles.CONFIG.replace('url = "sqlite:///licensewatch.db"', f'url = "{database_url}"')
    config = config.replace(
        'from = "licensewatch@contoso.org"\n',
        f'from = "licensewatch@contoso.org"\nescalate_every_days = {EVERY}\n{mail}',
    )
    config = config.replace("max_dormant_fraction = 0.9\n", "max_dormant_fraction = 0.9\n"
                            "auto_remove_after_days = 10\n")  # fmt: skip
    return orgfiles.write_org(root, config=config)


def night(config: Path, n: int) -> int:
    return main(["run", "--config", str(config), "--as-of", (START + timedelta(n)).isoformat()])


def eml(config: Path, key: str) -> EmailMessage:
    data = (config.parent / "outbox" / f"{key}.eml").read_bytes()
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def sent(config: Path) -> list[tuple[str, str, date, list[str], str]]:
    """(key, kind, as_of, resource ids, department) of every message, oldest first."""
    found = rows(
        config, "select key, kind, as_of, resource_ids, department from outbox order by id"
    )
    out = []
    for key, kind, as_of, ids, department in found:
        day = as_of if isinstance(as_of, date) else date.fromisoformat(str(as_of))
        listed = ids if isinstance(ids, list) else json.loads(ids)
        out.append((str(key), str(kind), day, [str(i) for i in listed], str(department)))
    return out


def test_every_unanswered_item_is_chased_and_the_committee_gets_one_digest_a_day(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = org(tmp_path / "org", database_url)
    assert night(config, 0) == 0
    legal = next(k for k, kind, _, _, d in sent(config) if d == "Legal" and kind == "notice")
    for n in range(1, NIGHTS):
        if n == 5:  # Legal answers 2 of its 5 items; Dave (separated) is left unanswered
            reply = answered(
                eml(config, legal),
                {"erin@contoso.org": ("remove", "", ""), "SEP000000000003": ("remove", "", "")},
                tmp_path / "legal.csv",
            )
            day = (START + timedelta(n)).isoformat()
            imported = ["decisions", "import", "--config", str(config), "--as-of", day]
            assert main([*imported, str(reply), "--department", "Legal"]) == 0
        assert night(config, n) == 0, capsys.readouterr().err[-2000:]
    capsys.readouterr()
    messages = sent(config)

    # Every item still unanswered on a night was in a focal point's email within EVERY days.
    told: dict[str, list[date]] = defaultdict(list)
    for _, kind, day, ids, _ in messages:
        if kind != "digest":
            for rid in ids:
                told[rid].append(day)
    state = dict(rows(config, "select resource_id, status from resource_state"))
    decided = {str(r) for (r,) in rows(config, "select resource_id from decisions")}
    last = START + timedelta(NIGHTS - 1)
    for rid, status in state.items():
        if rid in decided or status == "kept":
            continue
        days = sorted(told[rid])
        assert days, f"{rid} was never told"
        gaps = [(b - a).days for a, b in zip(days, [*days[1:], last], strict=True)]
        assert max(gaps) <= EVERY, (rid, days)

    # One digest per escalation day, to the committee alone; the focal points never get it.
    def body(key: str) -> str:
        return str(eml(config, key).get_body(("plain",)).get_content())  # type: ignore[union-attr]

    # Escalation days: an item is reported to the committee, or removed by the rule.
    escalated = {
        day
        for key, kind, day, _, _ in messages
        if kind == "overdue"
        and (
            "reported today to the ICT steering committee" in body(key)
            or "Removed by rule" in body(key)
        )
    }
    digests = Counter(day for _, kind, day, _, _ in messages if kind == "digest")
    assert escalated and set(digests) == escalated
    assert set(digests.values()) == {1}
    assert Counter(kind for _, kind, *_ in messages)["escalation"] == 0
    first = eml(config, next(k for k, kind, *_ in messages if kind == "digest"))
    assert str(first["To"]) == ESCALATION_TO
    text = first.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Legal: 1 separated staff" in text and "answered 2 of 5" in text
    assert text.index("Legal:") < text.index(
        "Finance:"
    )  # separated staff still holding access first

    # The no-response rule: Dave's licence, unanswered 10 days after the escalation.
    by_rule = rows(config, "select d.resource_id, d.imported_by from decisions d "
                   "where d.imported_by like 'rule:%'")  # fmt: skip
    assert by_rule and {who for _, who in by_rule} == {"rule:auto_remove_after_days"}
    subjects = {}
    for rid, _ in by_rule:
        assert str(rid).startswith("license:")  # licences only, never a phone
        ((subject, reasons),) = rows(
            config,
            "select subject, reasons from findings where resource_id = "
            f"'{rid}' order by id desc limit 1",
        )
        assert "SEPARATED" in str(reasons).split(";")  # separated accounts only
        subjects[str(subject)] = str(rid)
    assert "dave@contoso.org" in subjects
    dave = subjects["dave@contoso.org"]
    rule_day = next(
        day for key, kind, day, ids, d in messages if d == "Legal" and dave in ids
        and kind == "overdue" and "Removed by rule" in eml(config, key).get_body(("plain",))
        .get_content()  # type: ignore[union-attr]
    )  # fmt: skip
    assert rule_day in digests
    listing = tmp_path / "deprovision.csv"
    assert main(["deprovision", "--config", str(config), "--out", str(listing)]) == 0
    assert "dave@contoso.org" in listing.read_text(encoding="utf-8")


def test_without_escalation_to_the_run_stops_and_sends_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = org(tmp_path / "org")
    text = config.read_text(encoding="utf-8").replace(f'escalation_to = ["{ESCALATION_TO}"]\n', "")
    config.write_text(text, encoding="utf-8")
    assert night(config, 0) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert line.startswith("licensewatch: error: 1 routing problem: [mail] escalation_to is not")
    assert "[mail] escalation_to is not set" in line
    assert not (config.parent / "outbox").exists() or not list((config.parent / "outbox").iterdir())
    # Nothing recorded either: the run's transaction (the schema included) was rolled back.
    assert rows(config, "select name from sqlite_master where name = 'runs'") == []


def test_weekly_cadence_one_email_a_week_at_most(tmp_path: Path) -> None:
    nightly = org(tmp_path / "nightly")
    weekly = org(tmp_path / "weekly", mail='cadence = "weekly"\nweekly_day = "monday"\n')
    for n in range(63):
        assert night(nightly, n) == 0 and night(weekly, n) == 0
    per_week: Counter[tuple[str, int]] = Counter()
    for _, kind, day, _, department in sent(weekly):
        if kind != "digest":
            per_week[(department, day.isocalendar()[1])] += 1
            assert day == START or day.weekday() == 0  # the first run sends at once (a Tuesday)
    assert set(per_week.values()) == {1}
    count = Counter(d for _, kind, _, _, d in sent(nightly) if kind != "digest")
    weekly_count = Counter(d for _, kind, _, _, d in sent(weekly) if kind != "digest")
    assert set(count) == set(weekly_count) == {"Finance", "Legal", "(unassigned)"}
    for department, n in weekly_count.items():
        assert n <= count[department]
    assert sum(weekly_count.values()) < sum(count.values())
