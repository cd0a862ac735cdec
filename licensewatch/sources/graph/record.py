"""Saving a live Graph pull: every raw response, so that ``graph-export`` can replay it.

The files are the ones ``graph_export`` reads: ``users_0001.json`` …,
``subscribedSkus.json`` and, when activity came from the usage report,
``usage_report.csv``, and ``manifest.json``: the page chain (each page file, its
``@odata.nextLink``, the page it leads to, its user count, the total and the
``$count`` answer) that replay checks (:mod:`licensewatch.sources.graph.chain`).
They reach the folder only when the pull completes; a failed pull's responses
are kept in ``incomplete/`` for diagnosis (:mod:`licensewatch.sources.record`).
"""

from __future__ import annotations

from pathlib import Path

from licensewatch.errors import ConfigError
from licensewatch.logs import get_logger
from licensewatch.sources.graph.chain import MANIFEST_FILE, Page, encode_manifest
from licensewatch.sources.graph.chain import manifest as _manifest
from licensewatch.sources.graph.export import SKUS_FILE, USAGE_REPORT_FILE
from licensewatch.sources.graph.seats import GROUPS_FILE, SUBSCRIPTIONS_FILE
from licensewatch.sources.record import PullRecorder

# The Graph source's logger name, as before this module existed: one pull logs under one name.
log = get_logger("licensewatch.sources.graph.live")

# The names graph-export replays: the recorder writes exactly what it reads.
REPORT_FILE = USAGE_REPORT_FILE


def check_record_folder(folder: Path) -> None:
    """Refuse a folder that already holds a saved pull: mixed pages would replay wrongly."""
    if folder.is_dir():
        taken = sorted(p.name for p in folder.iterdir() if _saved_name(p.name))
        if taken:
            raise ConfigError(
                f"{folder} already holds a saved pull ({', '.join(taken[:3])}…)",
                hint="save into a new or empty folder",
            )


def _saved_name(name: str) -> bool:
    saved = (SKUS_FILE, REPORT_FILE, MANIFEST_FILE, SUBSCRIPTIONS_FILE, GROUPS_FILE)
    return name.startswith("users") or name in saved


class Recorder(PullRecorder):
    """Raw responses of one Graph pull, with the page chain for the manifest.

    The rule for a failed pull is :mod:`licensewatch.sources.record`'s: the
    folder gets files only when the pull completes; a failed pull's responses
    go to ``incomplete/``.
    """

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.start()
        self._pages: list[Page] = []
        self._committed = False
        #: The manifest records the activity signal and the ``$count`` answer (None: unverified).
        self.activity = ""
        self.count: int | None = None

    def save_page(self, name: str, data: bytes, *, users: int, next_link: str | None) -> None:
        """Write one users page and note it in the page chain of the manifest."""
        self.save(name, data)
        self._pages.append(Page(name, users, next_link))

    def drop_users(self) -> None:
        """Forget the users pages read so far (the pull starts the users again)."""
        self.discard("users_*.json")
        self._pages.clear()

    def commit(self, manifest: bytes | None = None) -> None:
        """Write the manifest of the page chain, then move every staged file into the folder."""
        if manifest is None and self._pages:
            doc = _manifest(self._pages, activity=self.activity, count=self.count)
            manifest = encode_manifest(doc)
        super().commit(manifest)
        self._committed = True
        log.info("raw Graph responses saved in %s", self.folder)

    def cleanup(self) -> None:
        """After the pull: a pull that did not commit keeps its responses in ``incomplete/``."""
        if not self._committed:
            self.abandon()
