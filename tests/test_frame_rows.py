"""``frame_rows.records`` gives what ``DataFrame.to_dict("records")`` gives: keys, values, types."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from licensewatch import model
from licensewatch.frame_rows import records
from licensewatch.notify.rows import prepare
from tests.notify.sample import sample


def shown(rows: list[dict[Any, Any]]) -> list[list[tuple[Any, type, str]]]:
    """Each value with its type and repr: NA is not equal to itself."""
    return [[(k, type(v), repr(v)) for k, v in row.items()] for row in rows]


def test_every_kind_of_column_reads_as_pandas_reads_it() -> None:
    n = 4
    frame = pd.DataFrame(
        {
            "text": pd.array(["a", None, "ç", ""], dtype=model.STRING),
            "str": pd.array(["a", None, "b", "c"], dtype="str"),
            "int": np.arange(n, dtype="int64"),
            "Int64": pd.array([1, None, 3, 4], dtype="Int64"),
            "float": [1.5, np.nan, 0.0, -2.0],
            "bool": [True, False, True, False],
            "when": pd.to_datetime(["2019-12-31", None, "2020-01-01", "2019-01-01"], utc=True),
            "when_us": pd.Series(
                pd.to_datetime(["2019-12-31"] * n, utc=True), dtype=model.DATETIME
            ).to_numpy(),
            "arrow_ts": pd.array(
                pa.array([1, None, 3, 4], pa.timestamp("us", "UTC")),
                dtype=pd.ArrowDtype(pa.timestamp("us", "UTC")),
            ),
            "arrow_int": pd.array([1, None, 3, 4], dtype=pd.ArrowDtype(pa.int64())),
            "arrow_text": pd.array(["a", None, "b", ""], dtype=pd.ArrowDtype(pa.string())),
            "arrow_large": pd.array(["a", None, "é", ""], dtype=pd.ArrowDtype(pa.large_string())),
            "arrow_bool": pd.array([True, None, False, True], dtype=pd.ArrowDtype(pa.bool_())),
            "object": np.array([np.int64(1), "x", None, pd.NA], dtype=object),
            "category": pd.Categorical(["x", "y", None, "x"]),
        },
        index=[10, 11, 12, 13],
    )
    assert shown(records(frame)) == shown(frame.to_dict("records"))


def test_an_empty_frame_and_a_frame_without_columns() -> None:
    assert records(pd.DataFrame({"a": pd.array([], dtype=model.STRING)})) == []
    assert records(pd.DataFrame(index=[1, 2])) == pd.DataFrame(index=[1, 2]).to_dict("records")


def test_a_sliced_arrow_column_keeps_its_rows() -> None:
    frame = pd.DataFrame(
        {"t": pd.array([f"v{i}" if i % 3 else None for i in range(50)], dtype=model.STRING)}
    )
    part = frame.iloc[7:31:3]
    assert shown(records(part)) == shown(part.to_dict("records"))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.none() | st.text(max_size=5), st.none() | st.integers(-9, 9)), max_size=20
    )
)
def test_generated_text_and_numbers(values: list[tuple[str | None, int | None]]) -> None:
    frame = pd.DataFrame(
        {
            "text": pd.array([t for t, _ in values], dtype=model.STRING),
            "n": pd.array([n for _, n in values], dtype="Int64"),
        }
    )
    assert shown(records(frame)) == shown(frame.to_dict("records"))


@pytest.mark.parametrize("with_phones", [False, True])
def test_a_notice_s_rows_read_as_pandas_reads_them(with_phones: bool) -> None:
    costed, inventory = sample()
    rows = prepare(costed, inventory if with_phones else None)
    assert shown(records(rows)) == shown(rows.to_dict("records"))
