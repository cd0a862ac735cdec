"""Saving a live Graph pull: every raw response, so that ``graph-export`` can replay it.

The files are the ones ``graph_export`` reads: ``users_0001.json`` …,
``subscribedSkus.json`` and, when activity came from the usage report,
``usage_report.csv``, and ``manifest.json``: the page chain (each page file, its
``@odata.nextLink``, the page it leads to, its user count, the total and the
``$count`` answer) that replay checks (:mod:`licensewatch.sources.graph.chain`).
They reach the folder only when the pull completes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from licensewatch.errors import ConfigError
from licensewatch.logs import get_logger
from licensewatch.sources.graph.chain import MANIFEST_FILE, Page, encode_manifest, manifest
from licensewatch.sources.graph.export import SKUS_FILE, USAGE_REPORT_FILE

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
    return name.startswith("users") or name in (SKUS_FILE, REPORT_FILE, MANIFEST_FILE)


class Recorder:
    """Raw responses of one pull, staged in a hidden folder and moved into place on success.

    A pull that fails leaves nothing behind, so a saved folder is always a whole run.
    """

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=folder))
        self._pages: list[Page] = []
        #: The manifest records the activity signal and the ``$count`` answer (None: unverified).
        self.activity = ""
        self.count: int | None = None

    def save(self, name: str, data: bytes) -> None:
        """Write one response body, byte for byte."""
        (self._staging / name).write_bytes(data)

    def save_page(self, name: str, data: bytes, *, users: int, next_link: str | None) -> None:
        """Write one users page and note it in the page chain of the manifest."""
        self.save(name, data)
        self._pages.append(Page(name, users, next_link))

    def drop_users(self) -> None:
        """Forget the users pages read so far (the pull starts the users again)."""
        for path in self._staging.glob("users_*.json"):
            path.unlink()
        self._pages.clear()

    def commit(self) -> None:
        """Write the manifest, then move every staged file into the folder."""
        if self._pages:
            doc = manifest(self._pages, activity=self.activity, count=self.count)
            self.save(MANIFEST_FILE, encode_manifest(doc))
        for path in sorted(self._staging.iterdir()):
            os.replace(path, self.folder / path.name)
        log.info("raw Graph responses saved in %s", self.folder)

    def cleanup(self) -> None:
        """Remove the staging folder (and whatever a failed pull left in it)."""
        shutil.rmtree(self._staging, ignore_errors=True)
