"""The safety brake: a run that looks incomplete or implausible must not write to anyone.

A half-read sign-in feed makes everybody look dormant. Before anything is sent
the run compares what it pulled with the last good run and with the policy;
:func:`check` returns the reasons to stop (empty when the run may proceed). Pure:
numbers in, reasons out.

Phones read from several call-manager clusters are watched cluster by cluster
(``phones_read.<cluster>`` counts, each against the same cluster's count in the
last good run; a cluster left out of the run, or new, is not compared), in
place of their total.

The HR separations feed is watched like the others (a sharp drop against the
last good run brakes), and an empty one brakes on every run, the first one
included, unless the policy says the organization's feed may be empty
(``allow_empty_separations``): an export that wrote only its header, or a
query that found nothing, must not silently drop every SEPARATED finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from licensewatch.config import Policy

#: Feeds whose size must not drop sharply between two runs (counts keys).
FEEDS = {
    "accounts_read": "accounts",
    "licenses_read": "licence assignments",
    "phones_read": "phones",
    "separations_read": "HR separations",
}

#: Counts key of one call-manager cluster's phones (``phones_read.<cluster>``).
CLUSTER_PREFIX = "phones_read."


def cluster_counts(clusters: Mapping[str, int]) -> dict[str, int]:
    """The per-cluster counts keys of the phones each cluster read."""
    return {f"{CLUSTER_PREFIX}{name}": int(n) for name, n in clusters.items()}


@dataclass(frozen=True)
class Baseline:
    """What the last good run saw (None when there is no good run yet)."""

    as_of: str
    counts: Mapping[str, int]


def check(counts: Mapping[str, int], baseline: Baseline | None, policy: Policy) -> list[str]:
    """Reasons to brake, in plain words; an empty list means the run may notify."""
    reasons: list[str] = []
    licensed = counts.get("licensed_accounts", 0)
    dormant = counts.get("dormant_accounts", 0)
    if licensed and dormant / licensed > policy.max_dormant_fraction:
        reasons.append(
            f"{dormant:,} of {licensed:,} licensed accounts ({dormant / licensed:.1%}) look "
            f"dormant, above max_dormant_fraction {policy.max_dormant_fraction:.0%}: "
            "is the sign-in feed complete?"
        )
    if counts.get("separations_read") == 0 and not policy.allow_empty_separations:
        # On the first run too: an empty HR feed is far likelier a broken export than no leavers.
        reasons.append(
            "the HR separations feed is empty: was the export or query complete? (set "
            "allow_empty_separations = true in [policy] if your HR feed may hold no rows)"
        )
    if baseline is None:
        return reasons
    per_cluster = any(k.startswith(CLUSTER_PREFIX) for k in (*counts, *baseline.counts))
    feeds = {k: v for k, v in FEEDS.items() if not (per_cluster and k == "phones_read")}
    # Each call-manager cluster against its own last good night: one cluster that lost half
    # its phones brakes even when it is a small part of the total.
    feeds.update(
        {
            key: f"phones of cluster {key.removeprefix(CLUSTER_PREFIX)}"
            for key in sorted(counts)
            if key.startswith(CLUSTER_PREFIX) and key in baseline.counts
        }
    )
    for key, label in feeds.items():
        before, now = baseline.counts.get(key, 0), counts.get(key, 0)
        if before and (before - now) / before > policy.max_feed_drop:
            reasons.append(
                f"{label} fell from {before:,} (last good run, {baseline.as_of}) to {now:,} "
                f"({(before - now) / before:.1%} fewer), more than max_feed_drop "
                f"{policy.max_feed_drop:.0%}: was the pull complete?"
            )
    before_new, now_new = baseline.counts.get("new_findings", 0), counts.get("new_findings", 0)
    limit = policy.max_new_findings_factor * max(before_new, policy.new_findings_floor)
    if now_new > limit:
        reasons.append(
            f"{now_new:,} new findings against {before_new:,} in the last good run "
            f"({baseline.as_of}), more than max_new_findings_factor "
            f"{policy.max_new_findings_factor:g} × max(that, new_findings_floor "
            f"{policy.new_findings_floor:,})"
        )
    return reasons
