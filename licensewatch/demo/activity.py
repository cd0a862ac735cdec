"""Sign-in activity of the demo accounts: which kind each account is and what Graph shows of it.

A kind (``active``, ``inactive``, ``never_sentinel``, ``sep_active`` …) decides
the account's dates; :func:`account_activity` turns it into the ``signInActivity``
object with the documented quirks of how Graph says "never".
"""

from __future__ import annotations

import random

from licensewatch.demo.common import DAY, Moments, guid, iso

NEVER = "0001-01-01T00:00:00Z"
#: Account kinds whose licences are dormant; their owners' phones are dormant too.
DORMANT = frozenset(
    {
        *("inactive", "failed", "disabled", "never", "never_sentinel", "never_blank"),
        *("sep_active", "sep_inactive", "sep_disabled"),
    }
)


def member_kinds(members: int) -> list[str]:
    """The kind of every member account, in proportions that follow the audit.

    Rare kinds get at least one account, so that a small demo shows every quirk.
    """
    leavers = round(members * 0.045)
    future = round(leavers * 0.1)
    effective = leavers - future
    inactive, never = round(members * 0.028), round(members * 0.013)
    shares = {
        "sep_future": future,
        "sep_active": round(effective * 0.6),
        "sep_inactive": round(effective * 0.25),
        "sep_disabled": effective - round(effective * 0.6) - round(effective * 0.25),
        "failed": max(1, round(inactive * 0.1)),  # inactive, with recent failed attempts
        "never_sentinel": max(1, round(never * 0.3)),  # "0001-01-01T00:00:00Z" everywhere
        "never_blank": max(1, round(never * 0.2)),  # "" everywhere
        "disabled": round(members * 0.01),
        "new": round(members * 0.004),
        "recent": round(members * 0.05),
    }
    shares["inactive"] = inactive - shares["failed"]
    shares["never"] = never - shares["never_sentinel"] - shares["never_blank"]  # no signInActivity
    kinds = [kind for kind, n in shares.items() for _ in range(max(0, n))][:members]
    return kinds + ["active"] * (members - len(kinds))


def sign_in_activity(
    rng: random.Random, interactive: int | None, noninteractive: int | None, successful: int | None
) -> dict[str, str]:
    """A signInActivity object; ``None`` is written as Graph writes "never" (sentinel or "")."""

    def stamp(epoch: int | None, never: str) -> tuple[str, str]:
        if epoch is None:
            return never, ""
        return iso(epoch), guid(rng)[:-2] + "00"

    i, i_id = stamp(interactive, NEVER)
    n, n_id = stamp(noninteractive, NEVER)
    # The last success is usually one of the two sign-ins above: same time, same request.
    if successful is not None and successful == interactive:
        s, s_id = i, i_id
    elif successful is not None and successful == noninteractive:
        s, s_id = n, n_id
    else:
        s, s_id = stamp(successful, "")
    return {
        "lastSignInDateTime": i,
        "lastSignInRequestId": i_id,
        "lastNonInteractiveSignInDateTime": n,
        "lastNonInteractiveSignInRequestId": n_id,
        "lastSuccessfulSignInDateTime": s,
        "lastSuccessfulSignInRequestId": s_id,
    }


def account_activity(
    rng: random.Random, at: Moments, kind: str
) -> tuple[dict[str, str] | None, int, int, bool, int | None]:
    """(signInActivity or None, created, last use, enabled, separation) of one account kind."""
    if kind.startswith("never") or kind == "new":
        created = at.ago(1, 60) if kind == "new" else at.ago(120, 2500)
        if kind in ("never", "new"):  # no signInActivity: the commonest way Graph says "never"
            return None, created, created, True, None
        never = sign_in_activity(rng, None, None, None)
        if kind == "never_blank":
            never = dict.fromkeys(never, "")
        return never, created, created, True, None
    separated: int | None = None
    failed: int | None = None
    if kind.startswith("sep_") and kind != "sep_future":
        days = rng.randint(1, 540)
        separated = at.base - days * DAY
        interactive = at.ago(days, days + 4)
        noninteractive = at.ago(0, 6) if kind == "sep_active" else None
    elif kind in ("inactive", "failed", "disabled"):
        days = rng.randint(20, 400) if kind == "disabled" else rng.randint(91, 700)
        interactive = at.ago(days, days)
        noninteractive = at.ago(91, days) if kind != "disabled" and rng.random() < 0.4 else None
        if kind == "failed":
            failed = at.ago(0, 20)  # recent failed attempts: dormant only by successful sign-ins
    else:
        days = rng.randint(31, 89) if kind == "recent" else min(29, int(rng.expovariate(0.2)))
        interactive = at.ago(days, days)
        low = 31 if kind == "recent" else 0
        noninteractive = None if rng.random() < 0.1 else at.ago(low, max(low, min(days, 3)))
        if kind == "sep_future":
            separated = at.base + rng.randint(1, 60) * DAY
    last = max(interactive, noninteractive or interactive)
    # lastSuccessfulSignInDateTime exists only since December 2023: "" on some accounts.
    successful = None if failed is None and rng.random() < 0.04 else last
    created = min(interactive, noninteractive or interactive) - rng.randint(30, 3000) * DAY
    signin = sign_in_activity(rng, failed or interactive, noninteractive, successful)
    enabled = kind not in ("disabled", "sep_disabled")
    return signin, created, last, enabled, separated
