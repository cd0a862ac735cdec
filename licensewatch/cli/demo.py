"""``licensewatch demo``: a synthetic organization and a night on it (no network)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

from licensewatch.cli.run import print_summary
from licensewatch.cli.table import Command, arg, as_of_date, positive
from licensewatch.config import load_settings
from licensewatch.errors import EXIT_OK


def demo(
    folder: Path, accounts: int, departments: int, seed: int, as_of: date, out: TextIO | None = None
) -> int:
    """``licensewatch demo``: generate the synthetic organization and run the job on it."""
    from licensewatch.demo import generate
    from licensewatch.night import run as pipeline

    out = out or sys.stdout
    print(
        f"licensewatch demo: writing a synthetic organization, its database, outbox and "
        f"reports to {folder.resolve()}",
        file=out,
        flush=True,
    )
    org = generate(folder, accounts=accounts, departments=departments, seed=seed, as_of=as_of)
    print(
        f"Demo organization in {org.root}: {org.accounts:,} accounts in {org.departments} "
        f"departments, {org.phones:,} phones, {org.separations:,} HR separations.",
        file=out,
    )
    settings = load_settings(org.config_path)
    result = pipeline.run(settings, as_of)
    print_summary(result, out)
    print(
        f"Config used: {org.config_path}  (re-run: licensewatch run --config {org.config_path})",
        file=out,
    )
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    today = datetime.now(UTC).date()
    return demo(args.dir, args.accounts, args.departments, args.seed, args.as_of or today)


COMMANDS = (
    Command(
        "demo",
        "generate a synthetic organization and run the nightly job on it (no network)",
        (
            arg(
                "--dir",
                type=Path,
                default=Path("licensewatch-demo"),
                help="folder for the demo organization, database, outbox and reports "
                "(default ./licensewatch-demo)",
            ),
            arg(
                "--accounts",
                type=positive,
                default=60_000,
                help="licensed accounts (default 60000)",
            ),
            arg("--departments", type=positive, default=40, help="departments (default 40)"),
            arg("--seed", type=int, default=2019, help="random seed (default 2019)"),
            arg(
                "--as-of",
                type=as_of_date,
                help="the day to assess, YYYY-MM-DD (default: today, UTC)",
            ),
        ),
        handler=_demo,
        config=False,
    ),
)
