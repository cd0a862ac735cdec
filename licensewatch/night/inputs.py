"""Read and validate everything a run needs before anything is written.

Both ``licensewatch run`` and ``licensewatch check-config`` go through here, so
that what check-config accepts is exactly what a run accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Final

import pandas as pd

from licensewatch import forked, model
from licensewatch.config import Settings
from licensewatch.rules.date_bounds import check_dates
from licensewatch.rules.neutralise import merge_counts, neutralise_frame
from licensewatch.sources import accounts_source, phones_source, separations_source
from licensewatch.sources.interface import (
    AccountsPull,
    AccountsSource,
    PhonesPull,
    PhonesSource,
    SeparationsPull,
    SeparationsSource,
)
from licensewatch.sources.options import existing_path
from licensewatch.sources.reference import read_exemptions, read_focal_points, read_rate_card


@dataclass(frozen=True)
class ReferenceData:
    """The organization's own files: rate card, focal points, exemptions.

    ``neutralised``: text values rewritten per ``<file>.<column>``
    (``licensewatch.rules.neutralise``).
    """

    rate_card: pd.DataFrame
    focal_points: pd.DataFrame
    exemptions: pd.DataFrame
    neutralised: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Sources:
    """The three feeds' adapters, built and option-checked."""

    accounts: AccountsSource
    phones: PhonesSource
    separations: SeparationsSource


def build_sources(settings: Settings) -> Sources:
    """Build every feed's adapter (raises ``ConfigError`` on a bad kind or option)."""
    return Sources(
        accounts=accounts_source(settings.sources["accounts"]),
        phones=phones_source(settings.sources["phones"]),
        separations=separations_source(settings.sources["separations"]),
    )


def pull_local_first(
    feeds: Sources,
    stage: Callable[[str, Callable[[], Any]], Any],
    *,
    processes: bool = False,
) -> tuple[AccountsPull, PhonesPull, SeparationsPull]:
    """Pull the three feeds, each as a ``stage``: the local ones (files) first, then the remote.

    A missing or bad HR file then fails in seconds, before an hour of Graph
    or CUCM paging, and the remote pulls end as close as possible to the run.
    The remote pulls (Graph and the call managers are different systems) run
    at the same time: the night waits for the longer of them, not for their
    sum. With ``processes`` each runs in a process of its own
    (:mod:`licensewatch.forked`: two cores, not one interpreter
    lock), waited for by a thread; otherwise in a thread. When one fails, the
    other is still waited for (that is never later than pulling one after the
    other) and the first failure, in the order listed here, is raised.
    """
    steps: list[tuple[str, AccountsSource | PhonesSource | SeparationsSource]] = [
        ("pull accounts", feeds.accounts),
        ("pull phones", feeds.phones),
        ("read separations", feeds.separations),
    ]
    local = [step for step in steps if not getattr(step[1], "remote", False)]
    remote = [step for step in steps if getattr(step[1], "remote", False)]
    got = {name: stage(name, source.pull) for name, source in local}
    if len(remote) < 2:
        got.update({name: stage(name, source.pull) for name, source in remote})
    else:
        jobs = _processes(remote) if processes else {n: s.pull for n, s in remote}
        with ThreadPoolExecutor(len(remote), thread_name_prefix="licensewatch-pull") as pool:
            futures = {name: pool.submit(stage, name, job) for name, job in jobs.items()}
            wait(futures.values())
        for name, future in futures.items():
            got[name] = future.result()  # the first failure (in step order) is raised here
    return got["pull accounts"], got["pull phones"], got["read separations"]


def _processes(remote: list[tuple[str, Any]]) -> dict[str, Callable[[], Any]]:
    """Start each remote pull in its own process (all forked from this thread); their results."""
    children: list[forked.Child] = []
    try:
        for name, source in remote:
            children.append(forked.start(name, source.pull))
    except BaseException:
        for child in children:
            child.stop()
        raise
    return {child.name: child.result for child in children}


#: The reference files: their config table and the header row messages show.
REFERENCE_FILES: Final = {
    "rate_card": "item, description, resource_kind, matches, annual_rate_usd, effective_from, "
    "effective_to",
    "focal_points": ", ".join(model.FOCAL_POINTS),
    "exemptions": ", ".join(model.EXEMPTIONS),
}


