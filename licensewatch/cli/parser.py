"""Thin command line: parse arguments, call the library, map errors to exit codes.

Exit codes: 0 done, 1 runtime failure, 2 usage/config/input error, 3 safety brake.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from licensewatch import __version__
from licensewatch.config import load_settings, secret_variables
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


def _as_of(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with help text on every command and option."""
    common = _common_options(top=False)
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument(
        "--config",
        type=Path,
        default=os.environ.get("LICENSEWATCH_CONFIG"),
        help="the licensewatch TOML file (default: $LICENSEWATCH_CONFIG)",
    )

    parser = argparse.ArgumentParser(
        prog="licensewatch",
        description="Find dormant Microsoft 365 accounts and IP desk phones, price them from the "
        "rate card, and tell each department's focal point what to deprovision.",
        parents=[_common_options(top=True)],
    )
    parser.add_argument("--version", action="version", version=f"licensewatch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run", parents=[common, config], help="run the nightly job (what cron calls)"
    )
    run.add_argument(
        "--as-of", type=_as_of, help="the day to assess, YYYY-MM-DD (default: today, UTC)"
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="compute and write reports (with email previews) but send and record nothing",
    )
    run.add_argument(
        "--strict",
        action="store_true",
        help="treat data warnings (e.g. leavers with no account) as errors (exit 2)",
    )
    run.add_argument(
        "--override-brake",
        action="store_true",
        help="notify even if the safety brake trips (logged with who and when)",
    )

    sub.add_parser(
        "check-config",
        parents=[common, config],
        help="validate the config and every file it names, without writing anything",
    )

    db = sub.add_parser("db", parents=[common], help="database maintenance")
    db_sub = db.add_subparsers(
        dest="db_command", required=True, metavar="ACTION", help="what to do"
    )
    db_sub.add_parser(
        "upgrade",
        parents=[common, config],
        help="apply the schema migrations (runs also do this before they write)",
    )

    pull = sub.add_parser(
        "pull",
        parents=[common, config],
        help="read the account and phone feeds without running the job; --save keeps the raw "
        "responses for replay",
    )
    pull.add_argument(
        "--save",
        type=Path,
        help="folder for the raw responses (replay them with kind graph-export / cucm-export)",
    )

    report = sub.add_parser(
        "report",
        parents=[common],
        help="finance and steering-committee reports from the run history",
    )
    report_sub = report.add_subparsers(
        dest="report_command", required=True, metavar="REPORT", help="which report"
    )
    finance = report_sub.add_parser(
        "finance",
        parents=[common, config],
        help="avoidable cost at each month end of a period: by department and item, and the trend",
    )
    finance.add_argument(
        "--from",
        dest="date_from",
        type=_as_of,
        metavar="YYYY-MM-DD",
        help="first day of the period (default: the first stored run)",
    )
    finance.add_argument(
        "--to",
        dest="date_to",
        type=_as_of,
        metavar="YYYY-MM-DD",
        help="last day of the period (default: the last stored run)",
    )
    finance.add_argument(
        "--format",
        dest="fmt",
        choices=["csv", "xlsx", "html"],
        default="html",
        help="csv (the summary at each month end), xlsx or html (default html)",
    )
    finance.add_argument(
        "--out", type=Path, help="file or folder to write (default: the reports folder)"
    )
    risk = report_sub.add_parser(
        "risk",
        parents=[common, config],
        help="for the steering committee: separated staff still holding access, departments "
        "that do not answer, reasons, trend",
    )
    risk.add_argument(
        "--as-of",
        type=_as_of,
        help="report the last run on or before this day, YYYY-MM-DD (default: the last run)",
    )
    risk.add_argument(
        "--format",
        dest="fmt",
        choices=["html", "markdown"],
        default="html",
        help="html or markdown (default html)",
    )
    risk.add_argument(
        "--out", type=Path, help="file or folder to write (default: the reports folder)"
    )

    box = sub.add_parser(
        "outbox",
        parents=[common, config],
        help="the email outbox: list pending, sent and failed messages, or send what is due",
    )
    box.add_argument(
        "action",
        nargs="?",
        choices=["list", "send"],
        default="list",
        help="list (default) or send: deliver pending messages and retries that are due now",
    )
    box.add_argument(
        "--status",
        choices=["pending", "sending", "sent", "failed"],
        help="list only messages with this status",
    )
    box.add_argument(
        "--limit", type=_positive, default=50, help="list at most this many (default 50)"
    )

    decisions = sub.add_parser(
        "decisions", parents=[common], help="focal points' answers (remove or keep)"
    )
    decisions_sub = decisions.add_subparsers(
        dest="decisions_command", required=True, metavar="ACTION", help="what to do"
    )
    imported = decisions_sub.add_parser(
        "import",
        parents=[common, config],
        help="record the decisions of a returned CSV after checking every row (nothing is "
        "recorded if one row is wrong)",
    )
    imported.add_argument("file", type=Path, help="the CSV the focal point sent back")
    imported.add_argument(
        "--department", required=True, help="the department whose focal point answered"
    )
    imported.add_argument(
        "--as-of",
        type=_as_of,
        help="the day keep_until is checked against, YYYY-MM-DD (default: today, UTC)",
    )
    imported.add_argument(
        "--date-format",
        choices=["iso", "day-first", "month-first"],
        default="iso",
        help="how keep_until dates are written (default iso: YYYY-MM-DD)",
    )

    deprovision = sub.add_parser(
        "deprovision",
        parents=[common, config],
        help="write the approved removal list for the service desk; --apply removes the "
        "licences through Graph",
    )
    deprovision.add_argument(
        "--apply",
        action="store_true",
        help="remove the approved licences with Graph assignLicense (needs [deprovision] "
        "graph = true); without it nothing is changed",
    )
    deprovision.add_argument(
        "--out", type=Path, help="where to write the list (default: reports/deprovision_DATE.csv)"
    )

    demo = sub.add_parser(
        "demo",
        parents=[common],
        help="generate a synthetic organization and run the nightly job on it (no network)",
    )
    demo.add_argument(
        "--dir",
        type=Path,
        default=Path("licensewatch-demo"),
        help="folder for the demo organization, database, outbox and reports "
        "(default ./licensewatch-demo)",
    )
    demo.add_argument(
        "--accounts", type=_positive, default=60_000, help="licensed accounts (default 60000)"
    )
    demo.add_argument("--departments", type=_positive, default=40, help="departments (default 40)")
    demo.add_argument("--seed", type=int, default=2019, help="random seed (default 2019)")
    demo.add_argument(
        "--as-of", type=_as_of, help="the day to assess, YYYY-MM-DD (default: today, UTC)"
    )
    return parser


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
    # sqlalchemy is imported only by the commands that use a database.
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
    from licensewatch.cli import night as commands

    today = datetime.now(UTC).date()
    if getattr(args, "config", None) is not None:
        _mask_secrets(args.config)
    if args.command == "demo":
        return commands.demo(
            args.dir, args.accounts, args.departments, args.seed, args.as_of or today
        )
    if args.config is None:
        print(
            "licensewatch: error: no config file (pass --config FILE or set LICENSEWATCH_CONFIG)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.command == "run":
        return commands.run(
            args.config,
            args.as_of or today,
            dry_run=args.dry_run,
            override_brake=args.override_brake,
            strict=args.strict,
        )
    if args.command == "db":
        return commands.db_upgrade(args.config)
    if args.command == "pull":
        return commands.pull(args.config, args.save)
    if args.command == "report":
        return commands.report(
            args.config,
            args.report_command,
            fmt=args.fmt,
            out=args.out,
            date_from=getattr(args, "date_from", None),
            date_to=getattr(args, "date_to", None),
            as_of=getattr(args, "as_of", None),
        )
    if args.command == "check-config":
        return commands.check_config(args.config)
    return _dispatch_cycle(args, today)


def _dispatch_cycle(args: argparse.Namespace, today: date) -> int:
    from licensewatch.cli import cycle as cycle_commands

    if args.command == "outbox":
        if args.action == "send":
            return cycle_commands.outbox_send(args.config)
        return cycle_commands.outbox_list(args.config, status=args.status, limit=args.limit)
    if args.command == "decisions":
        return cycle_commands.decisions_import(
            args.config,
            args.file,
            department=args.department,
            as_of=args.as_of or today,
            date_format=args.date_format,
        )
    if args.command == "deprovision":
        return cycle_commands.deprovision(args.config, apply=args.apply, out_path=args.out)
    raise AssertionError(args.command)


def _mask_secrets(config: Path) -> None:
    """Register the config's secret values so that no log or error line can show them."""
    try:
        settings = load_settings(config)
    except ConfigError:
        return  # the command itself reports what is wrong with the config
    register_secrets(os.environ.get(name, "") for name in secret_variables(settings))


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
    print(f"licensewatch: error: {redact(exc.one_line())}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
