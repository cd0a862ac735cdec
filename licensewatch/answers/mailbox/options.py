"""``[answers]``: where the focal points' replies are read, and who is believed.

```toml
[answers]
kind = "imap"                          # "imap" or "graph"; no [answers] table: no mailbox
processed_folder = "licensewatch/processed"
rejected_folder = "licensewatch/rejected"
trusted_authserv_id = "mx.example.org" # whose Authentication-Results are believed
require_authenticated = true           # false only for labs: logged as a warning every run
signing_key_env = "LICENSEWATCH_ANSWERS_KEY"   # the MAC key of the answer files
address = "ict-licensing@example.org"  # the mailbox's address ([mail] reply_to should be it)
[answers.imap]                         # see imap_options.py
[answers.graph]
mailbox = "ict-licensing@example.org"  # reuses [sources.accounts]' Graph app (Mail.ReadWrite)
folder = "inbox"
```
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from licensewatch.answers.mailbox.imap_options import FOLDER_NAME, ImapOptions
from licensewatch.errors import ConfigError
from licensewatch.options import reject_unknown, typed

WHERE: Final = "[answers]"
KINDS: Final = ("imap", "graph")
OPTIONS: Final[dict[str, type]] = {
    "kind": str,
    "processed_folder": str,
    "rejected_folder": str,
    "trusted_authserv_id": str,
    "require_authenticated": bool,
    "signing_key_env": str,
    "address": str,
    "imap": dict,
    "graph": dict,
}
GRAPH_OPTIONS: Final[dict[str, type]] = {"mailbox": str, "folder": str}
_ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_AUTHSERV: Final = re.compile(r"[A-Za-z0-9.-]+")
_ADDRESS: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class GraphMailboxOptions:
    """``[answers.graph]``: the shared mailbox read through Graph."""

    mailbox: str
    folder: str = "inbox"


@dataclass(frozen=True)
class AnswersOptions:
    """The validated ``[answers]`` table and its mailbox sub-table."""

    kind: str
    signing_key_env: str
    processed_folder: str = "licensewatch/processed"
    rejected_folder: str = "licensewatch/rejected"
    trusted_authserv_id: str | None = None
    require_authenticated: bool = True
    imap: ImapOptions | None = None
    graph: GraphMailboxOptions | None = None
    #: ``address``, else the Graph mailbox, else the IMAP user name when it is an address.
    mailbox_address: str | None = None

    @property
    def address(self) -> str | None:
        """The answers mailbox's email address when the config tells it, else None."""
        if self.mailbox_address:
            return self.mailbox_address
        if self.graph is not None:
            return self.graph.mailbox
        if self.imap is not None and _ADDRESS.fullmatch(self.imap.username):
            return self.imap.username
        return None


def _folder(key: str, value: str) -> str:
    if not FOLDER_NAME.fullmatch(value) or value.startswith("/") or "//" in value:
        raise ConfigError(
            f"{WHERE} {key} must be a folder path of printable ASCII without quotes, levels "
            f"separated by '/', not {value!r}"
        )
    return value


def _graph(table: Mapping[str, Any]) -> GraphMailboxOptions:
    where = "[answers.graph]"
    reject_unknown(table, GRAPH_OPTIONS, where, hint=f"correct or remove the key in {where}")
    values = {k: typed(where, k, v, GRAPH_OPTIONS[k]) for k, v in table.items()}
    mailbox = str(values.get("mailbox", "")).strip()
    if not _ADDRESS.fullmatch(mailbox):
        raise ConfigError(
            f"{where} needs mailbox, the address of the shared mailbox the replies arrive in",
            hint='add mailbox = "ict-licensing@example.org" to [answers.graph]',
        )
    folder = str(values.get("folder", "inbox")).strip()
    if not folder:
        raise ConfigError(f"{where} folder must not be empty")
    return GraphMailboxOptions(mailbox=mailbox, folder=folder)


