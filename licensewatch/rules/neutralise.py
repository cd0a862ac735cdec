"""Characters no output can hold, neutralised where the feeds enter the job. Pure.

Directory and HR data is dirty: a display name with a BEL or ESC in it, a
phone description with a lone surrogate (``"\\ud800"`` is valid JSON;
:mod:`licensewatch.jsontext` reads it as the non-character U+FFFF, since Arrow
text cannot hold a surrogate, and a frame built otherwise keeps it in Python
storage, ``model.text``). Such a value cannot be written to an XLSX
workbook (XML 1.0 forbids it), to PostgreSQL (NUL), or encoded to UTF-8 for a
CSV, an HTML page or an email (surrogates). Every text value of every frame
the job reads passes through :func:`neutralise_frame` once, before any rule
sees it (``licensewatch.night.inputs.screen``), and is rewritten so that it still
reads recognisably everywhere:

- C0 control characters U+0000-U+0008, U+000B, U+000C, U+000E-U+001F become
  their Unicode control pictures (U+0007 BEL -> "␇" U+2407, U+001B ESC ->
  "␛" U+241B, U+0000 NUL -> "␀" U+2400), DEL U+007F becomes "␡" U+2421;
- C1 control characters U+0080-U+009F, lone surrogates U+D800-U+DFFF and the
  non-characters U+FFFE/U+FFFF become the replacement character "�" U+FFFD;
- TAB, LF and CR are left alone: every output accepts them (XML allows them,
  CSV quotes them, mail headers flatten them, databases store them).

How many values of each ``<feed>.<column>`` were rewritten is counted in the
run summary (``neutralised_values``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import numpy as np
import pandas as pd
from pandas.arrays import ArrowStringArray

from licensewatch import model

#: Every character :func:`neutralise_text` rewrites.
UNSAFE: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
#: :data:`UNSAFE` in RE2's syntax, for text in Arrow storage, which cannot hold a surrogate.
ARROW_UNSAFE: Final = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x{9f}\x{fffe}\x{ffff}]"
REPLACEMENT: Final = "\ufffd"
_CONTROL_PICTURES: Final = 0x2400
_DELETE_PICTURE: Final = "\u2421"


def _substitute(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(_CONTROL_PICTURES + code)
    return _DELETE_PICTURE if code == 0x7F else REPLACEMENT


def neutralise_text(value: str) -> str:
    """``value`` with every :data:`UNSAFE` character replaced by its visible substitute."""
    return UNSAFE.sub(_substitute, value)


def neutralise_frame(frame: pd.DataFrame, feed: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """``frame`` with its text columns neutralised, and the values rewritten per ``feed.column``.

    Only text columns (pandas ``string`` or ``object`` dtype) are looked at;
    non-string values in them are left as they are. The frame is returned
    unchanged (the same object) when nothing needed rewriting.
    """
    counts: dict[str, int] = {}
    changed: dict[str, pd.Series] = {}
    texts = [
        column
        for column in frame.columns
        if pd.api.types.is_string_dtype(frame[column].dtype) or frame[column].dtype == object
    ]
    for column, hits in zip(texts, _all_hits([frame[c] for c in texts]), strict=True):
        if hits is None:
            continue
        series = frame[column]
        found = int(hits.sum())
        if found:
            counts[f"{feed}.{column}"] = found
            fixed = series.copy()
            fixed[hits] = series[hits].map(neutralise_text)
            if isinstance(fixed.dtype, pd.StringDtype):
                # Text kept in Python storage for its lone surrogates (model.text) is clean now.
                fixed = model.text(fixed)
            changed[str(column)] = fixed
    if not changed:
        return frame, counts
    return frame.assign(**changed), counts


#: Values from which a frame's text columns are searched in several threads: Arrow's
#: search runs without the GIL (the 1M night's screening took 1.7 s in one thread).
PARALLEL_VALUES: Final = 200_000
#: Threads at most: one a core.
_THREADS: Final = 4


def _all_hits(columns: Sequence[pd.Series]) -> list[pd.Series | None]:
    """:func:`_hits` of each of ``columns``, in their order; in threads when worth it."""
    threads = min(len(columns), os.cpu_count() or 1, _THREADS)
    if threads < 2 or sum(len(c) for c in columns) < PARALLEL_VALUES:
        return [_hits(c) for c in columns]
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="neutralise") as pool:
        return list(pool.map(_hits, columns))


def _hits(series: pd.Series) -> pd.Series | None:
    """Which values of ``series`` hold an :data:`UNSAFE` character; None when none does.

    Text in Arrow storage is searched by Arrow (RE2, in C, no Python object a
    value: the 1M night's 1,035,000 users took 2.7 s the other way); other text
    is first searched as one joined string, then value by value if it hit.
    """
    array = series.array
    if isinstance(array, ArrowStringArray):
        import pyarrow as pa
        import pyarrow.compute as pc

        found = pc.match_substring_regex(pa.array(array), ARROW_UNSAFE).fill_null(False)
        marks = np.asarray(found, dtype=bool)
        return pd.Series(marks, index=series.index) if marks.any() else None
    if not _any_unsafe(series):
        return None
    return pd.Series([_unsafe(v) for v in series.tolist()], index=series.index, dtype=bool)


def _any_unsafe(series: pd.Series) -> bool:
    """Whether any text of ``series`` has an :data:`UNSAFE` character: one search of them all.

    LF, which joins them, is not unsafe; a clean column (nearly all of them)
    costs one join and one regular-expression scan in C, not a call a value.
    """
    values = series.dropna().to_numpy(dtype=object).tolist()
    texts = (
        values
        if isinstance(series.dtype, pd.StringDtype)
        else [v for v in values if isinstance(v, str)]
    )
    return UNSAFE.search("\n".join(texts)) is not None


def _unsafe(value: object) -> bool:
    return isinstance(value, str) and UNSAFE.search(value) is not None


def merge_counts(*counts: Mapping[str, int]) -> dict[str, int]:
    """The per ``feed.column`` counts of several frames, summed and sorted."""
    total: dict[str, int] = {}
    for part in counts:
        for key, n in part.items():
            total[key] = total.get(key, 0) + n
    return dict(sorted(total.items()))
