"""JSON from the feeds (Graph pages, saved pulls), with lone surrogates marked.

``"\\ud800"`` is valid JSON, and directory text holds it (a display name cut in
the middle of an emoji by another system). orjson refuses it, and pandas'
Arrow-backed text cannot hold it (Arrow stores UTF-8, which has no
surrogates), so a page with one would stop the night. :func:`loads` parses
with orjson, and only when orjson refuses the document parses it again with
the standard library and replaces every lone surrogate by U+FFFF. That is a
non-character that :mod:`licensewatch.rules.neutralise` rewrites to U+FFFD
and counts, as it did the surrogate itself: the outputs and the run summary's
``neutralised_values`` are what they were.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

import orjson

#: What a lone surrogate becomes: a non-character Arrow can store and neutralise rewrites.
MARK: Final = "\uffff"
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def loads(data: bytes | str) -> Any:
    """The JSON document ``data``, lone surrogates replaced by :data:`MARK`.

    Raises ``ValueError`` (``json.JSONDecodeError``, ``UnicodeDecodeError``)
    when the standard library cannot read it either.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass  # a lone surrogate (or NaN, or a huge integer): the standard library reads those
    return _marked(json.loads(data))


def _marked(value: Any) -> Any:
    """``value`` with every string (keys too) free of lone surrogates."""
    if isinstance(value, str):
        return _SURROGATE.sub(MARK, value)
    if isinstance(value, dict):
        return {_marked(k): _marked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_marked(v) for v in value]
    return value
