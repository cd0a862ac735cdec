"""Was a reply authenticated by the organization's own mail system? (RFC 8601, RFC 7489).

The organization's inbound mail server checks SPF, DKIM and DMARC and records
the outcome in an ``Authentication-Results`` header that starts with its own
name (the *authserv-id*), removing any such header claiming that name which
arrived from outside (RFC 8601 section 5). So only a header carrying the
configured ``[answers] trusted_authserv_id`` is believed, and of those only
the topmost (the last one added, by the server nearest to the mailbox).

A message counts as authenticated when that header says ``dmarc=pass`` for
the ``From`` domain, or ``spf=pass`` and ``dkim=pass`` with the DKIM signing
domain aligned with the ``From`` domain (equal, or ``From`` a subdomain of it).
Exchange Online's own internal-sender marking (``X-MS-Exchange-Organization-
AuthAs: Internal``) is the Graph mailbox's equivalent, read by ``exchange_internal``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

_COMMENT: Final = re.compile(r"\((?:[^()\\]|\\.)*\)")
_RESULT: Final = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*=\s*([A-Za-z0-9_-]+)(.*)$", re.DOTALL)
_PROPERTY: Final = re.compile(r"([A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+)\s*=\s*(\"[^\"]*\"|[^\s;]+)")


@dataclass(frozen=True)
class Verdict:
    """Whether a message is authenticated, and why (shown to the sender when it is not)."""

    authenticated: bool
    reason: str


@dataclass(frozen=True)
class _Method:
    name: str
    result: str
    properties: dict[str, str]


def _parse(value: str) -> tuple[str, list[_Method]]:
    """The authserv-id and the method results of one ``Authentication-Results`` value."""
    text = _COMMENT.sub(" ", " ".join(value.split()))
    parts = [p.strip() for p in text.split(";")]
    authserv = parts[0].split()[0] if parts and parts[0].split() else ""
    methods: list[_Method] = []
    for part in parts[1:]:
        match = _RESULT.match(part)
        if match is None:
            continue
        props = {k.lower(): v.strip('"').lower() for k, v in _PROPERTY.findall(match.group(3))}
        methods.append(_Method(match.group(1).lower(), match.group(2).lower(), props))
    return authserv, methods


def _aligned(signing: str, from_domain: str) -> bool:
    signing = signing.lstrip("@").rsplit("@", 1)[-1].lower()
    return bool(signing) and (from_domain == signing or from_domain.endswith("." + signing))


def verdict(headers: Sequence[str], from_domain: str, trusted_authserv_id: str) -> Verdict:
    """Judge the ``Authentication-Results`` header values of a message, topmost first."""
    trusted = trusted_authserv_id.strip().lower()
    from_domain = from_domain.strip().lower()
    for value in headers:
        authserv, methods = _parse(value)
        if authserv.lower() != trusted:
            continue
        by_name: dict[str, list[_Method]] = {}
        for method in methods:
            by_name.setdefault(method.name, []).append(method)
        for dmarc in by_name.get("dmarc", []):
            header_from = dmarc.properties.get("header.from", from_domain)
            if dmarc.result == "pass" and header_from == from_domain:
                return Verdict(True, f"dmarc=pass for {from_domain} ({authserv})")
        spf = any(m.result == "pass" for m in by_name.get("spf", []))
        dkim = any(
            m.result == "pass"
            and _aligned(
                m.properties.get("header.d", m.properties.get("header.i", "")), from_domain
            )
            for m in by_name.get("dkim", [])
        )
        if spf and dkim:
            return Verdict(True, f"spf=pass and dkim=pass for {from_domain} ({authserv})")
        found = ", ".join(f"{m.name}={m.result}" for m in methods) or "no results"
        return Verdict(False, f"your mail system ({authserv}) did not authenticate it: {found}")
    return Verdict(
        False,
        f"it carries no authentication result from the organization's mail system ({trusted})",
    )


def exchange_internal(headers: Sequence[tuple[str, str]]) -> Verdict:
    """Exchange's marking of a message sent from inside the organization (Graph mailboxes)."""
    values = {name.lower(): value.strip().lower() for name, value in headers}
    auth_as = values.get("x-ms-exchange-organization-authas", "")
    if auth_as == "internal":
        return Verdict(True, "Exchange marks the sender as internal (AuthAs: Internal)")
    shown = auth_as or "absent"
    return Verdict(False, f"Exchange does not mark the sender as internal (AuthAs: {shown})")
