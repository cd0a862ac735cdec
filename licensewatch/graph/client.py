"""One small client for Microsoft Graph: auth header, timeouts, retries and failure sorting.

Every request goes through one loop that sorts the answer into done, retry
(honour ``Retry-After`` in seconds, possibly fractional, or as an HTTP date;
else exponential backoff with jitter), refresh (the first 401 of a request gets
a new token) or fatal. What is retried depends on the method:

- ``GET`` (:meth:`GraphHttp.get`) is idempotent: 429, 502, 503, 504, connection
  errors and timeouts are retried.
- ``POST`` (:meth:`GraphHttp.post_json`) is not: only answers that say the
  request was refused before processing (429, 503) and connection failures
  before anything was sent (connect timeout, no connection) are retried. A read
  timeout, a connection reset after sending, or another 5xx leaves the outcome
  unknown and raises :class:`GraphOutcomeUnknown` without retrying.

When a request's retry budget is spent it raises ``SourceUnavailable``: the
caller never gets a partial feed. ``sleep``, ``random`` and ``clock`` are
injected so that tests never wait.
"""

from __future__ import annotations

import json
import os
import random as _random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import NewConnectionError

from licensewatch.errors import InputError, SourceAuthError, SourceError, SourceUnavailable
from licensewatch.graph.auth import (
    Credential,
    MsalTokens,
    TokenUnavailable,
    certificate_from_file,
    graph_scope,
    secret_from_env,
)
from licensewatch.logs import get_logger
from licensewatch.sources.graph.options import GraphOptions

log = get_logger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: For a POST only the answers that say the request was turned away unprocessed.
POST_RETRY_STATUSES = frozenset({429, 503})


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


class GraphRefused(SourceError):
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


class GraphOutcomeUnknown(SourceUnavailable):
    """A POST got no usable answer after it was sent: Graph may or may not have processed it."""


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


