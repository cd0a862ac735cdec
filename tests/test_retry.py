"""The one retry loop every HTTP client shares: budget, waits, what is raised."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from licensewatch.retry import (
    Done,
    Fatal,
    Outcome,
    Retry,
    RetryPolicy,
    Waited,
    retrying,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class GaveUp(Exception):
    pass


def run(
    outcomes: list[Outcome[str]], policy: RetryPolicy, *, draw: float = 0.0
) -> tuple[str, list[float], list[Waited]]:
    """Run the loop over scripted outcomes; the value, the sleeps and what on_wait was told."""
    script: Iterator[Outcome[str]] = iter(outcomes)
    sleeps: list[float] = []
    told: list[Waited] = []
    value = retrying(
        lambda: "answer",
        lambda _: next(script),
        policy=policy,
        give_up=lambda retry, made: GaveUp(f"{retry.reason} after {made}"),
        on_wait=told.append,
        catch=(OSError,),
        sleep=sleeps.append,
        random=lambda: draw,
        clock=lambda: NOW,
    )
    return value, sleeps, told


def test_backoff_then_retry_after_then_the_classifiers_own_wait() -> None:
    value, sleeps, told = run(
        [
            Retry("HTTP 503"),
            Retry("HTTP 429", retry_after="7"),
            Retry("fault", wait=2.5),
            Done("ok"),
        ],
        RetryPolicy(max_retries=3),
    )
    assert value == "ok"
    assert sleeps == [0.5, 7.0, 2.5]
    assert [(w.number, w.asked) for w in told] == [(1, False), (2, True), (3, False)]


def test_retry_after_is_capped_and_an_uncounted_retry_neither_waits_nor_spends() -> None:
    policy = RetryPolicy(max_retries=1, max_wait_s=10.0)
    value, sleeps, _ = run(
        [Retry("401", counted=False), Retry("429", retry_after="600"), Done("ok")], policy
    )
    assert (value, sleeps) == ("ok", [10.0])


def test_the_budget_spent_raises_what_give_up_makes() -> None:
    with pytest.raises(GaveUp, match="HTTP 503 after 2"):
        run([Retry("HTTP 503")] * 3, RetryPolicy(max_retries=2))


def test_a_fatal_outcome_is_raised_as_it_is() -> None:
    error = ValueError("refused")
    with pytest.raises(ValueError) as caught:
        run([Fatal(error)], RetryPolicy())
    assert caught.value is error


def test_only_the_named_exceptions_are_classified() -> None:
    seen: list[object] = []

    def classify(answer: object) -> Outcome[str]:
        seen.append(answer)
        return Done("classified")

    def send() -> str:
        raise ConnectionResetError("reset")

    def loop(catch: tuple[type[Exception], ...]) -> str:
        return retrying(
            send,
            classify,
            policy=RetryPolicy(),
            give_up=lambda retry, made: GaveUp(),
            on_wait=lambda waited: None,
            catch=catch,
            sleep=lambda s: None,
            random=lambda: 0.0,
            clock=lambda: NOW,
        )

    assert loop((OSError,)) == "classified"
    assert isinstance(seen[0], ConnectionResetError)
    with pytest.raises(ConnectionResetError):
        loop((ValueError,))
