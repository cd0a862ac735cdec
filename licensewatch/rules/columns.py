"""Whole-column helpers the reconcile rules share: timestamps, keys, matching, ranks.

Each works on a whole column at once (numpy or pandas), never row by row.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from licensewatch import model

Bools = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]
Stamps = npt.NDArray[np.datetime64]

#: A missing timestamp, in the unit :func:`stamps` returns.
NAT: Final = np.datetime64("NaT", "us")


class AccountKeys:
    """The accounts' case-folded key columns, each folded on first use."""

    def __init__(self, accounts: pd.DataFrame) -> None:
        self._accounts = accounts
        self._folded: dict[str, pd.Series] = {}

    def __getitem__(self, name: str) -> pd.Series:
        if name not in self._folded:
            if name == "upn_local_part":
                local = self["upn"].map(lambda upn: upn.partition("@")[0], na_action="ignore")
                self._folded[name] = fold(local)
            else:
                self._folded[name] = fold(self._accounts[name])
        return self._folded[name]


def ranks(series: pd.Series) -> Ints:
    """Dense rank of each value in code-point order, NA last. Sorting in numpy's
    string dtype is several times faster than sorting python string objects."""
    values = np.asarray(series.fillna("").to_numpy(object), dtype=np.dtypes.StringDType())
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new = np.ones(len(values), np.bool_)
    new[1:] = ordered[1:] != ordered[:-1]
    ranks = np.empty(len(values), np.int64)
    ranks[order] = np.cumsum(new)
    return np.where(series.isna().to_numpy(bool), len(values) + 1, ranks)


def instant(as_of: pd.Timestamp) -> np.datetime64:
    """``as_of`` (timezone-aware) as a naive-UTC ``datetime64[us]``."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be a timezone-aware UTC timestamp")
    return np.datetime64(as_of.tz_convert("UTC").tz_localize(None).as_unit("us").to_datetime64())


def stamps(series: pd.Series) -> Stamps:
    """A UTC timestamp column as naive-UTC ``datetime64[us]`` (NaT where missing)."""
    stamps = pd.to_datetime(series, utc=True).astype(model.DATETIME).dt.tz_convert(None)
    return np.asarray(stamps.to_numpy(dtype="datetime64[us]"))


def timestamps(values: Stamps) -> pd.Series:
    """Naive-UTC ``datetime64`` values as a UTC timestamp column (the inverse of :func:`stamps`)."""
    return pd.Series(pd.DatetimeIndex(values).tz_localize("UTC"), dtype=model.DATETIME)


def fold(series: pd.Series) -> pd.Series:
    """``model.norm_key``: NFC, case-folded, stripped, in one pass over the values."""
    return model.norm_key(series)


def blank_to_na(series: pd.Series) -> pd.Series:
    """``series`` stripped, with empty strings as NA."""
    stripped = series.str.strip()
    return stripped.mask(stripped == "", pd.NA)


def per_value(series: pd.Series, func: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``func`` applied once per distinct value (cheap for low-cardinality columns)."""
    codes, uniques = pd.factorize(series.astype(model.STRING))
    done = func(pd.Series(uniques, dtype=model.STRING)).astype(model.STRING).array
    return pd.Series(done.take(codes, allow_fill=True), dtype=model.STRING)


def first_of(*columns: Any, default: str | None = None) -> pd.Series:
    """Per row, the value of the first column that has one (else ``default``)."""
    series = [pd.Series(column, dtype=model.STRING) for column in columns]
    out = reduce(lambda chosen, then: chosen.fillna(then), series)
    return out if default is None else out.fillna(default)


def match(keys: pd.Series, probe: pd.Series) -> tuple[Ints, Ints]:
    """Per probe value: the first equal key's position (-1 if none) and how many keys equal it."""
    codes, uniques = pd.factorize(pd.concat([keys, probe], ignore_index=True))
    own, asked = codes[: len(keys)], codes[len(keys) :]
    valid = own >= 0
    many = np.append(np.bincount(own[valid], minlength=len(uniques)), 0)
    first = np.full(len(uniques) + 1, -1, dtype=np.int64)  # the last slot answers code -1
    distinct, at = np.unique(own[valid], return_index=True)
    first[distinct] = np.flatnonzero(valid)[at]
    return first[asked], many[asked].astype(np.int64)


def at(values: npt.NDArray[Any], pos: Ints, fill: Any) -> npt.NDArray[Any]:
    """``values[pos]``, with ``fill`` where pos is -1."""
    return np.append(values, np.array([fill], dtype=values.dtype))[pos]
