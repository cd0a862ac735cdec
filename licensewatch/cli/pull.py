"""``licensewatch pull``: read the live feeds without running the job."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from licensewatch.cli.table import Command, arg
from licensewatch.config import load_settings
from licensewatch.errors import EXIT_OK

if TYPE_CHECKING:
    from licensewatch.sources.interface import AccountsSource, PhonesSource


def pull(config: Path, save: Path | None, out: TextIO | None = None) -> int:
    """``licensewatch pull``: read the live feeds and optionally save their raw responses.

    Saved folders replay through the ``*-export`` kinds (``graph-export``,
    ``cucm-export``), so a bad night can be reproduced offline exactly.
    """
    from licensewatch.night.inputs import build_sources
    from licensewatch.sources.interface import AccountsPull, Recordable

    out = out or sys.stdout
    settings = load_settings(config)
    sources = build_sources(settings)
    feeds: list[tuple[str, AccountsSource | PhonesSource]] = [
        ("accounts", sources.accounts),
        ("phones", sources.phones),
    ]
    for feed, source in feeds:
        kind = settings.sources[feed].kind
        where = ""
        if save is not None and isinstance(source, Recordable):
            source.record_to(save / feed)
            where = f", raw responses in {save / feed}"
        elif save is not None:
            where = f" (kind {kind!r} reads files already; nothing to save)"
        pulled = source.pull()
        size = len(pulled.accounts) if isinstance(pulled, AccountsPull) else len(pulled.phones)
        print(f"  {feed} ({kind}): {size:,} read in {pulled.requests:,} requests{where}", file=out)
    return EXIT_OK


def _pull(args: argparse.Namespace) -> int:
    return pull(args.config, args.save)


COMMANDS = (
    Command(
        "pull",
        "read the account and phone feeds without running the job; --save keeps the raw "
        "responses for replay",
        (
            arg(
                "--save",
                type=Path,
                help="folder for the raw responses (replay them with kind graph-export / "
                "cucm-export)",
            ),
        ),
        handler=_pull,
    ),
)