def _utc_day(today: date | None) -> pd.Timestamp | None:
    if today is None:
        return None
    stamp = pd.Timestamp(today)
    day = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return day.normalize()


def read_reference_file(
    base_dir: Path, name: str, path: Path | None, today: date | None = None
) -> pd.DataFrame:
    """Read the reference file ``name`` (in :data:`REFERENCE_FILES`) at ``path``.

    A file the config names but that does not exist raises ``ConfigError``
    naming the key (``[rate_card] path = "rate_card.csv": no such file``); bad
    content raises ``InputError``. No path (no ``[exemptions]`` table): no rows.
    """
    if path is None:
        return model.empty(model.EXEMPTIONS)
    shown = path.relative_to(base_dir) if path.is_relative_to(base_dir) else path
    expected = f"expected a CSV file with the header row: {REFERENCE_FILES[name]}"
    existing_path(f"[{name}]", "path", str(shown), path, expected=expected)
    if name == "rate_card":
        return read_rate_card(path)
    if name == "focal_points":
        return read_focal_points(path)
    return read_exemptions(path, _utc_day(today))


def read_reference(settings: Settings, today: date | None = None) -> ReferenceData:
    """Read the rate card, focal points and exemptions (raises ``InputError``).

    Given ``today`` (the day of the run by its clock, whatever day it assesses),
    an exemption expiring more than a year after it is an error; so a file
    valid today is valid for a re-run of any earlier ``--as-of`` too.
    """
    frames = {
        name: read_reference_file(settings.base_dir, name, getattr(settings, name), today)
        for name in REFERENCE_FILES
    }
    rate_card, on_rates = neutralise_frame(frames["rate_card"], "rate_card")
    focal, on_focal = neutralise_frame(frames["focal_points"], "focal_points")
    exemptions, on_exemptions = neutralise_frame(frames["exemptions"], "exemptions")
    return ReferenceData(
        rate_card=rate_card,
        focal_points=focal,
        exemptions=exemptions,
        neutralised=merge_counts(on_rates, on_focal, on_exemptions),
    )


@dataclass(frozen=True)
class Screened:
    """The three pulls after :func:`screen`, with what the screening found.

    ``neutralised``: text values rewritten per ``<feed>.<column>``;
    ``implausible_dates``: dates set aside per ``<feed>.<column>``;
    ``warnings``: one data warning per date set aside ("<config table>: <what>").
    """

    accounts: AccountsPull
    phones: PhonesPull
    separations: SeparationsPull
    neutralised: dict[str, int]
    implausible_dates: dict[str, int]
    warnings: tuple[str, ...]


def screen(
    accounts: AccountsPull,
    phones: PhonesPull,
    separations: SeparationsPull,
    *,
    as_of: pd.Timestamp,
    now: pd.Timestamp,
) -> Screened:
    """What every feed's frames pass through between the source and the rules (pure).

    Text no output can hold is neutralised (``licensewatch.rules.neutralise``) and
    impossible dates are set aside with a warning (``licensewatch.rules.date_bounds``).
    """
    acc, on_acc = neutralise_frame(accounts.accounts, "accounts")
    lic, on_lic = neutralise_frame(accounts.licenses, "account_licenses")
    ph, on_ph = neutralise_frame(phones.phones, "phones")
    seps, on_seps = neutralise_frame(separations.separations, "separations")
    checked = [
        check_dates(acc, "accounts", as_of=as_of, now=now),
        check_dates(ph, "phones", as_of=as_of, now=now),
        check_dates(seps, "separations", as_of=as_of, now=now),
    ]
    return Screened(
        accounts=replace(accounts, accounts=checked[0].frame, licenses=lic),
        phones=replace(phones, phones=checked[1].frame),
        separations=replace(separations, separations=checked[2].frame),
        neutralised=merge_counts(on_acc, on_lic, on_ph, on_seps),
        implausible_dates=merge_counts(*(c.counts for c in checked)),
        warnings=tuple(w for c in checked for w in c.warnings),
    )
