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

When a request's retry budget is spent it raises ``GraphUnavailable``: the
caller never gets a partial feed. The loop is :func:`licensewatch.retry.retrying`;
this module only sorts Graph's answers. ``sleep``, ``random`` and ``clock`` are
injected so that tests never wait. Every error raised is a
:class:`~licensewatch.graph.errors.GraphError`.
"""

from __future__ import annotations

import json
import random as _random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import NewConnectionError

from licensewatch import jsontext
from licensewatch.graph.auth import Credential, MsalTokens, graph_scope
from licensewatch.graph.errors import (
    GraphAuthError,
    GraphError,
    GraphFailed,
    GraphForbidden,
    GraphOutcomeUnknown,
    GraphRefused,
    GraphUnavailable,
    TokenUnavailable,
)
from licensewatch.graph.options import GraphOptions
from licensewatch.logs import get_logger
from licensewatch.retry import Done, Fatal, Outcome, Retry, RetryPolicy, Waited, retrying

log = get_logger(__name__)
T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: For a POST only the answers that say the request was turned away unprocessed.
POST_RETRY_STATUSES = frozenset({429, 503})


class TokenSource(Protocol):
    """Where the bearer token comes from (``auth.MsalTokens`` in production)."""

    @property
    def requests(self) -> int:
        """Requests sent to the identity platform so far."""

    def token(self) -> str:
        """The current access token."""

    def refresh(self) -> str:
        """A new access token, after the current one was refused."""


def describe(url: str) -> str:
    """``url`` without its query: safe to log (pre-authenticated download links carry a key)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def tls_error(url: str, exc: requests.exceptions.SSLError) -> GraphFailed:
    """A TLS failure is a trust problem, not a passing fault: it is not retried."""
    reason = str(exc.args[0]) if exc.args else type(exc).__name__
    return GraphFailed(
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


@dataclass
class _Request:
    """One request through the retry loop, and whether its next try needs a new token."""

    method: str
    url: str
    data: bytes | None
    allow_redirects: bool
    extra: Mapping[str, str]
    authorized: bool = False
    refreshed: bool = False
    refresh_due: bool = False


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

    @property
    def token_requests(self) -> int:
        """Requests sent to the identity platform so far (not counted in ``requests``)."""
        return self._tokens.requests

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
        """GET ``url``; returns a 2xx or 3xx response, or raises a ``GraphError``.

        ``anonymous`` sends no token even to the Graph origin (pre-authenticated downloads);
        ``headers`` are added to (or replace) the default ones (e.g. ``ConsistencyLevel``).
        """
        return self._request("GET", url, None, allow_redirects, anonymous, headers)

    def post_json(self, url: str, body: Mapping[str, Any]) -> requests.Response:
        """POST ``body`` as JSON to ``url``; returns a 2xx or 3xx response, or raises.

        Raises ``GraphRefused`` for an error answer (400, 404, 413, …),
        ``GraphForbidden`` for 403, ``GraphAuthError`` when a new token is
        refused too, ``GraphOutcomeUnknown`` when the request was sent but no
        usable answer came back, and ``GraphUnavailable`` when the retry budget
        is spent. Only failures that prove the request was not processed are retried.
        """
        return self._request("POST", url, encode_json(body), False, False)

    def delete(self, url: str) -> requests.Response:
        """DELETE ``url`` (no body); answers and raises as :meth:`post_json` (not idempotent here:
        a DELETE whose answer was lost is reported unknown, never silently repeated)."""
        return self._request("DELETE", url, None, False, False)

    def _request(
        self,
        method: str,
        url: str,
        data: bytes | None,
        allow_redirects: bool,
        anonymous: bool,
        extra: Mapping[str, str] | None = None,
    ) -> requests.Response:
        request = _Request(method, url, data, allow_redirects, extra or {})
        request.authorized = not anonymous and self.authorized_for(url)
        return retrying(
            partial(self._send, request),
            partial(self._classify, request),
            policy=self.policy,
            give_up=partial(self._spent, method, url),
            on_wait=partial(self._log_wait, method, url),
            catch=(requests.ConnectionError, requests.Timeout, TokenUnavailable),
            sleep=self._sleep,
            random=self._random,
            clock=self._clock,
        )

    def _send(self, request: _Request) -> requests.Response:
        """One try of ``request``: a new token first if the last one was refused."""
        headers = {"Accept": "application/json, text/csv"}
        if request.data is not None:
            headers["Content-Type"] = "application/json"
        headers.update(request.extra)
        if request.authorized:
            token = self._tokens.refresh() if request.refresh_due else self._tokens.token()
            request.refresh_due = False
            headers["Authorization"] = f"Bearer {token}"
        self.requests += 1
        return self._session.request(
            request.method,
            request.url,
            headers=headers,
            data=request.data,
            timeout=self._timeout,
            allow_redirects=request.allow_redirects,
            # Per request: requests lets REQUESTS_CA_BUNDLE override session.verify.
            verify=self._session.verify,
        )

    def _classify(
        self, request: _Request, answer: requests.Response | Exception
    ) -> Outcome[requests.Response]:
        """Sort one try's answer into done, retry (a first 401: a new token) or fatal."""
        method, url = request.method, request.url
        idempotent = method == "GET"
        if isinstance(answer, requests.exceptions.SSLError):
            return Fatal(tls_error(url, answer))
        if isinstance(answer, TokenUnavailable):
            return Retry(str(answer))
        if isinstance(answer, requests.RequestException):
            if not idempotent and not sent_nothing(answer):
                return Fatal(self._unknown(method, url, type(answer).__name__))
            return Retry(type(answer).__name__)
        if isinstance(answer, Exception):
            return Fatal(answer)
        status = answer.status_code
        if status < 400:
            return Done(answer)
        if status == 401 and request.authorized and not request.refreshed:
            request.refreshed = request.refresh_due = True  # one new token a request, no more
            return Retry(f"HTTP {status}", counted=False)
        if status in (RETRY_STATUSES if idempotent else POST_RETRY_STATUSES):
            return Retry(f"HTTP {status}", retry_after=answer.headers.get("Retry-After"))
        if not idempotent and status >= 500:
            return Fatal(self._unknown(method, url, f"HTTP {status}"))
        return Fatal(self._fatal(method, url, answer))

    def get_json(self, url: str) -> tuple[Mapping[str, Any], bytes]:
        """GET a Graph JSON document; returns it parsed and as the exact bytes received."""
        response = self.get(url)
        return self._parsed(url, response), response.content

    def get_decoded(
        self, url: str, decode: Callable[[bytes], T | None]
    ) -> tuple[T | Mapping[str, Any], bytes]:
        """As :meth:`get_json`, the document decoded by ``decode`` where it does (not None)."""
        response = self.get(url)
        decoded = decode(response.content)
        if decoded is not None:
            return decoded, response.content
        return self._parsed(url, response), response.content

    def _parsed(self, url: str, response: requests.Response) -> Mapping[str, Any]:
        try:
            # orjson: a million users' pages parse in a tenth of json.loads' time (issue 18);
            # a page with a lone surrogate is read again by the standard library.
            doc = jsontext.loads(response.content)
        except ValueError:
            raise GraphFailed(
                f"Graph answered GET {describe(url)} with something that is not JSON "
                f"(HTTP {response.status_code}, {response.headers.get('Content-Type', '?')})"
            ) from None
        if not isinstance(doc, dict):
            raise GraphFailed(f"Graph answered GET {describe(url)} with JSON that is not an object")
        return doc

    def _spent(self, method: str, url: str, retry: Retry, retries: int) -> GraphUnavailable:
        """The error once the retry budget of ``url`` is spent."""
        max_retries = self.policy.max_retries
        outcome = (
            "stopped without a complete pull, nothing was sent"
            if method == "GET"
            else "Graph did not process it"
        )
        return GraphUnavailable(
            f"Graph kept failing for {method} {describe(url)} ({retry.reason}) after "
            f"{max_retries} retr{'y' if max_retries == 1 else 'ies'}; {outcome}",
            hint=f"run again later; raise max_retries in {self._table} if this recurs",
        )

    def _log_wait(self, method: str, url: str, waited: Waited) -> None:
        log.warning(
            "%s %s: %s; retry %d of %d in %.3f s%s",
            method,
            describe(url),
            waited.retry.reason,
            waited.number,
            self.policy.max_retries,
            waited.seconds,
            " (Retry-After)" if waited.asked else "",
        )

    @staticmethod
    def _unknown(method: str, url: str, what: str) -> GraphOutcomeUnknown:
        return GraphOutcomeUnknown(
            f"Graph gave no usable answer to {method} {describe(url)} ({what}) after the request "
            "was sent: it may or may not have been processed, so it was not retried",
            hint="check the result in Microsoft 365 before doing it again",
        )

    def _fatal(self, method: str, url: str, response: requests.Response) -> GraphError:
        status = response.status_code
        code, message = graph_error(response)
        detail = f"HTTP {status}" + (f" {code}" if code else "")
        detail += f": {message}" if message else ""
        where = f"Graph refused {method} {describe(url)}: {detail}"
        if status == 401:
            return GraphAuthError(
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


class LazyGraph:
    """A Graph client opened on first use and closed with its session: what every Graph user holds.

    ``session_factory``, ``sleep``, ``random`` and ``clock`` are injectable so
    tests never wait; the credential is loaded by the caller beforehand (a
    missing secret is a ``ConfigError`` before any network call).
    """

    def __init__(
        self,
        options: GraphOptions,
        credential: Credential,
        *,
        session_factory: Callable[[], requests.Session] = requests.Session,
        sleep: Callable[[float], None] | None = None,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        config_table: str = "[sources.accounts]",
    ) -> None:
        self._options = options
        self._credential = credential
        self._session_factory = session_factory
        self._sleep = sleep
        self._random = random
        self._clock = clock
        self._config_table = config_table
        self._session: requests.Session | None = None
        self._http: GraphHttp | None = None

    def client(self) -> GraphHttp:
        """The client, opening the session on the first call."""
        if self._http is None:
            self._session = self._session_factory()
            self._http = open_graph(
                self._options,
                self._credential,
                self._session,
                sleep=self._sleep,
                random=self._random,
                clock=self._clock,
                config_table=self._config_table,
            )
        return self._http

    def close(self) -> None:
        """Close the session; the next call opens a new one."""
        if self._session is not None:
            self._session.close()
            self._session = None
            self._http = None
