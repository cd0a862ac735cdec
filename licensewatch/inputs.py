"""Read and validate everything a run needs before anything is written.

Both ``licensewatch run`` and ``licensewatch check-config`` go through here, so
that what check-config accepts is exactly what a run accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from licensewatch import model
from licensewatch.config import Settings
from licensewatch.sources import accounts_source, phones_source, separations_source
from licensewatch.sources.files import read_exemptions, read_focal_points, read_rate_card
from licensewatch.sources.interface import AccountsSource, PhonesSource, SeparationsSource


@dataclass(frozen=True)
class ReferenceData:
    """The organization's own files: rate card, focal points, exemptions."""

    rate_card: pd.DataFrame
    focal_points: pd.DataFrame
    exemptions: pd.DataFrame


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
    return ReferenceData(
        rate_card=read_rate_card(settings.rate_card),
        focal_points=read_focal_points(settings.focal_points),
        exemptions=exemptions,
    )
