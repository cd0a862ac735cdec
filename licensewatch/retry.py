"""One retry loop for every HTTP client (Graph, the CUCM SOAP services).

A client gives :func:`retrying` two things: ``send`` (one attempt) and
``classify``, which sorts what the attempt gave (an answer, or one of the
exceptions the client named as worth classifying) into :class:`Done` (return
this value), :class:`Retry` (try again after a wait) or :class:`Fatal` (raise
this error). The loop owns what every client shares: the retry budget of a
:class:`RetryPolicy`, the wait (what the classifier asked for, else the
server's ``Retry-After`` in seconds or as an HTTP date, else exponential
backoff with equal jitter) and the sleep. ``sleep``, ``random`` and ``clock``
are injected so that tests never wait.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Generic, TypeVar

T = TypeVar("T")
A = TypeVar("A")


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


@dataclass(frozen=True)
class Done(Generic[T]):
    """The attempt succeeded: the loop returns ``value``."""

    value: T


@dataclass(frozen=True)
class Retry:
    """The attempt failed in a way worth trying again.

    ``reason`` says what failed (for the log and the give-up message).
    ``wait`` is a wait the client chose itself; without it the loop honours
    ``retry_after`` (the server's header value), else backs off. A retry that is
    not ``counted`` (Graph's one new token after a 401) is made at once, without
    a wait and without spending the budget.
    """

    reason: str
    retry_after: str | None = None
    wait: float | None = None
    counted: bool = True


@dataclass(frozen=True)
class Fatal:
    """The attempt failed in a way that retrying cannot fix: the loop raises ``error``."""

    error: Exception


Outcome = Done[T] | Retry | Fatal


@dataclass(frozen=True)
class Waited:
    """One wait the loop is about to sleep: for the client's log line."""

    retry: Retry
    number: int
    seconds: float
    #: Whether the wait came from the server's Retry-After.
    asked: bool


def retrying(
    send: Callable[[], A],
    classify: Callable[[A | Exception], Outcome[T]],
    *,
    policy: RetryPolicy,
    give_up: Callable[[Retry, int], Exception],
    on_wait: Callable[[Waited], None],
    catch: tuple[type[Exception], ...],
    sleep: Callable[[float], None],
    random: Callable[[], float],
    clock: Callable[[], datetime],
) -> T:
    """Send until ``classify`` says done or fatal, or the retry budget is spent.

    Exceptions of the ``catch`` types that ``send`` raises are classified too;
    any other exception (and any ``classify`` raises) propagates as it is.
    When a counted retry is due with ``policy.max_retries`` retries made, raises
    ``give_up(retry, retries_made)``. Before each wait ``on_wait`` is told about it.
    """
    retries = 0
    while True:
        try:
            answer: A | Exception = send()
        except catch as exc:
            answer = exc
        outcome = classify(answer)
        if isinstance(outcome, Done):
            return outcome.value
        if isinstance(outcome, Fatal):
            raise outcome.error
        if not outcome.counted:
            continue
        if retries >= policy.max_retries:
            raise give_up(outcome, retries)
        retries += 1
        asked: float | None = None
        if outcome.wait is not None:
            wait = outcome.wait
        else:
            asked = parse_retry_after(outcome.retry_after, clock())
            wait = (
                min(asked, policy.max_wait_s)
                if asked is not None
                else policy.backoff(retries, random())
            )
        on_wait(Waited(outcome, retries, wait, asked is not None))
        sleep(wait)
