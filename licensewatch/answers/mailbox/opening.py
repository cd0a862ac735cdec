"""Opening the configured answers mailbox: IMAP, or Graph with the accounts source's app.

:func:`open_mailbox` yields a reader with ``incoming`` and ``move`` and closes it
afterwards. Secrets are read (and registered for masking) before any network
call, so a missing password is a ``ConfigError`` (exit 2) before anything is
read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from licensewatch.answers.inbox import Mailbox
from licensewatch.answers.mailbox.graph import GraphMailbox
from licensewatch.answers.mailbox.imap import ImapMailbox
from licensewatch.answers.mailbox.options import AnswersOptions
from licensewatch.config import Settings
from licensewatch.errors import ConfigError


@contextmanager
def open_mailbox(
    settings: Settings, options: AnswersOptions, environ: Mapping[str, str]
) -> Iterator[Mailbox]:
    """The answers mailbox of ``options``, open for the block."""
    if options.imap is not None:
        with ImapMailbox(options.imap, environ) as imap:
            yield imap
        return
    assert options.graph is not None
    from licensewatch.graph.auth import load_credential
    from licensewatch.graph.client import LazyGraph
    from licensewatch.graph.options import GraphOptions

    accounts = settings.sources.get("accounts")
    if accounts is None or accounts.kind != "graph":
        raise ConfigError(
            '[answers] kind = "graph" reads the mailbox with the Graph app of '
            "[sources.accounts], which is not of kind 'graph'",
            hint='use kind = "imap", or configure the live Graph source (its app needs '
            "Mail.ReadWrite, restricted to the answers mailbox)",
        )
    graph_options = GraphOptions.from_settings(accounts)
    lazy = LazyGraph(
        graph_options,
        load_credential(graph_options, environ),
        config_table="[answers.graph]",
    )
    try:
        yield GraphMailbox(
            lazy.client(),
            graph_url=graph_options.graph_url,
            mailbox=options.graph.mailbox,
            folder=options.graph.folder,
        )
    finally:
        lazy.close()
