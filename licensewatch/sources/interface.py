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
from typing import Protocol, runtime_checkable

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


@dataclass(frozen=True)
class SeparationsPull:
    """HR separations."""

    separations: pd.DataFrame
    notes: tuple[str, ...] = field(default_factory=tuple)


class AccountsSource(ABC):
    """Pulls the ``accounts`` and ``account_licenses`` frames."""

    @abstractmethod
    def pull(self) -> AccountsPull:
        """Read the whole feed or raise; never return a partial pull."""

    def check(self) -> None:  # noqa: B027 - optional hook
        """Validate what can be validated without pulling (files exist, options)."""


class PhonesSource(ABC):
    """Pulls the ``phones`` frame."""

    @abstractmethod
    def pull(self) -> PhonesPull:
        """Read the whole feed or raise; never return a partial pull."""

    def check(self) -> None:  # noqa: B027 - optional hook
        """Validate what can be validated without pulling (files exist, options)."""


class SeparationsSource(ABC):
    """Pulls the ``separations`` frame."""

    @abstractmethod
    def pull(self) -> SeparationsPull:
        """Read the whole feed or raise; never return a partial pull."""

    def check(self) -> None:  # noqa: B027 - optional hook
        """Validate what can be validated without pulling (files exist, options)."""


@runtime_checkable
class Recordable(Protocol):
    """A live source that can save the raw responses of its next pull (``pull --save``).

    What it saves is exactly what its ``*-export`` kind replays, so a bad night
    can be reproduced offline.
    """

    def record_to(self, folder: Path) -> None:
        """Make the next ``pull()`` also write every raw response it reads into ``folder``."""
