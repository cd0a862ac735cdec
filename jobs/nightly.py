"""``python -m jobs.nightly`` in a source checkout: ``python -m licensewatch.jobs.nightly``.

The installed entry point is :mod:`licensewatch.jobs.nightly` (the wheel ships
no top-level ``jobs`` package); this module only delegates to it, so the old
form keeps working in the repository.
"""

from __future__ import annotations

import sys

from licensewatch.jobs.nightly import nightly

__all__ = ["nightly"]

if __name__ == "__main__":
    sys.exit(nightly(sys.argv[1:]))
