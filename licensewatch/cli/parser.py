"""Thin command line: parse arguments, call the chosen command's handler, map errors to exit codes.

The commands come from the tables of the group modules (:mod:`licensewatch.cli.table`).

Exit codes: 0 done, 1 runtime failure, 2 usage/config/input error, 3 safety brake.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from licensewatch import __version__
from licensewatch.cli import answers, cycle, db, demo, pull, reports, run, runs
from licensewatch.cli.table import Command
from licensewatch.config import draft_settings, secret_variables
from licensewatch.config_keys import ConfigErrors
from licensewatch.errors import (
    EXIT_RUNTIME,
    EXIT_USAGE,
    ConfigError,
    InputError,
    LicensewatchError,
    StorageError,
)
from licensewatch.logs import redact, register_secrets, setup_logging

MAX_PROBLEMS_SHOWN = 20

#: Every command, in the order ``--help`` lists them: each group module's table.
COMMANDS: tuple[Command, ...] = (
    *run.COMMANDS,
    *db.COMMANDS,
    *pull.COMMANDS,
    *reports.COMMANDS,
    *runs.COMMANDS,
    *cycle.COMMANDS,
    *answers.COMMANDS,
    *demo.COMMANDS,
)


def _common_options(*, top: bool) -> argparse.ArgumentParser:
    # Accepted before and after the command. The command's copy has no defaults,
    # so that it does not reset what was given before the command.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="show the traceback of an error and debug logs",
    )
    common.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text" if top else argparse.SUPPRESS,
        help="log lines for people (text, default) or for log shippers (json)",
    )
    common.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        default="INFO" if top else argparse.SUPPRESS,
        help="how much to log on stderr (default INFO)",
    )
    return common


def _config_option() -> argparse.ArgumentParser:
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument(
        "--config",
        type=Path,
        default=os.environ.get("LICENSEWATCH_CONFIG"),
        help="the licensewatch TOML file (default: $LICENSEWATCH_CONFIG)",
    )
    return config


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, built from the command tables, with help on every command and option."""
    common, config = _common_options(top=False), _config_option()
    parser = argparse.ArgumentParser(
        prog="licensewatch",
        description="Find dormant Microsoft 365 accounts and IP desk phones, price them from the "
        "rate card, and tell each department's focal point what to deprovision.",
        parents=[_common_options(top=True)],
    )
    parser.add_argument("--version", action="version", version=f"licensewatch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        _add_command(sub, command, common, config)
    return parser


def _add_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    command: Command,
    common: argparse.ArgumentParser,
    config: argparse.ArgumentParser,
) -> None:
    parents = [common, config] if command.config else [common]
    parser = sub.add_parser(command.name, parents=parents, help=command.help)
    for argument in command.arguments:
        parser.add_argument(*argument.names, **argument.options)
    group = command.group
    if group is None:
        parser.set_defaults(cli_command=command)
        return
    inner = parser.add_subparsers(
        dest=group.dest, required=True, metavar=group.metavar, help=group.help
    )
    for subcommand in group.commands:
        _add_command(inner, subcommand, common, config)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``licensewatch`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    setup_logging("DEBUG" if args.debug else args.log_level, args.log_format)
    try:
        return _dispatch(args)
    except LicensewatchError as exc:
        if args.debug:
            raise
        _print_error(exc)
        return exc.exit_code
    except Exception as exc:
        # The last resort for a disk or database fault no boundary turned into a
        # StorageError: one line naming the command, the path and the reason.
        # Any other exception is a bug and keeps its traceback.
        fault = None if args.debug else _storage_fault(args, exc)
        if fault is None:
            raise
        _print_error(fault)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        print("licensewatch: interrupted", file=sys.stderr)
        return EXIT_RUNTIME


def _storage_fault(args: argparse.Namespace, exc: Exception) -> StorageError | None:
    """A one-line error for an ``OSError`` or database (DBAPI) error; None for anything else."""
    # Looked up, not imported: a command that reached a database has imported sqlalchemy.
    db_errors = sys.modules.get("sqlalchemy.exc")
    dbapi_error = getattr(db_errors, "DBAPIError", None)
    is_db = isinstance(dbapi_error, type) and isinstance(exc, dbapi_error)
    if not isinstance(exc, OSError) and not is_db:
        return None
    action = getattr(args, f"{args.command}_command", None)  # db upgrade, decisions import
    command = f"{args.command} {action}" if action else str(args.command)
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        reason = exc.strerror or str(exc) or type(exc).__name__
    else:
        where = ""
        orig = getattr(exc, "orig", None)
        lines = str(orig if orig is not None else exc).strip().splitlines()
        reason = lines[0].strip()[:300] if lines else type(exc).__name__
    return StorageError(
        f"{command} failed: {reason}{where}",
        hint="a disk or database fault: free space, fix the permissions or the database, "
        "then run again; --debug shows the traceback",
    )


def _dispatch(args: argparse.Namespace) -> int:
    command: Command = args.cli_command
    if getattr(args, "config", None) is not None:
        _mask_secrets(args.config)
    if command.config and args.config is None:
        print(
            "licensewatch: error: no config file (pass --config FILE or set LICENSEWATCH_CONFIG)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    assert command.handler is not None  # only commands without subcommands are chosen
    return command.handler(args)


def _mask_secrets(config: Path) -> None:
    """Register the config's secret values so that no log or error line can show them."""
    try:
        # A draft: a config with problems still names the variables of its sound tables.
        draft = draft_settings(config)
    except ConfigError:
        return  # the command itself reports what is wrong with the config
    register_secrets(os.environ.get(name, "") for name in secret_variables(draft))


def _print_error(exc: LicensewatchError) -> None:
    if isinstance(exc, InputError) and len(exc.problems) > 1:
        shown = exc.problems[:MAX_PROBLEMS_SHOWN]
        print(f"licensewatch: error: {len(exc.problems)} problems in the input:", file=sys.stderr)
        for problem in shown:
            print(f"  {redact(str(problem))}", file=sys.stderr)
        if len(exc.problems) > len(shown):
            print(f"  … and {len(exc.problems) - len(shown)} more", file=sys.stderr)
        if exc.hint:
            print(f"  ({exc.hint})", file=sys.stderr)
        return
    if isinstance(exc, ConfigErrors):
        print(f"licensewatch: error: {len(exc.errors)} problems in the config:", file=sys.stderr)
        for error in exc.errors:
            print(f"  {redact(error.one_line())}", file=sys.stderr)
        return
    print(f"licensewatch: error: {redact(exc.one_line())}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
