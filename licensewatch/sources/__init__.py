"""Source adapters, one module per feed and kind, chosen by ``kind`` in ``[sources.<feed>]``.

A new kind is one new module plus one entry in the feed's table below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from licensewatch.config import SourceSettings
from licensewatch.errors import ConfigError
from licensewatch.sources.cucm.export import CucmExportSource
from licensewatch.sources.cucm.inventory_csv import PhonesCsvSource
from licensewatch.sources.cucm.multi import CucmClustersSource
from licensewatch.sources.graph.export import GraphExportSource
from licensewatch.sources.graph.live import GraphSource
from licensewatch.sources.hr.files import SeparationsCsvSource, SeparationsXlsxSource
from licensewatch.sources.hr.sql import SeparationsSqlSource
from licensewatch.sources.interface import AccountsSource, PhonesSource, SeparationsSource

S = TypeVar("S")

#: kind → adapter, per feed.
ACCOUNTS_KINDS: dict[str, Callable[[SourceSettings], AccountsSource]] = {
    "graph": GraphSource,
    "graph-export": GraphExportSource,
}
PHONES_KINDS: dict[str, Callable[[SourceSettings], PhonesSource]] = {
    "csv": PhonesCsvSource,
    "cucm": CucmClustersSource,
    "cucm-export": CucmExportSource,
}
SEPARATIONS_KINDS: dict[str, Callable[[SourceSettings], SeparationsSource]] = {
    "csv": SeparationsCsvSource,
    "xlsx": SeparationsXlsxSource,
    "sql": SeparationsSqlSource,
}


def _build(kinds: Mapping[str, Callable[[SourceSettings], S]], settings: SourceSettings) -> S:
    adapter = kinds.get(settings.kind)
    if adapter is None:
        valid = ", ".join(sorted(kinds))
        raise ConfigError(
            f"[sources.{settings.feed}] kind {settings.kind!r} is not known; "
            f"valid kinds are: {valid}",
            hint=f"set kind in [sources.{settings.feed}] to one of: {valid}",
        )
    return adapter(settings)


def accounts_source(settings: SourceSettings) -> AccountsSource:
    """The adapter of ``[sources.accounts]`` (raises ``ConfigError`` on a bad kind or option)."""
    return _build(ACCOUNTS_KINDS, settings)


def phones_source(settings: SourceSettings) -> PhonesSource:
    """The adapter of ``[sources.phones]`` (raises ``ConfigError`` on a bad kind or option)."""
    return _build(PHONES_KINDS, settings)


def separations_source(settings: SourceSettings) -> SeparationsSource:
    """The adapter of ``[sources.separations]`` (raises ``ConfigError`` on a bad kind or option)."""
    return _build(SEPARATIONS_KINDS, settings)
