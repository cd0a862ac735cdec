"""A frame's rows as dicts, as ``DataFrame.to_dict("records")`` gives them, sooner.

pandas makes each value of an Arrow text column a Python object through an
Arrow scalar of its own (``ArrowExtensionArray.__iter__``, then
``maybe_box_native`` turning a missing value into None: about a microsecond a
value); the notices read tens of thousands of rows of some thirty columns
(2.3 CPU s of the 1M night's compose). Here an Arrow text column becomes
Python values in one call (``to_pylist``: the text, and where missing what
pandas gives: None, or NaN in a ``str`` column) and the other columns are
left to pandas. A test compares both on every kind of column the frames hold.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import pandas as pd
import pyarrow as pa
from pandas.core.arrays.arrow.array import ArrowExtensionArray


def records(frame: pd.DataFrame) -> list[dict[Hashable, Any]]:
    """``frame.to_dict("records")``: one dict a row, the same keys, values and types."""
    names = frame.columns.tolist()
    texts = {i: _text(frame.iloc[:, i]) for i in range(len(names))}
    fast = {i: values for i, values in texts.items() if values is not None}
    if not fast or not frame.columns.is_unique:
        return frame.to_dict("records")
    others = [i for i in range(len(names)) if i not in fast]
    rest = frame.iloc[:, others].to_dict("records") if others else [{}] * len(frame)
    columns = [fast[i] if i in fast else [row[names[i]] for row in rest] for i in range(len(names))]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _text(series: pd.Series) -> list[Any] | None:
    """An Arrow text column's values as ``to_dict`` gives them; None for any other column."""
    array = series.array
    if not isinstance(array, ArrowExtensionArray):
        return None
    data = pa.array(array)  # its own Arrow data (no copy)
    if not (pa.types.is_string(data.type) or pa.types.is_large_string(data.type)):
        return None
    values: list[Any] = data.to_pylist()
    # What to_dict makes of the column's missing value: None for NA, NaN for NaN ("str").
    missing = array.dtype.na_value
    if missing is not pd.NA:
        values = [missing if v is None else v for v in values]
    return values
