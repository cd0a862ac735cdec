"""One base error per boundary; the CLI catches :class:`LicensewatchError` only.

Every error carries a one-line message that says what is wrong and, where it
helps, a ``hint`` that says how to fix it. Exit codes live here so that the CLI
and ``jobs/`` map errors the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from licensewatch.logs import redact

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2
EXIT_BRAKE = 3


class LicensewatchError(Exception):
    """Base of every error the job raises on purpose."""

    exit_code = EXIT_RUNTIME

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled as its class, arguments and attributes, whatever its ``__init__`` takes.

        A forked process's error crosses back to the run as itself
        (:mod:`licensewatch.forked`).
        """
        return (_restore, (type(self), self.args, dict(self.__dict__)))

    def one_line(self) -> str:
        """The message and hint as the single line the CLI prints (secrets masked)."""
        return redact(f"{self.message} ({self.hint})" if self.hint else self.message)


def _restore(
    cls: type[LicensewatchError], args: tuple[object, ...], state: dict[str, object]
) -> LicensewatchError:
    """A pickled error back (see :meth:`LicensewatchError.__reduce__`)."""
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class ConfigError(LicensewatchError):
    """The configuration file is missing, malformed or names something invalid."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class Problem:
    """One problem in an input file: where it is and what is wrong.

    ``row`` is the 1-based line number a person sees when opening the file in an
    editor or spreadsheet (the header is row 1); ``None`` when the problem is
    about the whole file.
    """

    file: str
    message: str
    row: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column '{self.column}'"
        return f"{where}: {self.message}"


class InputError(LicensewatchError):
    """A bad input file or row; names the file, row and column of every problem."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: Sequence[Problem], hint: str | None = None) -> None:
        if not problems:
            raise ValueError("InputError needs at least one problem")
        self.problems = tuple(problems)
        first = str(self.problems[0])
        more = len(self.problems) - 1
        message = (
            first if more == 0 else f"{first} (and {more} more problem{'s' if more > 1 else ''})"
        )
        super().__init__(message, hint or "fix the file and run again; nothing was written")

    @classmethod
    def single(
        cls,
        file: str,
        message: str,
        row: int | None = None,
        column: str | None = None,
        hint: str | None = None,
    ) -> InputError:
        """An InputError about one problem."""
        return cls([Problem(file=file, message=message, row=row, column=column)], hint=hint)


class SourceError(LicensewatchError):
    """A source (Graph, CUCM, HR database) failed or answered something unusable."""


class SourceAuthError(SourceError):
    """The source refused our credentials or permissions."""


class SourceUnavailable(SourceError):
    """The source could not be reached, or kept failing until the retry budget was spent."""


class DeliveryError(LicensewatchError):
    """One message could not be delivered (refused recipient, rejected content, …).

    The outbox records the failure and retries the message, with backoff, on a
    later run; the other messages of the run are still sent. ``transient``
    (an SMTP 4xx answer: greylisting, a busy relay) asks for a retry within the
    run too, after a short wait.
    """

    transient = False


class DeliveryDeferred(DeliveryError):
    """The relay answered a transient 4xx (greylisting, busy): retried within the run."""

    transient = True


class DeliveryUnknown(DeliveryError):
    """The message went out but no answer came back: it may or may not have been accepted.

    The outbox marks it ``unknown`` and sends it again only after a grace
    period, never within the same run (see ``licensewatch.store.outbox``).
    """


class TransportUnavailable(DeliveryError):
    """The transport itself failed (cannot connect, TLS, login refused, throttled out).

    Every further message would fail the same way, so the outbox stops sending
    for this run and leaves the remaining messages queued for the next one.
    """


class TransportBusy(TransportUnavailable):
    """The relay said 421 (busy, shutting down): the run retries after a short wait."""

    transient = True


class SafetyBrake(LicensewatchError):
    """The run looked unsafe (incomplete or implausible data) and sent nothing."""

    exit_code = EXIT_BRAKE


class StorageError(LicensewatchError):
    """The database could not be reached or is not at the expected schema."""


class RunInProgress(LicensewatchError):
    """Another run holds the database's run lock; this one did nothing."""
