"""Read and validate everything a run needs before anything is written.

Both ``licensewatch run`` and ``licensewatch check-config`` go through here, so
that what check-config accepts is exactly what a run accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

import pandas as pd

from licensewatch import model
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


def read_reference(settings: Settings, today: date | None = None) -> ReferenceData:
    """Read the rate card, focal points and exemptions (raises ``InputError``).

    Given ``today`` (the day of the run by its clock, whatever day it assesses),
    an exemption expiring more than a year after it is an error; so a file
    valid today is valid for a re-run of any earlier ``--as-of`` too.
    """
    day = None
    if today is not None:
        stamp = pd.Timestamp(today)
        day = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        day = day.normalize()
    exemptions = (
        read_exemptions(settings.exemptions, day)
        if settings.exemptions is not None
        else model.empty(model.EXEMPTIONS)
    )
    rate_card, on_rates = neutralise_frame(read_rate_card(settings.rate_card), "rate_card")
    focal, on_focal = neutralise_frame(read_focal_points(settings.focal_points), "focal_points")
    exemptions, on_exemptions = neutralise_frame(exemptions, "exemptions")
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
