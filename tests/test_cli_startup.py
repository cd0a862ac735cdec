"""``licensewatch --help`` reads the command tables only, not the libraries behind them.

The parser is built from every group module's table; a group module that
imported pandas or SQLAlchemy at the top made ``--help`` take seconds. The
check counts modules, not seconds, so it cannot depend on the machine's speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "numpy", "sqlalchemy", "alembic", "openpyxl", "jinja2", "msal", "requests")

_PROBE = """
import contextlib, io, json, sys
from licensewatch.cli.parser import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        main(["--help"])
    except SystemExit:
        pass
print(json.dumps({"help": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def test_help_imports_no_heavy_library() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert "runs" in doc["help"] and "demo" in doc["help"]
    loaded = {name.split(".")[0] for name in doc["modules"]}
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))
    night = [name for name in doc["modules"] if name.startswith("licensewatch.night")]
    assert night == []
