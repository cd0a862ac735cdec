"""model.text and model.isin: text in Arrow where it can be, exact membership without Python."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from licensewatch import arrow_text, model

VALUES = pd.Series(["a", None, "B", "c", "a"], index=[4, 3, 2, 1, 0], dtype="string")


@pytest.mark.parametrize(
    "among",
    [
        pd.Series(["c", None, "a"], dtype="string"),  # Arrow on both sides: pyarrow's is_in
        ["c", "a"],
        {"a", "c"},
        model.text(["c", "a", "\ud800"]),  # Python storage (a lone surrogate): pandas' isin
        pd.Series(["c", "a"], dtype=object),
    ],
)
def test_isin_is_exact_membership_and_missing_is_never_in(among: object) -> None:
    got = model.isin(VALUES, among)  # type: ignore[arg-type]
    assert got.dtype == np.bool_
    # "B" is not "b": exact; a missing value is in nothing (pandas' isin finds NA in [NA]).
    assert got.tolist() == [True, False, False, True, True]


def test_isin_of_nothing_and_against_nothing() -> None:
    assert model.isin(VALUES.iloc[:0], ["a"]).tolist() == []
    assert model.isin(VALUES, []).tolist() == [False] * 5
    assert model.isin(VALUES, pd.Series([None, None], dtype="string")).tolist() == [False] * 5


def test_text_keeps_what_arrow_cannot_hold_in_python_storage() -> None:
    clean = model.text(["a", None])
    dirty = model.text(["a", "\ud800"], index=pd.Index([7, 8]))
    assert clean.dtype == pd.api.types.pandas_dtype(model.STRING)
    assert isinstance(dirty.dtype, pd.StringDtype) and dirty.tolist() == ["a", "\ud800"]
    assert dirty.index.tolist() == [7, 8]


def test_isin_among_more_values_than_it_looks_up() -> None:
    # The hash table is built of the smaller side: the same answer either way round.
    among = pd.Series(["x", "a", None, "a", "c", "y", "z", "w"], dtype="string")
    assert model.isin(VALUES, among).tolist() == [True, False, False, True, True]
    expected = [False, True, False, True, True, False, False, False]
    assert model.isin(among, VALUES).tolist() == expected


@pytest.mark.parametrize(
    "values",
    [
        ["a", None, "", "Zoë 😀", "a"],
        [None, None],
        [],
        ["a", float("nan"), pd.NA, "b"],
        pd.Series(["x", None, "y"], index=[7, 5, 6], dtype=object),
    ],
)
def test_text_built_by_arrow_is_what_pandas_builds(values: object) -> None:
    built = model._arrow_text(values, None)
    assert built is not None  # built by Arrow, not handed to pandas
    expected = pd.Series(values, dtype=model.STRING)
    assert built.dtype == expected.dtype and built.equals(expected)
    assert built.index.equals(expected.index)
    assert isinstance(built.array, pd.arrays.ArrowStringArray)
    assert model.text(values).equals(expected)


@pytest.mark.parametrize("values", [["a", 5], ["a", True], ["x\ud800", "ok"], ("a", "b")])
def test_what_arrow_does_not_take_as_text_is_converted_by_pandas(values: object) -> None:
    assert model._arrow_text(values, None) is None
    got = model.text(values)
    if "x\ud800" in values:  # type: ignore[operator]
        assert got.tolist() == ["x\ud800", "ok"]
    else:
        assert got.equals(pd.Series(values, dtype=model.STRING))


def test_an_index_given_aligns_an_object_column_as_pandas_does() -> None:
    column = pd.Series(["a", None, "c"], index=[5, 6, 7], dtype=object)
    got = model.text(column, index=pd.Index([6, 7, 8]))
    assert got.tolist() == [pd.NA, "c", pd.NA]


def _stripped_by_python(values: list[object]) -> pd.Series:
    return model.text([(v.strip() or None) if isinstance(v, str) else v for v in values])


def test_space_is_what_python_strips() -> None:
    every = (chr(c) for c in range(sys.maxunicode + 1))
    assert "".join(c for c in every if c.isspace()) == arrow_text.SPACE


def test_stripped_text_strips_every_code_point_as_python_does() -> None:
    # Every code point Arrow can hold, alone, at either end and inside: only Python's
    # whitespace goes, wherever Arrow's own idea of a space differs (U+001C, U+0085, U+FEFF).
    values: list[object] = [None, "", " ", "  a  "]
    for c in (chr(c) for c in range(sys.maxunicode + 1)):
        if not "\ud800" <= c <= "\udfff":
            values += [c, f"{c}a", f"a{c}", f"a{c}b"]
    got = model.stripped_text(values)
    assert isinstance(got.array, pd.arrays.ArrowStringArray)  # stripped by Arrow
    expected = _stripped_by_python(values)
    assert got.dtype == expected.dtype and got.equals(expected)


def test_stripped_text_without_a_space_to_strip_is_the_text() -> None:
    values: list[object] = ["a", None, "b c", float("nan")]
    assert model.stripped_text(values).equals(_stripped_by_python(values))


@pytest.mark.parametrize(
    "values", [[" a ", 5], ["a ", True], [" x\ud800 ", "ok "], [{"a": 1}, " b"], [" ", 1.5]]
)
def test_stripped_text_of_what_arrow_does_not_take_is_stripped_by_python(
    values: list[object],
) -> None:
    got = model.stripped_text(values)
    assert got.tolist() == _stripped_by_python(values).tolist()
    assert got.dtype == _stripped_by_python(values).dtype
