"""licensewatch.jsontext: orjson's speed, the standard library's leniency, no lone surrogate."""

from __future__ import annotations

import json
import math

import pytest

from licensewatch import jsontext
from licensewatch.rules.neutralise import neutralise_text


def test_clean_json_is_read_as_orjson_reads_it() -> None:
    data = b'{"value": [{"displayName": "Zo\\u00eb \\ud83d\\ude00", "n": 3}], "x": null}'
    assert jsontext.loads(data) == {"value": [{"displayName": "Zoë 😀", "n": 3}], "x": None}
    assert jsontext.loads(data.decode()) == json.loads(data)


def test_every_lone_surrogate_becomes_the_mark_keys_and_nested_values_too() -> None:
    data = b'{"a\\udc80": ["x\\ud800y", {"b": "\\udfff"}], "pair": "\\ud83d\\ude00", "n": 1.5}'
    doc = jsontext.loads(data)
    assert doc == {"a\uffff": ["x\uffffy", {"b": "\uffff"}], "pair": "😀", "n": 1.5}
    # neutralise rewrites the mark as it did the surrogate: the outputs are the same.
    assert neutralise_text("x\uffffy") == neutralise_text("x\ud800y") == "x\ufffdy"
    json.dumps(doc, ensure_ascii=False).encode("utf-8")  # nothing left that UTF-8 refuses


def test_what_the_standard_library_reads_is_read() -> None:
    assert jsontext.loads('{"a": 1}'.encode("utf-16")) == {"a": 1}  # with its byte-order mark
    assert math.isnan(jsontext.loads(b'{"x": NaN}')["x"])  # orjson refuses the literal


@pytest.mark.parametrize("data", [b"{", b"<html>503</html>", b'{"a": "\xff"}', b""])
def test_what_is_not_json_raises_a_value_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        jsontext.loads(data)
