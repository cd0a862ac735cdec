"""One small client for Microsoft Graph: auth header, timeouts, retries and failure sorting.

Every response goes through :meth:`GraphHttp.get`, which sorts it into done,
retry (429, 502, 503, 504, connection errors, timeouts: honour ``Retry-After``
in seconds, possibly fractional, or as an HTTP date; else exponential backoff
with jitter), refresh (the first 401 of a request gets a new token) or fatal.
When a request's retry budget is spent it raises ``SourceUnavailable``: the
caller never gets a partial feed. ``sleep``, ``random`` and ``clock`` are
injected so that tests never wait.
"""

from __future__ import annotations

import json
import random as _random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from licensewatch.errors import SourceAuthError, SourceError, SourceUnavailable
from licensewatch.logs import get_logger
from licensewatch.sources.graph_auth import TokenUnavailable

log = get_logger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503, 504})


class TokenSource(Protocol):
    """Where the bearer token comes from (``graph_auth.MsalTokens`` in production)."""

    def token(self) -> str:
        """The current access token."""

    def refresh(self) -> str:
        """A new access token, after the current one was refused."""


class GraphForbidden(SourceAuthError):
    """Graph answered 403; ``code`` is Graph's error code (e.g. the non-premium tenant one)."""

    def __init__(self, message: str, code: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.code = code


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait and how often to retry one request.

    A request is sent at most ``max_retries + 1`` times. Without ``Retry-After``
    the n-th retry waits ``min(cap, base * 2**(n-1))`` scaled by a random factor
    in [0.5, 1] (equal jitter), so parallel jobs do not retry in step.
    """

    max_retries: int = 6
    base_s: float = 1.0
    cap_s: float = 60.0
    #: Longest single wait honoured from Retry-After (a longer one is shortened to this).
    max_wait_s: float = 300.0

    def backoff(self, retry: int, draw: float) -> float:
        """The wait before retry number ``retry`` (1-based) for a uniform ``draw`` in [0, 1)."""
        nominal = min(self.cap_s, self.base_s * 2.0 ** (retry - 1))
        return nominal * (0.5 + 0.5 * draw)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds or HTTP date); None if unusable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # an HTTP date is GMT by definition
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / inf
        return None
    return max(0.0, seconds)


def describe(url: str) -> str:
    """``url`` without its query: safe to log (pre-authenticated download links carry a key)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def tls_error(url: str, exc: requests.exceptions.SSLError) -> SourceError:
    """A TLS failure is a trust problem, not a passing fault: it is not retried."""
    reason = str(exc.args[0]) if exc.args else type(exc).__name__
    return SourceError(
        f"TLS to {describe(url)} failed: {reason[-160:]}",
        hint="if a proxy or private CA signs the certificate, set ca_bundle in [sources.accounts]",
    )


def graph_error(response: requests.Response) -> tuple[str, str]:
    """Graph's ``error.code`` and ``error.message`` of a failed response (best effort)."""
    try:
        doc = response.json()
    except ValueError:
        return "", response.text[:200].strip()
    error = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(error, dict):
        return str(error.get("code", "")), str(error.get("message", ""))
    return "", ""


class GraphHttp:
    """Sends GET requests to Graph with the bearer token, retrying what is worth retrying.

    The token goes only to URLs on ``graph_url``'s scheme, host and port; anything
    else (the report download host) gets no Authorization header at all.
    ``requests`` counts every request sent, retries included.
    """

    def __init__(
        self,
        tokens: TokenSource,
        *,
        graph_url: str,
        session: requests.Session,
        timeout: tuple[float, float],
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._tokens = tokens
        parts = urlsplit(graph_url)
        self._origin = (parts.scheme.lower(), parts.netloc.lower())
        self._session = session
        self._timeout = timeout
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._random = random
        self._clock = clock
        self.requests = 0

    def authorized_for(self, url: str) -> bool:
        """Whether ``url`` is on the Graph origin, the only place the bearer token may go."""
        parts = urlsplit(url)
        return (parts.scheme.lower(), parts.netloc.lower()) == self._origin

    def get(
        self, url: str, *, allow_redirects: bool = True, anonymous: bool = False
    ) -> requests.Response:
        """GET ``url``; returns a 2xx or 3xx response, or raises a ``SourceError``.

        ``anonymous`` sends no token even to the Graph origin (pre-authenticated downloads).
        """
        authorized = not anonymous and self.authorized_for(url)
        refreshed = False  # a request gets one new token after a 401, no more
        refresh_due = False
        retries = 0
        while True:
            try:
                headers = {"Accept": "application/json, text/csv"}
                if authorized:
                    token = self._tokens.refresh() if refresh_due else self._tokens.token()
                    refresh_due = False
                    headers["Authorization"] = f"Bearer {token}"
                self.requests += 1
                response = self._session.get(
                    url,
                    headers=headers,
                    timeout=self._timeout,
                    allow_redirects=allow_redirects,
                    # Per request: requests lets REQUESTS_CA_BUNDLE override session.verify.
                    verify=self._session.verify,
                )
            except requests.exceptions.SSLError as exc:
                raise tls_error(url, exc) from None
            except (requests.ConnectionError, requests.Timeout, TokenUnavailable) as exc:
                what = str(exc) if isinstance(exc, TokenUnavailable) else type(exc).__name__
                retries = self._wait(url, retries, what, None)
                continue
            status = response.status_code
            if status < 400:
                return response
            if status == 401 and authorized and not refreshed:
                refreshed = refresh_due = True
                continue
            if status in RETRY_STATUSES:
                retries = self._wait(url, retries, f"HTTP {status}", response)
                continue
            raise self._fatal(url, response)

    def get_json(self, url: str) -> tuple[Mapping[str, Any], bytes]:
        """GET a Graph JSON document; returns it parsed and as the exact bytes received."""
        response = self.get(url)
        try:
            doc = json.loads(response.content)
        except ValueError:
            raise SourceError(
                f"Graph answered GET {describe(url)} with something that is not JSON "
                f"(HTTP {response.status_code}, {response.headers.get('Content-Type', '?')})"
            ) from None
        if not isinstance(doc, dict):
            raise SourceError(f"Graph answered GET {describe(url)} with JSON that is not an object")
        return doc, response.content

    def _wait(self, url: str, retries: int, what: str, response: requests.Response | None) -> int:
        """Sleep before the next try of ``url``; raise when the retry budget is spent."""
        policy = self.policy
        if retries >= policy.max_retries:
            raise SourceUnavailable(
                f"Graph kept failing for GET {describe(url)} ({what}) after "
                f"{policy.max_retries} retr{'y' if policy.max_retries == 1 else 'ies'}; "
                "stopped without a complete pull, nothing was sent",
                hint="run again later; raise max_retries in [sources.accounts] if this recurs",
            )
        retries += 1
        header = response.headers.get("Retry-After") if response is not None else None
        asked = parse_retry_after(header, self._clock())
        wait = (
            min(asked, policy.max_wait_s)
            if asked is not None
            else policy.backoff(retries, self._random())
        )
        log.warning(
            "GET %s: %s; retry %d of %d in %.3f s%s",
            describe(url),
            what,
            retries,
            policy.max_retries,
            wait,
            " (Retry-After)" if asked is not None else "",
        )
        self._sleep(wait)
        return retries

    def _fatal(self, url: str, response: requests.Response) -> SourceError:
        status = response.status_code
        code, message = graph_error(response)
        detail = f"HTTP {status}" + (f" {code}" if code else "")
        detail += f": {message}" if message else ""
        where = f"Graph refused GET {describe(url)}: {detail}"
        if status == 401:
            return SourceAuthError(
                where, hint="a new token was refused too: check the app's admin consent"
            )
        if status == 403:
            return GraphForbidden(
                where,
                code,
                hint="grant the application permissions listed in the README and admin consent",
            )
        return SourceError(where)
