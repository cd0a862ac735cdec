"""The run's reading of the answers mailbox: first thing in its transaction, filed after it.

Before anything is computed, the replies waiting in the answers mailbox are
judged and recorded in the run's own transaction (their decisions count in
tonight's cycle, so nobody is chased for what they answered this morning), the
answers to them are queued with tonight's emails, and once the run has
committed the replies are filed into the processed and rejected folders. A run
that fails records nothing and leaves every reply where it was; a crash after
the commit leaves replies whose Message-ID is recorded, which the next read
only files. A dry run does not read the mailbox.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from licensewatch.answers.mailbox.options import AnswersOptions
from licensewatch.answers.signature import read_key
from licensewatch.config import Settings
from licensewatch.logs import get_logger
from licensewatch.night.context import Inputs, RunContext
from licensewatch.night.steps import operator

log = get_logger(__name__)


@dataclass(frozen=True)
class Answers:
    """The answers mailbox of a run, its secrets read before any network call."""

    options: AnswersOptions
    key: bytes
    environ: Mapping[str, str]


def prepare(
    settings: Settings, *, dry_run: bool, environ: Mapping[str, str] | None = None
) -> Answers | None:
    """The run's answers mailbox (None: none configured, or a dry run); secrets checked now."""
    options = settings.answers
    if options is None:
        return None
    env = dict(os.environ) if environ is None else environ
    # Read (and checked) even for a dry run: the answer files it previews carry the MAC.
    key = read_key(options.signing_key_env, env)
    if dry_run:
        log.info("dry run: the answers mailbox is not read")
        return None
    if not options.require_authenticated:
        log.warning(
            "[answers] require_authenticated = false: replies are believed without the "
            "organization's authentication (acceptable in a lab only)"
        )
    return Answers(options, key, env)


def read(ctx: RunContext, inputs: Inputs, answers: Answers | None) -> list[tuple[str, str]]:
    """Record tonight's replies in the run's transaction; returns the (ref, folder) to file."""
    if answers is None:
        return []
    from licensewatch.answers.inbox import Loop, read_in_run
    from licensewatch.answers.mailbox.opening import open_mailbox

    loop = Loop(
        options=answers.options,
        mail=ctx.settings.mail,
        focal_points=inputs.reference.focal_points,
        key=answers.key,
        as_of=ctx.as_of,
        run_id=ctx.run_id,
        clock=ctx.clock,
        imported_by=operator(),
    )
    with open_mailbox(ctx.settings, answers.options, answers.environ) as mailbox:
        _, to_file = ctx.stages.run("read answers", lambda: read_in_run(ctx.session, mailbox, loop))
    return to_file


def file(settings: Settings, answers: Answers | None, to_file: list[tuple[str, str]]) -> None:
    """File the replies the committed run recorded (a failure here loses nothing: see above)."""
    if answers is None or not to_file:
        return
    from licensewatch.answers.inbox import file_replies
    from licensewatch.answers.mailbox.opening import open_mailbox

    with open_mailbox(settings, answers.options, answers.environ) as mailbox:
        file_replies(mailbox, to_file)
