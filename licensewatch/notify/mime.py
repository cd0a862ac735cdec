"""The email policy of every message licensewatch writes: RFC 5322 with CRLF line ends.

It is :data:`email.policy.SMTP` except for one header: CPython's folder can
drop the space between two words of a long non-ASCII ``Subject`` when it
writes them as adjacent encoded words (python/cpython#92081; about one subject
in ten with accented words here), so such a subject is encoded the classic
way: base64 encoded words that carry their own spaces, which every mail client
decodes back exactly. They are written here rather than by
:class:`email.header.Header`, whose words reach 76–77 characters: each word
is at most 75 characters (RFC 2047, section 2), each line at most 78 (RFC 5322,
section 2.1.1), and no character is split between two words.
"""

from __future__ import annotations

import base64
from email.policy import EmailPolicy
from typing import Any, Final

from licensewatch.notify.quoted_printable import CONTENT_MANAGER

#: RFC 2047's limit on one encoded word, ``=?charset?b?...?=`` included.
MAX_WORD: Final = 75
#: RFC 5322's recommended limit on a line, CRLF not counted.
MAX_LINE: Final = 78
_PREFIX: Final = "=?utf-8?b?"
_SUFFIX: Final = "?="


def _word_length(size: int) -> int:
    """Length of the encoded word carrying ``size`` bytes."""
    return len(_PREFIX) + 4 * -(-size // 3) + len(_SUFFIX)


def encoded_words(text: str, *, first: int = MAX_WORD) -> list[str]:
    """``text`` as base64 encoded words, the first at most ``first`` characters long.

    Every other word is at most :data:`MAX_WORD` long; a word always holds whole
    characters, so each decodes on its own.
    """
    words: list[str] = []
    chunk = b""
    limit = first
    for char in text:
        data = char.encode("utf-8")
        if chunk and _word_length(len(chunk) + len(data)) > limit:
            words.append(_PREFIX + base64.b64encode(chunk).decode("ascii") + _SUFFIX)
            chunk, limit = b"", MAX_WORD
        chunk += data
    words.append(_PREFIX + base64.b64encode(chunk).decode("ascii") + _SUFFIX)
    return words


def fold_encoded(name: str, value: str, linesep: str = "\r\n") -> str:
    """The header ``name: value`` folded as encoded words, ``linesep`` after each line."""
    room = MAX_LINE - len(name) - 2  # "Name: "
    # A name too long to leave room for a four-byte character starts the words on line two.
    if room < _word_length(4):
        return f"{name}:{linesep} " + f"{linesep} ".join(encoded_words(value)) + linesep
    return (
        f"{name}: " + f"{linesep} ".join(encoded_words(value, first=min(room, MAX_WORD))) + linesep
    )


class _SubjectSafePolicy(EmailPolicy):
    """``email.policy.SMTP`` with the classic encoding of non-ASCII subjects."""

    @staticmethod
    def _classic(name: str, value: Any) -> bool:
        return name.lower() == "subject" and not str(value).isascii()

    def fold(self, name: str, value: Any) -> str:
        """The header as a folded line (classic encoded words for a non-ASCII subject)."""
        if self._classic(name, value):
            return fold_encoded(name, str(value), self.linesep)
        return str(super().fold(name, value))

    def fold_binary(self, name: str, value: Any) -> bytes:
        """Like :meth:`fold`, as ASCII bytes."""
        if self._classic(name, value):
            return self.fold(name, value).encode("ascii")
        return bytes(super().fold_binary(name, value))


#: Use it for every message composed or parsed back for sending (text parts encoded by
#: :mod:`licensewatch.notify.quoted_printable`: the standard library's bytes, faster).
POLICY: Final = _SubjectSafePolicy(linesep="\r\n", content_manager=CONTENT_MANAGER)