def _checked(table: Mapping[str, Any]) -> dict[str, Any]:
    if "signing_key" in table:
        raise ConfigError(
            f"{WHERE} signing_key is not allowed: secrets never live in the config",
            hint="export the key in an environment variable and name it with signing_key_env = "
            '"LICENSEWATCH_ANSWERS_KEY"',
        )
    reject_unknown(table, OPTIONS, WHERE, hint=f"correct or remove the key in {WHERE}")
    values: dict[str, Any] = {}
    for key, value in table.items():
        shown = "..." if key == "signing_key_env" else None
        values[key] = typed(WHERE, key, value, OPTIONS[key], shown=shown)
    return values


def answers_options(table: Mapping[str, Any] | None, base_dir: Path) -> AnswersOptions | None:
    """``[answers]`` checked (None when the config has none); ``ConfigError`` names the key."""
    if table is None:
        return None
    v = _checked(table)
    kind = v.get("kind")
    if kind not in KINDS:
        raise ConfigError(
            f"{WHERE} kind must be one of {', '.join(KINDS)}, not {kind!r}",
            hint='set kind = "imap" (with an [answers.imap] table) or "graph" '
            "(with [answers.graph])",
        )
    if kind not in v:
        raise ConfigError(f"{WHERE} kind = {kind!r} needs an [answers.{kind}] table")
    other = "graph" if kind == "imap" else "imap"
    if other in v:
        raise ConfigError(f"{WHERE} kind = {kind!r} has no use for [answers.{other}]")
    key_env = v.get("signing_key_env", "")
    if not _ENV_NAME.fullmatch(str(key_env)):
        raise ConfigError(
            f"{WHERE} needs signing_key_env, the environment variable holding the answer files' "
            "MAC key (letters, digits, _)",
            hint='add signing_key_env = "LICENSEWATCH_ANSWERS_KEY" and export at least 32 '
            "random bytes (e.g. openssl rand -base64 48) in that variable",
        )
    trusted = v.get("trusted_authserv_id")
    if trusted is not None and not _AUTHSERV.fullmatch(trusted.strip()):
        raise ConfigError(
            f"{WHERE} trusted_authserv_id must be a host name (the authserv-id your inbound "
            f"mail server writes in Authentication-Results), not {trusted!r}"
        )
    require = v.get("require_authenticated", True)
    if require and trusted is None and kind == "imap":
        raise ConfigError(
            f"{WHERE} needs trusted_authserv_id: without it no reply can be authenticated",
            hint="set it to the name your inbound mail server writes first in its "
            "Authentication-Results headers, or require_authenticated = false in a lab",
        )
    address = v.get("address")
    if address is not None and not _ADDRESS.fullmatch(address.strip()):
        raise ConfigError(f"{WHERE} address must be an email address, not {address!r}")
    return AnswersOptions(
        mailbox_address=address.strip() if address else None,
        kind=kind,
        signing_key_env=str(key_env),
        processed_folder=_folder(
            "processed_folder", v.get("processed_folder", "licensewatch/processed")
        ),
        rejected_folder=_folder(
            "rejected_folder", v.get("rejected_folder", "licensewatch/rejected")
        ),
        trusted_authserv_id=trusted.strip() if trusted else None,
        require_authenticated=bool(require),
        imap=ImapOptions.from_table(v["imap"], base_dir) if kind == "imap" else None,
        graph=_graph(v["graph"]) if kind == "graph" else None,
    )


def reply_to_problems(
    answers: AnswersOptions | None, reply_to: str | None, sender: str
) -> list[str]:
    """What ``check-config`` says when the emails' replies would not reach the answers mailbox.

    Replies go to ``[mail] reply_to``, or to ``[mail] from`` when it is unset;
    either must be the answers mailbox's address, or the loop never closes.
    """
    if answers is None:
        return []
    from email.utils import parseaddr

    address = answers.address
    if address is None:
        return [
            "[answers] address is not set and the IMAP username is no address: set it to the "
            "answers mailbox's address, so that check-config can compare it with [mail] reply_to"
        ]
    replies = parseaddr(reply_to or sender)[1]
    if replies.casefold() != address.casefold():
        key = "reply_to" if reply_to else "from (reply_to is not set)"
        return [
            f"[mail] {key} is {replies!r} but the answers mailbox is {address!r}: focal points' "
            f"replies would not reach it; set [mail] reply_to = {address!r}"
        ]
    return []
