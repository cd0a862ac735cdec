"""Where the bundled templates and default config files are.

An installed wheel carries them in ``licensewatch/_bundled/``; a source checkout
(editable install, tests) has them at the top of the repository.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _bundled(name: str) -> Path:
    installed = _PACKAGE / "_bundled" / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name


def templates_dir() -> Path:
    """The folder of the default Jinja2 templates."""
    return _bundled("templates")


def default_config_dir() -> Path:
    """The folder of the shipped example config, rate card and reference files."""
    return _bundled("config")
