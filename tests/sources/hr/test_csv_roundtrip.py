"""Any CSV the job writes reads back identically through the job's own reader.

Reports and the decision attachments are written by ``reports.csvsafe`` and
may come back as input (a focal point returns the attachment): what
``write_csv`` writes, ``read_table`` must read back cell for cell — quotes,
delimiters, line breaks, byte-order marks, any Unicode — as the text that was
written (formula-like cells carry their protective quote; an empty cell is
missing; a row with nothing in it is a blank row).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from licensewatch import model
from licensewatch.reports.csvsafe import csv_text, neutralize, write_csv
from licensewatch.sources.tabular.table import read_table

COLUMNS = ("subject", "display_name", "department")
# Any character a cell can hold; surrogates cannot be encoded in UTF-8 at all.
CELL = st.one_of(
    st.none(),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=12),
    st.sampled_from(
        [
            "=1+1",
            "+x",
            "-",
            "@SUM(A1)",
            "-12.50",
            '"',
            "a,b;c\td",
            "\r",
            "\n\r\n",
            "\ufeff",
            " ",
            "NA",
        ]
    ),
)
STAMP = st.one_of(
    st.none(),
    st.datetimes(
        min_value=pd.Timestamp("1900-01-01").to_pydatetime(),
        max_value=pd.Timestamp("2200-01-01").to_pydatetime(),
    ).map(lambda d: pd.Timestamp(d.replace(microsecond=0), tz="UTC")),
)
ROWS = st.lists(st.tuples(CELL, CELL, CELL, STAMP), max_size=8)


def frame(
    rows: list[tuple[str | None, str | None, str | None, pd.Timestamp | None]],
) -> pd.DataFrame:
    data = pd.DataFrame(rows, columns=[*COLUMNS, "dormant_since"])
    out = data[list(COLUMNS)].astype(model.STRING)
    out["dormant_since"] = pd.to_datetime(data["dormant_since"], utc=True).astype(model.DATETIME)
    return out


def expected(written: pd.DataFrame, *, strip: bool) -> list[list[object]]:
    """What the reader must return: the written text, empty → missing, blank rows skipped."""
    out = []
    for row in written.astype(object).itertuples(index=False):
        cells: list[object] = []
        for value in row[:-1]:
            text = "" if value is None or value is pd.NA else neutralize(str(value))
            text = text.strip() if strip else text
            cells.append(text or None)
        stamp = row[-1]
        cells.append(None if pd.isna(stamp) else stamp)
        if any(c is not None for c in cells):
            out.append(cells)
    return out


def read_back(path: Path, *, strip: bool) -> list[list[object]]:
    table = read_table(
        path, required=(*COLUMNS, "dormant_since"), timestamps=("dormant_since",), strip=strip
    )
    assert str(table["dormant_since"].dtype) == model.DATETIME
    return [
        [None if pd.isna(v) else v for v in row]
        for row in table.astype(object).itertuples(index=False)
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ROWS)
def test_written_csv_reads_back_identically(
    rows: list[tuple[str | None, str | None, str | None, pd.Timestamp | None]],
) -> None:
    written = frame(rows)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "findings.csv"
        write_csv(written, path)
        assert path.read_bytes().decode("utf-8") == csv_text(written)
        assert read_back(path, strip=False) == expected(written, strip=False)
        assert read_back(path, strip=True) == expected(written, strip=True)


def test_the_property_sees_formula_quotes_and_line_breaks(tmp_path: Path) -> None:
    written = frame([('=HYPERLINK("http://x")', 'Zoë\r\nMüller, "Dr"', " Legal ", None)])
    path = tmp_path / "f.csv"
    write_csv(written, path)
    assert read_back(path, strip=False) == [
        ['\'=HYPERLINK("http://x")', 'Zoë\r\nMüller, "Dr"', " Legal ", None]
    ]
