"""CSV written for spreadsheets: formulas neutralized, RFC 4180 quoting, atomic replace."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from licensewatch.reports.csvsafe import csv_text, neutralize, write_csv


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+33 1 23 45", "'+33 1 23 45"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("-", "'-"),
        ("-inf", "'-inf"),
        ("-12.50 ", "'-12.50 "),
        ("--5", "'--5"),
        ("-12.50", "-12.50"),
        ("+5", "+5"),
        ("-1e3", "-1e3"),
        ("-.5", "-.5"),
        ("Bob", "Bob"),
        ("a=b", "a=b"),
        (" =1", " =1"),
        ("", ""),
    ],
)
def test_neutralize(value: str, expected: str) -> None:
    assert neutralize(value) == expected


def test_write_csv_exact_bytes(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "name": pd.Series(
                ['Zoë "Z" Müller', "=cmd|' /C calc'!A0", None, "a,b"], dtype="string"
            ),
            "note": pd.Series(["line1\nline2", "cr\rinside", "", "-12.50"], dtype="string"),
            "count": pd.Series([1, -2, 3, 4], dtype="int64"),
        }
    )
    path = tmp_path / "out.csv"
    write_csv(frame, path)
    assert path.read_bytes().decode("utf-8") == (
        "name,note,count\n"
        '"Zoë ""Z"" Müller","line1\nline2",1\n'
        "'=cmd|' /C calc'!A0,\"cr\rinside\",-2\n"
        ",,3\n"
        '"a,b",-12.50,4\n'
    )
    assert path.read_bytes() == csv_text(frame).encode("utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_timestamps_are_iso_utc() -> None:
    frame = pd.DataFrame(
        {"at": pd.to_datetime(pd.Series(["2019-12-31T08:30:00Z", None]), utc=True)}
    )
    assert csv_text(frame) == 'at\n2019-12-31T08:30:00Z\n""\n'


def test_write_csv_replaces_atomically_and_cleans_up_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    path.write_text("old\n", encoding="utf-8")
    bad = pd.DataFrame([[1, 2]], columns=["same", "same"])
    with pytest.raises(ValueError, match="duplicate"):
        write_csv(bad, path)
    assert path.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.csv"]
    write_csv(pd.DataFrame({"a": pd.Series(["new"], dtype="string")}), path)
    assert path.read_text(encoding="utf-8") == "a\nnew\n"


_cells = st.one_of(st.none(), st.text(st.characters(exclude_categories=["Cs"]), max_size=12))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.tuples(_cells, _cells, st.integers(-(10**12), 10**12)), max_size=8),
)
def test_round_trip_equals_neutralized_input(
    tmp_path: Path, rows: list[tuple[str | None, str | None, int]]
) -> None:
    frame = pd.DataFrame(
        {
            "text": pd.Series([r[0] for r in rows], dtype="string"),
            "other": pd.Series([r[1] for r in rows], dtype=object),
            "number": pd.Series([r[2] for r in rows], dtype="int64"),
        }
    )
    path = tmp_path / "round.csv"
    write_csv(frame, path)
    with path.open(encoding="utf-8", newline="") as fh:
        got = list(csv.reader(fh))
    expected = [["text", "other", "number"]] + [
        [neutralize(a or ""), neutralize(b or ""), str(n)] for a, b, n in rows
    ]
    assert got == expected
    assert not path.read_bytes().startswith(b"\xef\xbb\xbf")


def test_rows_made_a_chunk_at_a_time_are_the_rows_made_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 7 rows in chunks of 3: a chunk boundary inside, a last short chunk; columns of each kind.
    frame = pd.DataFrame(
        {
            "name": pd.array(["=x", "a,b", None, 'q"q', "Zoë", "-3", "\r"], dtype="string"),
            "n": pd.array([1, 2, None, 4, 5, 6, 7], dtype="Int64"),
            "at": pd.to_datetime([f"2024-01-0{d}" for d in range(1, 8)], utc=True),
        },
        index=[9, 3, 5, 1, 0, 2, 4],  # the rows' order, not their labels
    )
    whole = csv_text(frame)
    monkeypatch.setattr("licensewatch.reports.csvsafe.CHUNK_ROWS", 3)
    assert csv_text(frame) == whole
    assert whole.count("\n") == 8 and whole.startswith("name,n,at\n'=x,1,2024-01-01T00:00:00Z\n")
    assert csv_text(frame.iloc[:0]) == "name,n,at\n"
