"""How a command group declares its commands, and the argument types they share.

Each group module (``run``, ``db``, ``pull``, ``reports``, ``cycle``, ``demo``)
exports ``COMMANDS``: a tuple of :class:`Command`. The parser is built from
those tables and dispatch calls the chosen command's handler, so adding a
command touches its group module only.

Building the parser imports every group module, so a group module imports
its heavy dependencies (pandas, SQLAlchemy, the night) inside its commands:
``licensewatch --help`` then reads no more than the tables.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

#: A command's handler: the parsed arguments in, the exit code out.
Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Arg:
    """One ``add_argument`` call: its names (flags or a positional) and its keywords."""

    names: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)


def arg(*names: str, **options: Any) -> Arg:
    """An :class:`Arg` written as the ``add_argument`` call it stands for."""
    return Arg(names, options)


@dataclass(frozen=True)
class Group:
    """The subcommands of a command (``db upgrade``, ``report finance``) and their names."""

    dest: str
    metavar: str
    help: str
    commands: tuple[Command, ...]


@dataclass(frozen=True)
class Command:
    """A command as the parser shows it and dispatch runs it.

    A leaf command has a ``handler``; a command with subcommands has a
    ``group`` instead. ``config`` adds ``--config``, and a leaf with it
    needs one: a missing config is a usage error before the handler runs.
    """

    name: str
    help: str
    arguments: tuple[Arg, ...] = ()
    handler: Handler | None = None
    group: Group | None = None
    config: bool = True


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (the commands' default clock)."""
    return datetime.now(UTC)


def as_of_date(text: str) -> date:
    """A ``YYYY-MM-DD`` argument as a date (argparse's usage error otherwise)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD") from None


def positive(text: str) -> int:
    """A positive whole-number argument (argparse's usage error otherwise)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value
