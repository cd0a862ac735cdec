"""Several call-manager clusters in one phones feed: their options, concurrent pull and merge.

Large organizations run one CUCM cluster per duty station. ``[sources.phones]``
with ``kind = "cucm"`` (or a saved pull of them, ``kind = "cucm-export"``)
then names them in ``[sources.phones.clusters.<name>]`` tables, each with the
single-cluster keys of :mod:`licensewatch.sources.cucm.live` (its own AXL and
RisPort URLs, user, ``password_env``, TLS options and RisPort limit) plus
``optional`` and a ``device_pools`` table (pool name → department, for that
cluster's pools only). ``[sources.phones]`` itself then keeps only ``kind``,
``owner_match`` and ``clusters``. The single-cluster form is one cluster named
:data:`~licensewatch.model.DEFAULT_CLUSTER`.

Clusters are pulled at once, one thread each, each under its own RisPort
limit (the limit is per cluster). A cluster that fails fails the pull (so the
night exits 1 and sends nothing) unless it is ``optional``: then the night
goes on without its phones, says so in its notes (log and
``run_summary.json``), and books no phone removals (the pull is incomplete).

Identity: a device name is unique only within its cluster (a phone configured
on two clusters is two licensed devices), so phones are keyed per cluster,
``<cluster>/<device name>``, the default cluster keeping bare names
(:func:`licensewatch.model.phone_keys`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from licensewatch import model
from licensewatch.config import SourceSettings
from licensewatch.errors import ConfigError, LicensewatchError, SourceError
from licensewatch.logs import get_logger
from licensewatch.options import reject_unknown, typed
from licensewatch.sources.interface import PhonesPull

log = get_logger(__name__)

#: The keys of ``[sources.phones]`` when it names clusters.
TOP_KEYS: Final = ("owner_match", "clusters")
#: Keys a cluster's table adds to the single-cluster ones.
CLUSTER_EXTRA: Final = ("optional", "device_pools")
#: The manifest format of a saved pull of several clusters (a folder per cluster).
CLUSTERS_FORMAT: Final = "licensewatch-cucm-clusters/1"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_EXAMPLE = '[sources.phones.clusters.hq] then axl_url = "https://cucm-hq.example.org:8443/axl/"'


@dataclass(frozen=True)
class ClusterSpec:
    """One cluster of the phones feed: its name, config table and options."""

    name: str
    where: str
    settings: SourceSettings
    optional: bool = False
    device_pools: Mapping[str, str] | None = None


def _pools(where: str, value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in value.items()
    ):
        raise ConfigError(
            f"{where} device_pools must map device pool names to department names",
            hint=f'write it as {where[:-1]}.device_pools] then "DP_HQ" = "Finance"',
        )
    return {str(k): str(v).strip() for k, v in value.items()}


def cluster_specs(
    settings: SourceSettings, cluster_keys: Sequence[str], top_keys: Sequence[str] = TOP_KEYS
) -> list[ClusterSpec]:
    """The clusters ``[sources.<feed>]`` names (one, the default, for the single form).

    ``cluster_keys`` are the keys a cluster's own table may hold besides
    :data:`CLUSTER_EXTRA` (checked by the caller's parser); ``top_keys`` those
    of ``[sources.<feed>]`` itself. Raises ``ConfigError`` naming the table and key.
    """
    o = settings.options
    top = f"[sources.{settings.feed}]"
    if "clusters" not in o:
        return [ClusterSpec(model.DEFAULT_CLUSTER, top, settings)]
    reject_unknown(
        o,
        top_keys,
        top,
        listed=("kind", *top_keys),
        kind=settings.kind,
        hint=f"with clusters, {top} keeps only owner_match; move the rest into each cluster",
    )
    table = o["clusters"]
    if not isinstance(table, Mapping) or not table:
        raise ConfigError(f"{top} clusters must be a table of clusters", hint=f"write {_EXAMPLE}")
    specs: list[ClusterSpec] = []
    for name, options in table.items():
        where = f"[sources.{settings.feed}.clusters.{name}]"
        if not _NAME.fullmatch(str(name)):
            raise ConfigError(
                f"{where}: {name!r} is not a cluster name",
                hint="use lower-case letters, digits, '-' and '_' (e.g. hq, geneva, mission-1)",
            )
        if not isinstance(options, Mapping):
            raise ConfigError(f"{where} must be a table", hint=f"write {_EXAMPLE}")
        reject_unknown(
            options,
            (*cluster_keys, *CLUSTER_EXTRA),
            where,
            hint=f"correct or remove the key in {where}",
        )
        optional = typed(where, "optional", options.get("optional", False), bool)
        pools = _pools(where, options.get("device_pools", {}))
        sub = SourceSettings(settings.feed, settings.kind, dict(options), settings.base_dir)
        specs.append(ClusterSpec(str(name), where, sub, bool(optional), pools))
    return specs


def pool_departments(settings: SourceSettings) -> dict[str, str]:
    """Every cluster's ``device_pools`` as ``<cluster>/<pool>`` → department (reconcile's keys)."""
    table = settings.options.get("clusters")
    if not isinstance(table, Mapping):
        return {}
    out: dict[str, str] = {}
    for name, options in table.items():
        pools = options.get("device_pools", {}) if isinstance(options, Mapping) else {}
        where = f"[sources.{settings.feed}.clusters.{name}]"
        out.update({f"{name}/{pool}": dept for pool, dept in _pools(where, pools).items()})
    return out


@dataclass(frozen=True)
class ClusterOutcome:
    """How one cluster's pull ended: its pull, or the one-line error it failed with."""

    name: str
    optional: bool
    pulled: PhonesPull | None
    error: str | None = None


