"""No silent configuration: who would get nothing, and which department goes to nobody.

:func:`check_routing` is called by ``check-config`` (departments of the last
stored run, and the device-pool routes) and by every run (the night's
findings) before anything is written or sent. It returns every problem at
once:

- ``errors``: ``[mail] escalation_to`` empty while the cycle escalates
  (``escalate = true``, the default: any unanswered item may reach the
  escalation, so the recipient is needed whatever today's data);
  ``[mail] unassigned_to`` empty while some department in the data has no
  focal point (its findings would go to nobody). A run with an error stops
  with exit 2 and sends nothing.
- ``unrouted``: one line per department in the data without a focal point,
  with the closest focal-point spelling when one is near ("Finanse" → did you
  mean "Finance"?). Reported always; an error with ``--strict``.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from licensewatch import model
from licensewatch.config import Settings
from licensewatch.errors import ConfigError
from licensewatch.notify.routes import focal_routes


@dataclass(frozen=True)
class RoutingCheck:
    """What :func:`check_routing` found (one sentence per problem)."""

    errors: list[str] = field(default_factory=list)
    unrouted: list[str] = field(default_factory=list)
    #: Named departments without a focal point (``--strict`` refuses them); ``unrouted``
    #: also counts the findings with no department (the unassigned queue's by design).
    named: list[str] = field(default_factory=list)

    def problems(self, *, strict: bool = False) -> list[str]:
        """The problems that fail the check: the errors, and with ``strict`` the named unrouted."""
        return [*self.errors, *(self.named if strict else [])]

    def raise_if_failed(self, *, strict: bool = False) -> None:
        """Raise one ``ConfigError`` listing every failing problem (exit 2)."""
        failed = self.problems(strict=strict)
        if failed:
            raise ConfigError(
                f"{len(failed)} routing problem{'s' if len(failed) > 1 else ''}: "
                + "; ".join(failed),
                hint="fix [mail] and the focal points file, then run licensewatch check-config",
            )


def _near(name: str, known: list[str]) -> str:
    folded = {k.casefold(): k for k in known}
    close = difflib.get_close_matches(name.casefold(), list(folded), n=1, cutoff=0.8)
    return f'; did you mean "{folded[close[0]]}"?' if close else ""


def check_routing(
    settings: Settings, focal_points: pd.DataFrame, departments: Iterable[object]
) -> RoutingCheck:
    """Check the recipients the cycle needs against the ``departments`` of the data.

    ``departments`` holds one entry per finding (so the lines can say how
    many); NA or empty means a finding no department owns.
    """
    mail = settings.mail
    routes = focal_routes(focal_points)
    known = [r.label for r in routes.values()]
    counts: Counter[str] = Counter()
    for value in departments:
        text = value.strip() if isinstance(value, str) else ""
        counts[text or model.UNASSIGNED] += 1
    errors: list[str] = []
    if mail.escalate and not mail.escalation_to:
        errors.append(
            "[mail] escalation_to is not set: items unanswered "
            f"{mail.escalate_after_days} days after their notice are escalated to the steering "
            'committee; set escalation_to = ["..."] (or escalate = false to chase the focal '
            "points only)"
        )
    unrouted: list[str] = []
    for name, n in sorted(counts.items(), key=lambda kv: kv[0].casefold()):
        if model.fold_key(name) in routes:
            continue
        what = f"{n} finding{'s' if n > 1 else ''}"
        if name == model.UNASSIGNED:
            unrouted.append(f"{what} {'have' if n > 1 else 'has'} no department")
        else:
            unrouted.append(
                f'department "{name}" ({what}) has no focal point in '
                f"{settings.focal_points.name}{_near(name, known)}"
            )
    if unrouted and not mail.unassigned_to:
        errors.append(
            f"[mail] unassigned_to is not set but {len(unrouted)} "
            f"department{'s' if len(unrouted) > 1 else ''} in the data "
            f"{'have' if len(unrouted) > 1 else 'has'} no focal point: their findings would "
            'go to nobody; set unassigned_to = ["..."] or add the focal points'
        )
    named = [line for line in unrouted if line.startswith("department ")]
    return RoutingCheck(errors, unrouted, named)
