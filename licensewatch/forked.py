"""Work in a process of its own, so that the night uses a second core.

Parsing a feed or composing an email is Python work under the interpreter
lock: two pulls in two threads of one process take turns on one core (the 1M
night's Graph and call-manager pulls took 92 s together, against 34 s each
alone). :func:`start` runs a function in a child forked from the run, with
everything the run built (options, secrets, the redaction filter, the log
handlers); the child sends back the function's value (or its error) through
a pipe and exits without running any clean-up of the parent's (its database
connections and run lock stay the parent's). The night uses it for the
remote pulls (``night.inputs``), for about half the departments' emails
(``notify.compose``) and for the finance workbook and page (``night.outputs``).

Only where ``fork`` is the platform's way (Linux) and there is a second core
(:func:`usable`); elsewhere the same work runs in this process.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import pickle
import resource
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Final

from licensewatch.errors import LicensewatchError, SourceError
from licensewatch.logs import get_logger, redact

log = get_logger(__name__)


def usable() -> bool:
    """Whether work can go to forked processes here: Linux (fork) and more than one core."""
    return sys.platform.startswith("linux") and (os.cpu_count() or 1) > 1


@dataclass
class Child:
    """Work running in a child process; :meth:`result` waits for what it sends back."""

    name: str
    process: BaseProcess
    #: The read end of the pipe the child sends its answer through.
    reader: Connection
    #: The error class of a child that died, or of an error that cannot cross the pipe.
    failure: type[LicensewatchError] = SourceError
    #: The child's own peak resident memory (MiB) and CPU seconds, once it has answered.
    peak_mb: float = 0.0
    cpu_s: float = 0.0
    #: When the work ended in the child (``time.perf_counter()``, one clock for every
    #: process on Linux), once it has answered: a child may end long before it is asked.
    ended: float | None = None

    def result(self) -> Any:
        """The work's value, or its error raised here; a child that died is a ``failure``.

        The answer comes whole, as pickled bytes, then is unpickled: a stream
        unpickled as it arrives holds less (at 1M accounts, about 200 MB less
        in each process) but takes a fifth longer, and the night's peak is
        later, in reconcile.
        """
        kind: str = "died"
        value: Any = None
        measured = False
        try:
            try:
                kind, value = self.reader.recv()
                # Sent after the value: its pickling counts.
                self.peak_mb, self.cpu_s, self.ended = self.reader.recv()
                measured = True
            except EOFError:
                pass  # ended before it answered (or before its figures)
        finally:
            self.reader.close()
            self.process.join()
        if measured:  # a child that died says so below, not with figures of zero
            log.info(
                "%s: in process %d, %.2f CPU s, peak memory %.0f MiB",
                self.name,
                self.process.pid,
                self.cpu_s,
                self.peak_mb,
            )
        if kind == "ok":
            return value
        if kind == "error":
            raise value
        raise self.failure(
            f"{self.name} stopped without an answer (its process ended with "
            f"{_exit_text(self.process.exitcode)})",
            hint="see the log for what it was doing; an out-of-memory kill shows in the system log",
        )

    def stop(self) -> None:
        """Kill the child if it still runs (its answer is no longer wanted)."""
        self.process.kill()
        self.process.join()
        self.reader.close()


def start(
    name: str, work: Callable[[], Any], *, failure: type[LicensewatchError] = SourceError
) -> Child:
    """Fork a child running ``work()``; ``failure``: what a child that dies is raised as.

    The child has only the forking thread. A lock another thread held at the
    fork stays held in the child, so ``work`` must not need one: the night's
    other threads (a stage's heartbeat, a benchmark's sampler) hold only
    logging's locks, which Python renews in a child.
    """
    context = multiprocessing.get_context("fork")
    # What the parent has not written yet would be written again by the child.
    sys.stdout.flush()
    sys.stderr.flush()
    reader, writer = context.Pipe(duplex=False)
    process = context.Process(
        target=_child,
        args=(work, reader, writer, failure, os.getpid()),
        name=f"licensewatch {name}",
        daemon=True,
    )
    try:
        process.start()
    except BaseException:
        reader.close()
        raise
    finally:
        writer.close()  # the child's end: the next child forked must not hold it
    return Child(name, process, reader, failure)


def _child(
    work: Callable[[], Any],
    reader: Connection,
    writer: Connection,
    failure: type[LicensewatchError],
    parent: int,
) -> None:
    """In the child: do the work, send ``(kind, value)``, then ``(peak MiB, CPU s, ended)``."""
    reader.close()
    _die_with(parent)
    try:
        answer: tuple[str, Any] = ("ok", work())
    except BaseException as exc:  # every failure goes back to the parent
        if not isinstance(exc, LicensewatchError | KeyboardInterrupt):
            # A bug: its traceback stays here, so the log keeps where it happened.
            log.error("%s", redact("".join(traceback.format_exception(exc))))
        answer = ("error", _portable(exc, failure))
    ended = time.perf_counter()
    try:
        writer.send(answer)
        writer.send((*_usage(), ended))
    finally:
        writer.close()


#: prctl(2) option: the signal this process gets when its parent ends (Linux).
_PR_SET_PDEATHSIG: Final = 1


def _die_with(parent: int) -> None:
    """Linux: this child is killed when the run's process (``parent``) ends, however it ends.

    A run killed by cron's timeout or an operator's ``kill`` must not leave a
    pull paging Graph on its own. (Its parent's thread is the main thread,
    which lives as long as the run.)
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux's libc: the daemon flag is all there is
        return
    if os.getppid() != parent:  # the parent ended before the request took effect
        os._exit(1)


def _portable(exc: BaseException, failure: type[LicensewatchError]) -> BaseException:
    """``exc`` if it survives pickling as itself, else a ``failure`` saying what it was."""
    try:
        back = pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes, just made
        if type(back) is type(exc) and str(back) == str(exc):
            return exc
    except Exception:  # noqa: S110 - any pickling failure: describe it instead
        pass
    return failure(redact(f"{type(exc).__name__}: {exc}"))


def _usage() -> tuple[float, float]:
    """This process's peak resident memory (MiB; Linux counts KiB) and CPU seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def _exit_text(code: int | None) -> str:
    if code is None:
        return "no exit code"
    if code < 0:
        return f"signal {-code}"
    return f"exit code {code}"
