"""The shared option-table checker: unknown keys and value types."""

from __future__ import annotations

import pytest

from licensewatch.errors import ConfigError
from licensewatch.options import reject_unknown, typed


def test_known_keys_pass() -> None:
    reject_unknown({"a": 1}, ("a", "b"), "[t]")


def test_unknown_key_lists_valid_keys_in_the_message() -> None:
    with pytest.raises(ConfigError) as err:
        reject_unknown({"zz": 1, "a": 1}, ("a", "b"), "[t]", hint="correct or remove the key")
    assert str(err.value).splitlines()[0] == "unknown key 'zz' in [t]; valid keys are: a, b"
    assert err.value.hint == "correct or remove the key"


def test_several_unknown_keys_with_kind_and_listed() -> None:
    with pytest.raises(ConfigError) as err:
        reject_unknown({"y": 1, "x": 2}, ("a",), "[sources.p]", listed=("kind", "a"), kind="csv")
    assert str(err.value).splitlines()[0] == (
        "unknown keys 'x', 'y' in [sources.p] (kind 'csv'); valid keys are: kind, a"
    )


def test_valid_keys_in_the_hint_unquoted() -> None:
    with pytest.raises(ConfigError) as err:
        reject_unknown({"x": 1}, ("a", "b"), "[policy]", quote=False, valid_in_hint=True)
    assert str(err.value).splitlines()[0] == "unknown key x in [policy]"
    assert err.value.hint == "valid keys are: a, b"


def test_typed_takes_an_int_as_float_and_refuses_a_bool_as_number() -> None:
    assert typed("[t]", "k", 3, float) == 3.0
    assert isinstance(typed("[t]", "k", 3, float), float)
    assert typed("[t]", "k", True, bool) is True
    with pytest.raises(ConfigError, match=r"^\[t\] k must be int, not bool \(True\)$"):
        typed("[t]", "k", True, int)
    with pytest.raises(ConfigError, match=r"^\[t\] k must be str, not int \(...\)$"):
        typed("[t]", "k", 5, str, shown="...")
