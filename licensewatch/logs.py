"""Logging for the CLI and jobs: readable lines or JSON on stderr, times in UTC, secrets masked.

Secrets never reach a log line: the values of the environment variables the
config names (``*_env`` keys) are registered with :func:`register_secrets`
and replaced by ``***`` in every record, in the CLI's error line and in the
error texts the outbox stores and lists. Not only the value itself: servers
echo what they were sent, so its URL-encoded forms (a token request's body),
its JSON-escaped forms, and any base64 token whose decoded bytes contain it
(an SMTP ``AUTH PLAIN`` argument ``\0user\0secret``, a Basic header) are
masked too.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

LOGGER_NAME = "licensewatch"
MASK = "***"
_SECRETS: set[str] = set()
#: A run of base64 (standard or URL-safe) characters, padding included.
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{6,}={0,2}")
_PERCENT_HEX = re.compile(r"%[0-9A-F]{2}")


def register_secrets(values: Iterable[str]) -> None:
    """Mask these values wherever they would appear in a log record or error line."""
    # Very short values would mask ordinary words; real secrets are longer.
    _SECRETS.update(v for v in values if v and len(v) >= 4)


def forget_secrets() -> None:
    """Stop masking every value registered so far (a new run or test starts clean)."""
    _SECRETS.clear()


def encoded_forms(secret: str) -> set[str]:
    """``secret`` as it may appear in text: itself, URL-encoded and JSON-escaped."""
    forms = {secret}
    for safe in ("", "/"):
        forms.add(quote(secret, safe=safe))
        forms.add(quote_plus(secret, safe=safe))
    for ensure_ascii in (True, False):
        forms.add(json.dumps(secret, ensure_ascii=ensure_ascii)[1:-1])
    # Percent-encoders differ in the case of their hex digits (%C3%A4 / %c3%a4).
    forms |= {_PERCENT_HEX.sub(lambda m: m.group().lower(), f) for f in forms}
    return forms


def redact(text: str) -> str:
    """``text`` with every registered secret, in any encoded form, replaced by ``***``."""
    if not _SECRETS:
        return text
    masks = _masks(frozenset(_SECRETS))
    for form in masks.forms:
        if form in text:
            text = text.replace(form, MASK)
    return masks.base64_run.sub(masks.base64_token, text)


class _Masks:
    """What :func:`redact` looks for, for one set of secrets (built once per set)."""

    def __init__(self, secrets: frozenset[str]) -> None:
        self.forms = sorted({f for s in secrets for f in encoded_forms(s)}, key=len, reverse=True)
        self.secrets = [s.encode("utf-8", "surrogatepass") for s in secrets]
        # A token shorter than the base64 of the shortest secret cannot hold one.
        shortest = max(4 * (min(map(len, self.secrets)) // 3), 6)
        self.base64_run = re.compile(_BASE64_RUN.pattern.replace("{6,}", f"{{{shortest},}}"))

    def base64_token(self, match: re.Match[str]) -> str:
        token = match.group()
        decoded = _decodings(token)
        if any(secret in data for data in decoded for secret in self.secrets):
            return MASK
        return token


@functools.lru_cache(maxsize=8)
def _masks(secrets: frozenset[str]) -> _Masks:
    return _Masks(secrets)


def _decodings(token: str) -> list[bytes]:
    """``token`` decoded as base64 at each of the four alignments it could start at."""
    body = token.rstrip("=").replace("-", "+").replace("_", "/")
    found = []
    for start in range(4):
        part = body[start:]
        part = part[: len(part) - 1] if len(part) % 4 == 1 else part
        try:
            found.append(base64.b64decode(part + "=" * (-len(part) % 4), validate=True))
        except (binascii.Error, ValueError):
            continue
    return found


class _Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS:
            record.msg = redact(record.getMessage())
            record.args = ()
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


def _utc(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))


class _TextFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _utc(record)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": _utc(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            doc["exception"] = record.exc_text
        elif record.exc_info:
            doc["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(doc, ensure_ascii=False)


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Send licensewatch's records to stderr, one line each (``fmt`` "text" or "json")."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_Redact())
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger(LOGGER_NAME)
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def get_logger(name: str) -> logging.Logger:
    """A child of the licensewatch logger (``name`` is usually ``__name__``)."""
    return logging.getLogger(name if name.startswith(LOGGER_NAME) else f"{LOGGER_NAME}.{name}")
