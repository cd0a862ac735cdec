"""Saving the raw answers of one live pull (``licensewatch pull --save``), for every source.

One rule for every source: the answers are staged in a hidden folder while the
pull runs. A pull that completes moves them into the folder, its manifest last,
so a folder holding a manifest always holds a whole pull that replays. A pull
that fails moves what it received into ``incomplete/`` inside the folder, kept
for diagnosis only: nothing replays it, and the next save into the same folder
replaces it (or, if that pull completes, removes it).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Final

from licensewatch.logs import get_logger

log = get_logger(__name__)

#: Where a failed pull's answers are kept, inside the folder it was saving into.
INCOMPLETE: Final = "incomplete"
#: The manifest every recorder writes; it reaches the folder last.
MANIFEST: Final = "manifest.json"


class PullRecorder:
    """The raw answers of one pull, staged; :meth:`commit` publishes, :meth:`abandon` sets aside."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._staging: Path | None = None

    def start(self) -> Path:
        """Create the folder and the hidden staging folder inside it (once); returns the latter."""
        if self._staging is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=self.folder))
        return self._staging

    @property
    def staging(self) -> Path:
        """The hidden folder the answers are written to while the pull runs."""
        return self.start()

    def save(self, name: str, data: bytes) -> None:
        """Write one answer body, byte for byte."""
        (self.staging / name).write_bytes(data)

    def discard(self, pattern: str) -> None:
        """Forget the staged answers whose names match ``pattern`` (the pull starts them again)."""
        for path in self.staging.glob(pattern):
            path.unlink()

    def commit(self, manifest: bytes | None = None) -> None:
        """Write ``manifest`` (if any), then move every staged file into the folder, it last.

        An ``incomplete/`` left by an earlier failed pull into the folder is removed.
        """
        self._move_into(self.folder, manifest)
        shutil.rmtree(self.folder / INCOMPLETE, ignore_errors=True)

    def abandon(self, manifest: bytes | None = None) -> None:
        """Keep what a failed pull received in ``incomplete/``, where nothing replays it."""
        if self._staging is None or not (manifest or any(self._staging.iterdir())):
            self.close()
            return
        target = self.folder / INCOMPLETE
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        self._move_into(target, manifest)
        log.info("the failed pull's raw answers are kept in %s (not replayable)", target)

    def close(self) -> None:
        """Remove the staging folder and whatever is still in it."""
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None

    def _move_into(self, target: Path, manifest: bytes | None) -> None:
        if manifest is not None:
            self.save(MANIFEST, manifest)
        staged = sorted(self.staging.iterdir(), key=lambda p: (p.name == MANIFEST, p.name))
        for path in staged:
            os.replace(path, target / path.name)
        self.close()
