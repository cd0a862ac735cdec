"""The errors of the Microsoft Graph client, shared by every Graph user.

The accounts source, the mail transport and licence removal catch these (never
the ``Source…`` errors) and say what a failure means for them. Each Graph error
is also the matching :mod:`licensewatch.errors` source error (``GraphAuthError``
is a ``SourceAuthError``, ``GraphUnavailable`` a ``SourceUnavailable``, any
other ``GraphError`` a ``SourceError``), so that the accounts source and licence
removal keep their documented errors, exit codes and one-line messages
without translating each one.
"""

from __future__ import annotations

from licensewatch.errors import LicensewatchError, SourceAuthError, SourceError, SourceUnavailable


class GraphError(LicensewatchError):
    """Base of every error the Graph client raises: TLS, an unusable answer, and the below."""


class GraphFailed(GraphError, SourceError):
    """Graph (or the identity platform) failed in a way that is not retried (TLS, not JSON)."""


class GraphAuthError(GraphError, SourceAuthError):
    """The identity platform or Graph refused our credentials or permissions."""


class GraphUnavailable(GraphError, SourceUnavailable):
    """Graph could not be reached, or kept failing until the retry budget was spent."""


class TokenUnavailable(GraphUnavailable):
    """The identity platform could not be reached (network, timeout, 5xx): worth retrying."""


class GraphForbidden(GraphAuthError):
    """Graph answered 403; ``code`` is Graph's error code (e.g. the non-premium tenant one)."""

    def __init__(self, message: str, code: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.code = code


class GraphRefused(GraphFailed):
    """Graph answered an error that is not retried (400, 404, 413, …).

    ``status`` is the HTTP status; ``code`` and ``graph_message`` are Graph's
    ``error.code`` and ``error.message`` (empty when the body had none).
    """

    def __init__(
        self, message: str, *, status: int, code: str, graph_message: str, hint: str | None = None
    ) -> None:
        super().__init__(message, hint)
        self.status = status
        self.code = code
        self.graph_message = graph_message


class GraphOutcomeUnknown(GraphUnavailable):
    """A POST got no usable answer after it was sent: Graph may or may not have processed it."""