def pull_clusters(
    pulls: Sequence[tuple[ClusterSpec, Callable[[], PhonesPull]]],
) -> list[ClusterOutcome]:
    """Run each cluster's pull in a thread of its own; outcomes in the order given.

    A cluster's ``LicensewatchError`` becomes its outcome's ``error``; any other
    exception (a bug) propagates. One cluster runs in the calling thread.
    """
    if len(pulls) == 1:
        spec, pull = pulls[0]
        try:
            return [ClusterOutcome(spec.name, spec.optional, pull())]
        except LicensewatchError as exc:
            if not spec.optional:
                raise
            return [ClusterOutcome(spec.name, True, None, exc.one_line())]
    outcomes: list[ClusterOutcome] = []
    with ThreadPoolExecutor(max_workers=len(pulls), thread_name_prefix="cucm") as pool:
        futures = [(spec, pool.submit(pull)) for spec, pull in pulls]
        for spec, future in futures:
            try:
                outcomes.append(ClusterOutcome(spec.name, spec.optional, future.result()))
            except LicensewatchError as exc:
                outcomes.append(ClusterOutcome(spec.name, spec.optional, None, exc.one_line()))
    return outcomes


def combine(outcomes: Sequence[ClusterOutcome], where: str = "[sources.phones]") -> PhonesPull:
    """One phones pull of every cluster; raise if a cluster that is not optional failed."""
    failed = [o for o in outcomes if o.pulled is None and not o.optional]
    if failed:
        what = "; ".join(f"cluster {o.name}: {o.error}" for o in failed)
        names = ", ".join(o.name for o in failed)
        raise SourceError(
            f"CUCM {what}",
            hint=f"fix cluster {names} and run again, or set optional = true in its "
            f"{where[:-1]}.clusters.<name>] table to run the night without it",
        )
    pulled = [o for o in outcomes if o.pulled is not None]
    skipped = [o for o in outcomes if o.pulled is None]
    notes: list[str] = []
    for o in pulled:
        assert o.pulled is not None
        notes.extend(o.pulled.notes)
    for o in skipped:
        note = (
            f"CUCM cluster {o.name} (optional) failed and is left out of this night: {o.error}; "
            "its phones are neither reported nor booked as removed"
        )
        log.warning("%s", note)
        notes.append(note)
    frames = [model.conform(o.pulled.phones, model.PHONES) for o in pulled if o.pulled is not None]
    phones = pd.concat(frames, ignore_index=True) if frames else model.empty(model.PHONES)
    return PhonesPull(
        phones=model.conform(phones, model.PHONES),
        requests=sum(o.pulled.requests for o in pulled if o.pulled is not None),
        notes=tuple(notes),
        complete=not skipped and all(o.pulled.complete for o in pulled if o.pulled is not None),
        clusters=tuple(o.name for o in pulled),
        skipped_clusters=tuple(o.name for o in skipped),
    )
