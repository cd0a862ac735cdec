"""The configured transport: ``directory``, ``smtp`` or ``graph`` (``[mail] transport``)."""

from __future__ import annotations

from collections.abc import Mapping

from licensewatch.config import Settings
from licensewatch.notify.transports.base import Transport
from licensewatch.notify.transports.directory import DirectoryTransport


def build_transport(settings: Settings, *, environ: Mapping[str, str] | None = None) -> Transport:
    """The transport ``[mail]`` configures, its options validated and secrets read.

    Makes no connection: a ``ConfigError`` here means the config or an
    environment variable is wrong, which ``check-config`` reports too.
    """
    mail = settings.mail
    if mail.transport == "smtp":
        from licensewatch.notify.transports.smtp import SmtpOptions, SmtpTransport

        options = SmtpOptions.from_table(mail.options, settings.base_dir)
        return SmtpTransport(options, sender=mail.sender, environ=environ)
    if mail.transport == "graph":
        from licensewatch.notify.transports.graph import GraphMailOptions, GraphMailTransport

        accounts = settings.sources.get("accounts")
        graph_options = GraphMailOptions.from_tables(
            mail.options,
            accounts if accounts is not None and accounts.kind == "graph" else None,
            settings.base_dir,
        )
        return GraphMailTransport(graph_options, environ=environ)
    return DirectoryTransport(mail.directory, settings.file_modes)
