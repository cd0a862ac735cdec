"""``kind = "cucm"``: every cluster of ``[sources.phones]``, pulled at once (see :mod:`clusters`).

:class:`CucmClustersSource` builds one :class:`~licensewatch.sources.cucm.live.CucmSource`
per cluster (each with its own HTTP session, rate limiter and retries) and
pulls them with :func:`~licensewatch.sources.cucm.clusters.pull_clusters`.
``record_to(folder)`` (``pull --save``) saves the single-cluster form into
``folder`` as before, and several clusters into ``folder/<cluster>/`` each,
with a ``manifest.json`` listing them (written last) that ``cucm-export`` replays.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import requests

from licensewatch.atomic import write_text_atomic
from licensewatch.config import SourceSettings
from licensewatch.errors import ConfigError
from licensewatch.sources.cucm.clusters import (
    CLUSTERS_FORMAT,
    ClusterSpec,
    cluster_specs,
    combine,
    pull_clusters,
)
from licensewatch.sources.cucm.live import KEYS, CucmSource
from licensewatch.sources.interface import PhonesPull, PhonesSource
from licensewatch.sources.record import MANIFEST

#: The keys of one cluster's table (``owner_match`` is the feed's, in ``[sources.phones]``).
CLUSTER_KEYS = tuple(k for k in KEYS if k != "owner_match")


class CucmClustersSource(PhonesSource):
    """Reads every cluster of ``[sources.phones]`` with ``kind = "cucm"`` (module docstring)."""

    #: The single form's keys; with ``clusters``, each cluster's table takes them instead.
    KEYS: ClassVar[tuple[str, ...]] = KEYS
    remote: ClassVar[bool] = True

    def __init__(
        self,
        settings: SourceSettings,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.specs = cluster_specs(settings, CLUSTER_KEYS)
        self.single = "clusters" not in settings.options
        self.clusters = [
            CucmSource(
                spec.settings,
                session=session,
                clock=clock,
                sleep=sleep,
                environ=environ,
                cluster=spec.name,
                where=spec.where,
                keys=KEYS if self.single else (*CLUSTER_KEYS, "optional", "device_pools"),
            )
            for spec in self.specs
        ]
        self._folder: Path | None = None

    def record_to(self, folder: Path) -> None:
        """Make the next ``pull()`` save every cluster's raw answers (``pull --save``)."""
        if self.single:
            self.clusters[0].record_to(folder)
            return
        if (folder / MANIFEST).exists():
            raise ConfigError(
                f"{folder} already holds a saved pull",
                hint="give pull --save a new or empty folder",
            )
        self._folder = folder
        for spec, source in zip(self.specs, self.clusters, strict=True):
            source.record_to(folder / spec.name)

    def pull(self) -> PhonesPull:
        """Pull every cluster at once; raise if one that is not optional fails."""
        folder, self._folder = self._folder, None
        pulls: list[tuple[ClusterSpec, Callable[[], PhonesPull]]] = [
            (spec, source.pull) for spec, source in zip(self.specs, self.clusters, strict=True)
        ]
        outcomes = pull_clusters(pulls)
        pulled = combine(outcomes)
        if folder is not None:
            doc = {
                "format": CLUSTERS_FORMAT,
                "saved_at": datetime.now(UTC).isoformat(),
                "clusters": [
                    {
                        "name": o.name,
                        "folder": o.name,
                        "optional": o.optional,
                        "complete": o.pulled is not None,
                        "error": o.error,
                    }
                    for o in outcomes
                ],
            }
            write_text_atomic(folder / MANIFEST, json.dumps(doc, indent=2) + "\n")
        return pulled