def sent_nothing(exc: requests.RequestException) -> bool:
    """Whether ``exc`` failed before any byte of the request reached the server."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    cause = exc.args[0] if exc.args else None
    # requests wraps urllib3's MaxRetryError, whose ``reason`` is the connection failure.
    return isinstance(getattr(cause, "reason", cause), NewConnectionError)


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
    """Sends requests to Graph with the bearer token, retrying what is worth retrying.

    The token goes only to URLs on ``graph_url``'s scheme, host and port; anything
    else (the report download host) gets no Authorization header at all.
    ``requests`` counts every request sent, retries included. ``config_table``
    names the config table whose ``max_retries`` a hint should point at.
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
        config_table: str = "[sources.accounts]",
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
        self._table = config_table
        self.requests = 0

    def authorized_for(self, url: str) -> bool:
        """Whether ``url`` is on the Graph origin, the only place the bearer token may go."""
        parts = urlsplit(url)
        return (parts.scheme.lower(), parts.netloc.lower()) == self._origin

    def get(
        self,
        url: str,
        *,
        allow_redirects: bool = True,
        anonymous: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """GET ``url``; returns a 2xx or 3xx response, or raises a ``SourceError``.

        ``anonymous`` sends no token even to the Graph origin (pre-authenticated downloads);
        ``headers`` are added to (or replace) the default ones (e.g. ``ConsistencyLevel``).
        """
        return self._request("GET", url, None, allow_redirects, anonymous, headers)

    def post_json(self, url: str, body: Mapping[str, Any]) -> requests.Response:
        """POST ``body`` as JSON to ``url``; returns a 2xx or 3xx response, or raises.

        Raises ``GraphRefused`` for an error answer (400, 404, 413, …),
        ``GraphForbidden`` for 403, ``SourceAuthError`` when a new token is
        refused too, ``GraphOutcomeUnknown`` when the request was sent but no
        usable answer came back, and ``SourceUnavailable`` when the retry budget
        is spent. Only failures that prove the request was not processed are retried.
        """
        return self._request("POST", url, encode_json(body), False, False)

    def _request(
        self,
        method: str,
        url: str,
        data: bytes | None,
        allow_redirects: bool,
        anonymous: bool,
        extra: Mapping[str, str] | None = None,
    ) -> requests.Response:
        idempotent = method == "GET"
        authorized = not anonymous and self.authorized_for(url)
        refreshed = False  # a request gets one new token after a 401, no more
        refresh_due = False
        retries = 0
        while True:
            try:
                headers = {"Accept": "application/json, text/csv"}
                if data is not None:
                    headers["Content-Type"] = "application/json"
                headers.update(extra or {})
                if authorized:
                    token = self._tokens.refresh() if refresh_due else self._tokens.token()
                    refresh_due = False
                    headers["Authorization"] = f"Bearer {token}"
                self.requests += 1
                response = self._session.request(
                    method,
                    url,
                    headers=headers,
                    data=data,
                    timeout=self._timeout,
                    allow_redirects=allow_redirects,
                    # Per request: requests lets REQUESTS_CA_BUNDLE override session.verify.
                    verify=self._session.verify,
                )
            except requests.exceptions.SSLError as exc:
                raise tls_error(url, exc) from None
            except TokenUnavailable as exc:
                retries = self._wait(method, url, retries, str(exc), None)
                continue
            except (requests.ConnectionError, requests.Timeout) as exc:
                if not idempotent and not sent_nothing(exc):
                    raise self._unknown(method, url, type(exc).__name__) from None
                retries = self._wait(method, url, retries, type(exc).__name__, None)
                continue
            status = response.status_code
            if status < 400:
                return response
            if status == 401 and authorized and not refreshed:
                refreshed = refresh_due = True
                continue
            if status in (RETRY_STATUSES if idempotent else POST_RETRY_STATUSES):
                retries = self._wait(method, url, retries, f"HTTP {status}", response)
                continue
            if not idempotent and status >= 500:
                raise self._unknown(method, url, f"HTTP {status}")
            raise self._fatal(method, url, response)

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

    def _wait(
        self, method: str, url: str, retries: int, what: str, response: requests.Response | None
    ) -> int:
        """Sleep before the next try of ``url``; raise when the retry budget is spent."""
        policy = self.policy
        if retries >= policy.max_retries:
            outcome = (
                "stopped without a complete pull, nothing was sent"
                if method == "GET"
                else "Graph did not process it"
            )
            raise SourceUnavailable(
                f"Graph kept failing for {method} {describe(url)} ({what}) after "
                f"{policy.max_retries} retr{'y' if policy.max_retries == 1 else 'ies'}; {outcome}",
                hint=f"run again later; raise max_retries in {self._table} if this recurs",
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
            "%s %s: %s; retry %d of %d in %.3f s%s",
            method,
            describe(url),
            what,
            retries,
            policy.max_retries,
            wait,
            " (Retry-After)" if asked is not None else "",
        )
        self._sleep(wait)
        return retries

    @staticmethod
    def _unknown(method: str, url: str, what: str) -> GraphOutcomeUnknown:
        return GraphOutcomeUnknown(
            f"Graph gave no usable answer to {method} {describe(url)} ({what}) after the request "
            "was sent: it may or may not have been processed, so it was not retried",
            hint="check the result in Microsoft 365 before doing it again",
        )

    def _fatal(self, method: str, url: str, response: requests.Response) -> SourceError:
        status = response.status_code
        code, message = graph_error(response)
        detail = f"HTTP {status}" + (f" {code}" if code else "")
        detail += f": {message}" if message else ""
        where = f"Graph refused {method} {describe(url)}: {detail}"
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
        return GraphRefused(where, status=status, code=code, graph_message=message)


def encode_json(body: Mapping[str, Any]) -> bytes:
    """``body`` as the JSON bytes :meth:`GraphHttp.post_json` sends (ASCII, compact)."""
    return json.dumps(body, separators=(",", ":")).encode("ascii")


def load_credential(options: GraphOptions, environ: Mapping[str, str] | None) -> Credential:
    """The app's credential (secret from the environment, or the certificate file); no network.

    Raises ``ConfigError`` for a missing secret or unreadable certificate, and
    ``InputError`` when ``ca_bundle`` does not exist.
    """
    env = environ if environ is not None else os.environ
    if options.client_secret_env is not None:
        credential = secret_from_env(options.client_secret_env, env)
    else:
        assert options.certificate_path is not None  # GraphOptions guarantees one or the other
        credential = certificate_from_file(
            options.certificate_path,
            thumbprint=options.certificate_thumbprint,
            password_env=options.certificate_password_env,
            environ=env,
        )
    if options.ca_bundle is not None and not options.ca_bundle.is_file():
        raise InputError.single(str(options.ca_bundle), "ca_bundle file does not exist")
    return credential


def open_graph(
    options: GraphOptions,
    credential: Credential,
    session: requests.Session,
    *,
    sleep: Callable[[float], None] | None = None,
    random: Callable[[], float] = _random.random,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    config_table: str = "[sources.accounts]",
) -> GraphHttp:
    """A Graph client on ``session`` (CA bundle set on it), signing in with ``credential``.

    Makes no request: MSAL fetches the first token on the first Graph call.
    """
    session.verify = str(options.ca_bundle) if options.ca_bundle is not None else True
    timeout = (min(10.0, options.timeout_s), options.timeout_s)
    tokens = MsalTokens(
        tenant_id=options.tenant_id,
        client_id=options.client_id,
        credential=credential,
        session=session,
        timeout=timeout,
        authority=options.authority,
        scope=graph_scope(options.graph_url),
    )
    return GraphHttp(
        tokens,
        graph_url=options.graph_url,
        session=session,
        timeout=timeout,
        policy=RetryPolicy(max_retries=options.max_retries),
        # Looked up at call time so that a test can make time.sleep refuse to wait.
        sleep=time.sleep if sleep is None else sleep,
        random=random,
        clock=clock,
        config_table=config_table,
    )
