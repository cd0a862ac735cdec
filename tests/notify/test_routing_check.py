"""No silent configuration: missing recipients stop the run; unrouted departments are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from licensewatch.cli.parser import main
from tests import orgfiles
from tests.test_cli import error_lines

TYPO = orgfiles.FOCAL_POINTS.replace("Finance,", "Finanse,")


def check(config: Path) -> int:
    return main(["check-config", "--config", str(config)])


def run(config: Path, *extra: str) -> int:
    return main(["run", "--config", str(config), "--as-of", orgfiles.AS_OF, *extra])


def test_a_typo_in_the_focal_points_is_named_with_the_closest_spelling(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = orgfiles.write_org(tmp_path / "org")
    assert run(config) == 0  # check-config reads the departments of the last good run
    (config.parent / "focal_points.csv").write_text(TYPO, encoding="utf-8")
    capsys.readouterr()
    assert check(config) == 0  # unassigned_to is set: the findings still reach someone
    out = capsys.readouterr().out
    assert (
        '  warning: department "Finance" (3 findings) has no focal point in focal_points.csv; '
        'did you mean "Finanse"?'
    ) in out.splitlines()
    assert "  warning: 1 finding has no department" in out.splitlines()


def test_unassigned_to_missing_while_a_department_has_no_focal_point_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = orgfiles.write_org(tmp_path / "org")
    text = config.read_text(encoding="utf-8").replace(
        'unassigned_to = ["ict-licensing@contoso.org"]\n', ""
    )
    config.write_text(text, encoding="utf-8")
    assert run(config) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert line.startswith(
        "licensewatch: error: 1 routing problem: [mail] unassigned_to is not set but 1 "
        "department in the data has no focal point"
    )
    assert (
        not list((config.parent / "outbox").glob("*.eml"))
        if (config.parent / "outbox").exists()
        else True
    )


def test_both_recipients_missing_are_reported_together_by_check_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = orgfiles.write_org(tmp_path / "org")
    assert run(config) == 0
    text = config.read_text(encoding="utf-8")
    for key in ("escalation_to", "unassigned_to"):
        start = text.index(f"{key} = ")
        text = text[:start] + text[text.index("\n", start) + 1 :]
    config.write_text(text, encoding="utf-8")
    capsys.readouterr()
    assert check(config) == 2
    err = capsys.readouterr().err
    # check-config lists every problem in one pass, one line each.
    assert "licensewatch: error: 2 problems in" in err
    assert "\n  [mail] escalation_to is not set" in err
    assert "\n  [mail] unassigned_to is not set" in err


def test_escalate_false_needs_no_committee(tmp_path: Path) -> None:
    config = orgfiles.write_org(tmp_path / "org")
    text = config.read_text(encoding="utf-8")
    text = text.replace('escalation_to = ["ict-steering@contoso.org"]\n', "escalate = false\n")
    config.write_text(text, encoding="utf-8")
    assert check(config) == 0


def test_strict_makes_an_unrouted_department_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Without the leaver who matches no account (a data warning --strict refuses first).
    separations = "".join(
        line for line in orgfiles.SEPARATIONS.splitlines(keepends=True) if "E99" not in line
    )
    config = orgfiles.write_org(tmp_path / "org", focal_points=TYPO, separations=separations)
    assert run(config, "--dry-run") == 0  # reported, not an error without --strict
    capsys.readouterr()
    assert run(config, "--strict", "--dry-run") == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert (
        'department "Finance" (3 findings) has no focal point in focal_points.csv; '
        'did you mean "Finanse"?' in line
    )


@pytest.mark.parametrize(
    ("mail", "message"),
    [
        ("reminder_days = 14\n", "[mail] reminder_days must be less than response_days, not 14"),
        (
            "response_days = 14\nescalate_after_days = 14\n",
            "[mail] escalate_after_days must be more than response_days, not 14",
        ),
        ("escalate_every_days = 0\n", "[mail] escalate_every_days must be 1 or more, not 0"),
        ('cadence = "daily"\n', "[mail] cadence must be one of nightly, weekly, not 'daily'"),
        ('cadence = "weekly"\nweekly_day = "mon"\n', "[mail] weekly_day must be one of monday,"),
    ],
)
def test_cycle_numbers_are_checked_at_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mail: str, message: str
) -> None:
    text = orgfiles.CONFIG.replace(
        'from = "licensewatch@contoso.org"\n', f'from = "licensewatch@contoso.org"\n{mail}'
    )
    config = orgfiles.write_org(tmp_path / "org", config=text)
    assert check(config) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert line.startswith(f"licensewatch: error: licensewatch.toml: {message}")
