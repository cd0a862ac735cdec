"""``per_value``: a function of each row computed once per distinct value, as pandas computes it."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from licensewatch import model
from licensewatch.per_value import counts_per_value, per_value
from licensewatch.reports.finance import reason_counts

_CODE = st.sampled_from([r.value for r in model.REASON_ORDER] + ["", " ", "\u2003x\x1c", "other"])
_REASONS = st.lists(st.none() | st.lists(_CODE, min_size=1, max_size=4).map(";".join), max_size=40)


def _series(values: list[str | None]) -> pd.Series:
    return pd.Series(pd.array(values, dtype=model.STRING), index=range(100, 100 + len(values)))


@settings(max_examples=300, deadline=None)
@given(_REASONS)
def test_a_function_of_each_row_is_the_same_as_map(values: list[str | None]) -> None:
    series = _series(values)
    expected = series.fillna("").map(lambda t: len(t.split(";")))
    got = per_value(series, lambda t: len(t.split(";")), 1)
    assert got.index.equals(series.index)
    assert got.tolist() == expected.tolist()


@settings(max_examples=300, deadline=None)
@given(_REASONS)
def test_counts_of_each_value_in_order_of_appearance(values: list[str | None]) -> None:
    present = [v for v in values if v is not None]
    expected = list(dict.fromkeys(present))
    assert counts_per_value(_series(values)) == [(v, present.count(v)) for v in expected]


@settings(max_examples=300, deadline=None)
@given(_REASONS)
def test_reason_counts_are_what_pandas_counted(values: list[str | None]) -> None:
    series = _series(values)
    # What finance.totals counted before: every row's codes split, stripped, counted.
    codes = series.dropna().str.split(";").explode().str.strip()
    counts = codes[codes.notna() & (codes != "")].value_counts()
    assert reason_counts(series) == {str(c): int(n) for c, n in counts.items()}


def test_nothing_to_count() -> None:
    assert reason_counts(_series([])) == {} and reason_counts(_series([None, ""])) == {}
    assert per_value(_series([]), len, 0).tolist() == []
