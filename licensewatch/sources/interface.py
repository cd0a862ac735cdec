"""What every source adapter provides: one small abstract class per feed.

A source is built from its :class:`~licensewatch.config.SourceSettings`
(validating its own options, raising ``ConfigError`` on unknown or missing
keys) and pulls its feed into canonical frames (``licensewatch.model``).
Adapters wrap their transport errors in ``SourceError`` subclasses and bad
file content in ``InputError``; they never return a partial pull.

``complete`` says whether the pull *proved* it holds the whole feed (for Graph:
the page chain linked and the user count matched ``$count``). A pull that could
not prove it (``verify_count = false``) is used for findings, but nothing it
lacks is booked as ``removed`` (see :mod:`licensewatch.rules.removals`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

import pandas as pd


@dataclass(frozen=True)
class AccountsPull:
    """Accounts and the licences they hold, as one consistent pull.

    ``signal`` says where activity came from ("signInActivity", "usage-report").
    """

    accounts: pd.DataFrame
    licenses: pd.DataFrame
    signal: str = "signInActivity"
    requests: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: Proven to hold every account (see the module docstring); False books no removals.
    complete: bool = True
    #: What is paid per SKU (``model.SKU_SEATS``); None when the source does not read it.
    seats: pd.DataFrame | None = None
    #: The subscriptions (``model.SUBSCRIPTIONS``); None: no renewal data.
    subscriptions: pd.DataFrame | None = None
    #: How each licence is held (``model.LICENSE_STATES``); None when not read.
    license_states: pd.DataFrame | None = None


@dataclass(frozen=True)
class PhonesPull:
    """Phones with owner and registration."""

    phones: pd.DataFrame
    requests: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: Proven to hold every phone; False books no phone removals.
    complete: bool = True
    #: The call-manager clusters read (empty for a file inventory), and the optional
    #: ones that failed and were left out (``licensewatch.sources.cucm.clusters``).
    clusters: tuple[str, ...] = ()
    skipped_clusters: tuple[str, ...] = ()


@dataclass(frozen=True)
class SeparationsPull:
    """HR separations."""

    separations: pd.DataFrame
    notes: tuple[str, ...] = field(default_factory=tuple)


class Feed:
    """What every adapter declares: the keys of its table, and whether it reads over the network."""

    #: Every key its ``[sources.<feed>]`` table may hold besides ``kind``; the example
    #: config documents each (``tests/test_example_config.py``).
    KEYS: ClassVar[tuple[str, ...]] = ()
    #: True when ``pull`` reads over the network: a run reads every local feed first,
    #: so a bad file fails in seconds, not after a long pull.
    remote: ClassVar[bool] = False


class AccountsSource(Feed, ABC):
    """Pulls the ``accounts`` and ``account_licenses`` frames."""

    @abstractmethod
    def pull(self) -> AccountsPull:
        """Read the whole feed or raise; never return a partial pull."""

    def check(self) -> None:
        """Validate what can be validated without pulling (files exist, options)."""


class PhonesSource(Feed, ABC):
    """Pulls the ``phones`` frame."""

    @abstractmethod
    def pull(self) -> PhonesPull:
        """Read the whole feed or raise; never return a partial pull."""

    def check(self) -> None:
        """Validate what can be validated without pulling (files exist, options)."""


class SeparationsSource(Feed, ABC):
    """Pulls the ``separations`` frame."""

    @abstractmethod
    def pull(self) -> SeparationsPull:
        """Read the whole feed or raise; never return a partial pull."""

    def check(self) -> None:
        """Validate what can be validated without pulling (files exist, options)."""


@runtime_checkable
class Recordable(Protocol):
    """A live source that can save the raw responses of its next pull (``pull --save``).

    What it saves is exactly what its ``*-export`` kind replays, so a bad night
    can be reproduced offline.
    """

    def record_to(self, folder: Path) -> None:
        """Make the next ``pull()`` also write every raw response it reads into ``folder``."""
