"""A function of a column's values, computed once for each distinct value.

A night's 200,000 findings carry a handful of distinct ``reasons`` texts
(``inactive_90d;separated`` …): splitting each row's text in Python
(``Series.str.split`` then ``map`` of a lambda) cost the 1M night about a
second in each of its readers, where the distinct texts take microseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pandas as pd

T = TypeVar("T")


def per_value(values: pd.Series, fn: Callable[[str], T], missing: T) -> pd.Series:
    """``fn`` of each value as text (``missing`` where the value is missing), on ``values``' index.

    ``fn`` runs once for each distinct value. The result holds Python objects
    (dtype ``object``), as ``Series.map`` of a Python function gives them.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.empty(len(uniques) + 1, dtype=object)
    table[:-1] = [fn(str(u)) for u in uniques]
    table[-1] = missing  # code -1: a missing value
    return pd.Series(table[codes], index=values.index, dtype=object)


def counts_per_value(values: pd.Series) -> list[tuple[str, int]]:
    """Each distinct present value as text with how many rows hold it, in order of appearance."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    tally = np.bincount(codes[codes >= 0], minlength=len(uniques))
    return [(str(u), int(n)) for u, n in zip(uniques, tally, strict=True)]
