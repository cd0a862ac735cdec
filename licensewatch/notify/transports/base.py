"""The transport interface: how a composed notice leaves licensewatch."""

from __future__ import annotations

import email
from abc import ABC, abstractmethod
from collections.abc import Sequence
from email.message import EmailMessage
from types import TracebackType

from licensewatch.notify.mime import POLICY


def parse_stored(data: bytes) -> EmailMessage:
    """A message from the bytes the outbox stores (parsed with the notices' policy)."""
    message = email.message_from_bytes(data, policy=POLICY)
    assert isinstance(message, EmailMessage)
    return message


class Transport(ABC):
    """Delivers composed messages: to a folder of .eml files, an SMTP server, Graph, …

    ``key`` is the notice's stable key (filename-safe, unique per as-of date and
    department); a transport uses it to make a re-send of the same notice
    idempotent where it can. Failures raise :class:`~licensewatch.errors.DeliveryError`.
    """

    @abstractmethod
    def send(self, message: EmailMessage, *, key: str) -> None:
        """Deliver ``message``; raises ``DeliveryError`` if it could not be handed over."""

    def send_to(
        self, message: EmailMessage, *, key: str, recipients: Sequence[str] | None = None
    ) -> dict[str, str]:
        """Deliver ``message`` to ``recipients`` (``None``: all); returns the refused ones.

        The result maps each envelope address the server refused to its answer
        (``451 4.7.1 try later``); empty when all were accepted. Only a
        transport that can tell recipients apart (SMTP) honours ``recipients``
        and reports refusals; the default sends to all and reports none.
        """
        self.send(message, key=key)
        return {}

    def send_stored(
        self, data: bytes, *, key: str, recipients: Sequence[str] | None = None
    ) -> dict[str, str]:
        """Deliver a message as the outbox stores it (``data``: its RFC 5322 bytes).

        The default parses ``data`` and calls :meth:`send_to`; a transport
        that hands the bytes over as they are (a folder) overrides it, and
        the message is neither parsed nor written out again.
        """
        return self.send_to(parse_stored(data), key=key, recipients=recipients)

    def find_sent(self, message: EmailMessage, *, key: str) -> bool | None:
        """Whether a message whose outcome was unknown did go out; ``None``: cannot tell.

        The outbox asks before sending such a message again; the default cannot tell.
        """
        return None

    def close(self) -> None:  # noqa: B027 - most transports hold nothing to release
        """Release connections; the default holds none."""

    def __enter__(self) -> Transport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
