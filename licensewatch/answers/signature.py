"""The MAC that ties an answer file to its department and its notice.

Each answer file the job attaches carries its department, the notice's key and
``mac = base64url(HMAC-SHA256(key, "licensewatch-answer-file/v1" NUL
department NUL notice_key))`` (the department case-folded as routing folds
it). When a file comes back, the three are read from it and the MAC
recomputed: a file whose department or notice key was edited, one made by
hand, or one from another deployment fails, and is refused with that reason.
The MAC says nothing about the rows: the focal point fills them in; who may
answer for the department is checked separately (the sender).

The key comes from the environment variable named by ``[answers]
signing_key_env``: at least 32 bytes, registered as a secret for the logs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Final

from licensewatch.errors import ConfigError
from licensewatch.model import fold_key
from licensewatch.options import env_secret

CONTEXT: Final = b"licensewatch-answer-file/v1"
MIN_KEY_BYTES: Final = 32


def read_key(variable: str, environ: Mapping[str, str]) -> bytes:
    """The MAC key from ``$variable``; ``ConfigError`` when unset or shorter than 32 bytes."""
    value = env_secret(
        "[answers]",
        "signing_key_env",
        variable,
        environ,
        "at least 32 random bytes (openssl rand -base64 48)",
    )
    key = value.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(
            f"[answers] the key in ${variable} is {len(key)} bytes; at least {MIN_KEY_BYTES} "
            "are needed",
            hint=f"export {variable} with at least 32 random bytes (openssl rand -base64 48)",
        )
    return key


def sign(key: bytes, department: str, notice_key: str) -> str:
    """The MAC of an answer file for ``department`` and ``notice_key`` (43 characters)."""
    message = b"\0".join(
        (CONTEXT, fold_key(department).encode("utf-8"), notice_key.strip().encode("utf-8"))
    )
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify(key: bytes, department: str, notice_key: str, mac: str) -> bool:
    """Whether ``mac`` is the MAC of ``department`` and ``notice_key`` (constant time)."""
    return hmac.compare_digest(sign(key, department, notice_key), mac.strip())
