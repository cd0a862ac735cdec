"""A remote pull in a process of its own, so that two pulls use two cores.

Parsing a feed is Python work under the interpreter lock: two pulls in two
threads of one process take turns on one core (the 1M night's Graph and
call-manager pulls took 92 s together, against 34 s each alone). Each remote
pull here runs in a child forked from the run, with everything the run built
(options, secrets, the redaction filter, the log handlers); the child sends
back the pull's result (or its error) through a pipe and exits without
running any clean-up of the parent's (its database connections and run lock
stay the parent's).

Only where ``fork`` is the platform's way (Linux): elsewhere, and on one
core, the pulls run in threads as before (:func:`usable`).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import resource
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from licensewatch.errors import SourceError
from licensewatch.logs import get_logger, redact

log = get_logger(__name__)


def usable() -> bool:
    """Whether remote pulls can run in processes here: Linux (fork) and more than one core."""
    return sys.platform.startswith("linux") and (os.cpu_count() or 1) > 1


@dataclass
class Child:
    """A pull running in a child process; :meth:`result` waits for what it sends back."""

    name: str
    process: BaseProcess
    reader: Connection
    #: The child's own peak resident memory (MiB), once it has answered.
    peak_mb: float = 0.0

    def result(self) -> Any:
        """The pull's value, or its error raised here; a child that died is a ``SourceError``."""
        try:
            try:
                kind, value, self.peak_mb = self.reader.recv()
            except EOFError:
                value = None
                kind = "died"
        finally:
            self.reader.close()
            self.process.join()
        if kind == "ok":
            return value
        if kind == "error":
            raise value
        raise SourceError(
            f"{self.name} stopped without an answer (its process ended with "
            f"{_exit_text(self.process.exitcode)})",
            hint="see the log for what it was doing; an out-of-memory kill shows in the system log",
        )


def start(name: str, pull: Callable[[], Any]) -> Child:
    """Fork a child running ``pull()``; call it from the thread that will not fork again."""
    context = multiprocessing.get_context("fork")
    # What the parent has not written yet would be written again by the child.
    sys.stdout.flush()
    sys.stderr.flush()
    reader, writer = context.Pipe(duplex=False)
    process = context.Process(
        target=_child, args=(pull, writer), name=f"licensewatch {name}", daemon=True
    )
    process.start()
    writer.close()
    return Child(name, process, reader)


def _child(pull: Callable[[], Any], writer: Connection) -> None:
    """In the child: run the pull and send ``(kind, value, peak MiB)`` to the parent."""
    try:
        answer: tuple[str, Any] = ("ok", pull())
    except BaseException as exc:  # every failure goes back to the parent
        answer = ("error", _portable(exc))
    try:
        writer.send((*answer, _peak_mb()))
    finally:
        writer.close()


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling as itself, else a ``SourceError`` saying what it was."""
    try:
        back = pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes, just made
        if type(back) is type(exc) and str(back) == str(exc):
            return exc
    except Exception:  # noqa: S110 - any pickling failure: describe it instead
        pass
    where = "".join(traceback.format_exception(exc)[-3:])
    log.error("pull failed in its process: %s", redact(where))
    return SourceError(redact(f"{type(exc).__name__}: {exc}"))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _exit_text(code: int | None) -> str:
    if code is None:
        return "no exit code"
    if code < 0:
        return f"signal {-code}"
    return f"exit code {code}"
