"""Nightly job for cron and systemd: ``python -m licensewatch.jobs.nightly``.

Reads the config path from ``LICENSEWATCH_CONFIG``; any extra arguments are
passed on to ``licensewatch run`` (e.g. ``--dry-run``, ``--as-of``).
Exit codes are those of ``licensewatch run``.
"""

from __future__ import annotations

import sys

from licensewatch.cli.parser import main


def nightly(argv: list[str]) -> int:
    """Run ``licensewatch run`` with ``argv``; the config comes from LICENSEWATCH_CONFIG."""
    return main(["run", *argv])


if __name__ == "__main__":
    sys.exit(nightly(sys.argv[1:]))
