"""Between pandas frames and database rows: NA → None, Timestamps → aware datetimes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from licensewatch import model

T = TypeVar("T")


def aware_utc(value: datetime, name: str) -> datetime:
    """``value`` in UTC as a plain ``datetime``; naive values are a caller's bug."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    return value.astimezone(UTC)


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise ``ValueError`` naming the columns ``frame`` lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lack column(s) {', '.join(missing)}")


def require_values(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise ``ValueError`` if a column that the database keeps NOT NULL has NA values."""
    gaps = {c: int(n) for c in columns if (n := frame[c].isna().sum())}
    if gaps:
        listed = ", ".join(f"{c} ({n} rows)" for c, n in gaps.items())
        raise ValueError(f"{what} have missing values in {listed}")


def python_values(series: pd.Series) -> list[Any]:
    """The column as driver-ready Python values: ``None`` for NA, aware UTC datetimes, ints."""
    missing = series.isna().to_numpy()
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        values: list[Any] = list(series.dt.tz_convert("UTC").dt.to_pydatetime())
    elif pd.api.types.is_datetime64_dtype(series.dtype):
        raise ValueError(f"column {series.name} holds naive timestamps; expected UTC")
    elif isinstance(series.dtype, pd.StringDtype):
        values = series.to_numpy(dtype=object).tolist()  # at once, not a value at a time
    else:
        values = series.astype(object).tolist()
    for i in np.flatnonzero(missing):
        values[i] = None
    return values


def records(
    frame: pd.DataFrame, columns: Sequence[str], constants: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """One dict per row with ``columns`` (and ``constants``), ready for an executemany."""
    names = [*columns, *(constants or {})]
    fixed = tuple((constants or {}).values())
    columns_as_lists = [python_values(frame[c]) for c in columns]
    rows = zip(*columns_as_lists, strict=True)
    return [dict(zip(names, (*row, *fixed), strict=True)) for row in rows]


def frame_of(rows: Sequence[Sequence[Any]], schema: model.Schema) -> pd.DataFrame:
    """Rows fetched in ``schema`` column order, as a frame with the schema's dtypes."""
    if not rows:
        return model.empty(schema)
    by_column = zip(*rows, strict=True)
    raw = pd.DataFrame({name: list(values) for name, values in zip(schema, by_column, strict=True)})
    return model.conform(raw, schema)


def batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of ``items`` of at most ``size`` elements."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
