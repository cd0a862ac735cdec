"""One checker for every option table of the config.

Each table (``[policy]``, ``[sources.<feed>]``, ``[mail.smtp]``, ``[mail.graph]``
...) rejects unknown keys with the list of valid ones and checks each value's
type with the same two functions. The message wording differs slightly between
tables (tests pin each one), so the parts that differ are parameters.

A small own checker rather than pydantic: pydantic is not a dependency, and its
errors would have to be rewritten into today's one-line messages anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from licensewatch.errors import ConfigError
from licensewatch.logs import register_secrets


def reject_unknown(
    table: Mapping[str, Any],
    valid: Iterable[str],
    where: str,
    *,
    listed: Iterable[str] | None = None,
    kind: str | None = None,
    quote: bool = True,
    hint: str | None = None,
    valid_in_hint: bool = False,
) -> None:
    """Raise ``ConfigError`` when ``table`` has a key outside ``valid``.

    ``listed`` is the list of valid keys shown (default ``valid``; e.g. with
    ``kind`` in front); ``kind`` adds ``(kind 'x')`` after ``where``; ``quote``
    shows the unknown keys with quotes. The valid keys go in the message, or in
    the hint when ``valid_in_hint``; ``hint`` is the hint otherwise.
    """
    allowed = tuple(valid)
    unknown = sorted(set(table) - set(allowed))
    if not unknown:
        return
    keys = ", ".join(repr(k) if quote else k for k in unknown)
    shown = ", ".join(allowed if listed is None else tuple(listed))
    message = f"unknown key{'s' if len(unknown) > 1 else ''} {keys} in {where}"
    if kind is not None:
        message += f" (kind {kind!r})"
    if valid_in_hint:
        raise ConfigError(message, hint=f"valid keys are: {shown}")
    raise ConfigError(f"{message}; valid keys are: {shown}", hint=hint)


def typed(where: str, key: str, value: Any, kind: type, *, shown: str | None = None) -> Any:
    """``value`` checked to be a ``kind`` (an int is taken as a float; a bool is no number).

    Raises ``ConfigError`` "``where key`` must be ``kind``, not ``type`` (value)";
    ``shown`` replaces the value's repr in the message (e.g. for a secret's name).
    """
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        text = repr(value) if shown is None else shown
        raise ConfigError(
            f"{where} {key} must be {kind.__name__}, not {type(value).__name__} ({text})"
        )
    return value


def env_secret(where: str, key: str, variable: str, environ: Mapping[str, str], what: str) -> str:
    """The secret in ``$variable`` (named by ``where key``), registered for masking in logs.

    Raises ``ConfigError`` when the variable is unset or empty, or holds text
    that is not valid UTF-8 (``os.environ`` keeps undecodable bytes as lone
    surrogates, which cannot go on the wire). ``what`` says what to export
    ("the relay password of lw"). The value itself never appears in a message.
    """
    value = environ.get(variable, "")
    if not value:
        raise ConfigError(
            f"{where} {key} names ${variable}, which is "
            + ("empty" if variable in environ else "not set"),
            hint=f"export {variable} with {what}",
        )
    register_secrets([value])
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(
            f"{where} the {key.removesuffix('_env')} in ${variable} is not valid UTF-8 text",
            hint=f"export {variable} again, encoded as UTF-8",
        ) from None
    return value
