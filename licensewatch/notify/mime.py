"""The email policy of every message licensewatch writes: RFC 5322 with CRLF line ends.

It is :data:`email.policy.SMTP` except for one header: CPython's folder can
drop the space between two words of a long non-ASCII ``Subject`` when it
writes them as adjacent encoded words (python/cpython#92081; about one subject
in ten with accented words here), so such a subject is encoded the classic
way (:class:`email.header.Header`: base64 encoded words that carry their own
spaces), which every mail client decodes back exactly.
"""

from __future__ import annotations

from email.header import Header
from email.policy import EmailPolicy
from typing import Any, Final


class _SubjectSafePolicy(EmailPolicy):
    """``email.policy.SMTP`` with the classic encoding of non-ASCII subjects."""

    @staticmethod
    def _classic(name: str, value: Any) -> bool:
        return name.lower() == "subject" and not str(value).isascii()

    def fold(self, name: str, value: Any) -> str:
        """The header as a folded line (classic encoded words for a non-ASCII subject)."""
        if self._classic(name, value):
            encoded = Header(str(value), "utf-8", header_name=name).encode(linesep=self.linesep)
            return f"{name}: {encoded}{self.linesep}"
        return str(super().fold(name, value))

    def fold_binary(self, name: str, value: Any) -> bytes:
        """Like :meth:`fold`, as ASCII bytes."""
        if self._classic(name, value):
            return self.fold(name, value).encode("ascii")
        return bytes(super().fold_binary(name, value))


#: Use it for every message composed or parsed back for sending.
POLICY: Final = _SubjectSafePolicy(linesep="\r\n")
