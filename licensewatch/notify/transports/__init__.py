"""The configured transport: ``directory``, ``smtp`` or ``graph`` (``[mail] transport``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from licensewatch.config import MailSettings, Settings, SourceSettings
from licensewatch.filemodes import FileModes
from licensewatch.notify.transports.base import Transport
from licensewatch.notify.transports.directory import DirectoryTransport


def build_transport(settings: Settings, *, environ: Mapping[str, str] | None = None) -> Transport:
    """The transport ``[mail]`` configures, its options validated and secrets read.

    Makes no connection: a ``ConfigError`` here means the config or an
    environment variable is wrong, which ``check-config`` reports too.
    """
    return mail_transport(
        settings.mail,
        settings.sources,
        settings.base_dir,
        environ=environ,
        file_modes=settings.file_modes,
    )


def mail_transport(
    mail: MailSettings,
    sources: Mapping[str, SourceSettings],
    base_dir: Path,
    *,
    environ: Mapping[str, str] | None = None,
    file_modes: FileModes | None = None,
) -> Transport:
    """The transport of ``mail`` (see :func:`build_transport`); ``check-config`` checks it alone.

    ``file_modes`` are the modes of the directory transport's ``.eml`` files.
    """
    if mail.transport == "smtp":
        from licensewatch.notify.transports.smtp import SmtpOptions, SmtpTransport

        options = SmtpOptions.from_table(mail.options, base_dir)
        return SmtpTransport(options, sender=mail.sender, environ=environ)
    if mail.transport == "graph":
        from licensewatch.notify.transports.graph import GraphMailOptions, GraphMailTransport

        accounts = sources.get("accounts")
        graph_options = GraphMailOptions.from_tables(
            mail.options,
            accounts if accounts is not None and accounts.kind == "graph" else None,
            base_dir,
        )
        return GraphMailTransport(graph_options, environ=environ)
    return DirectoryTransport(mail.directory, file_modes or FileModes())
