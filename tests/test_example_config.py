"""The example config documents every key the loader accepts, and only those (issue 19 item 9).

The accepted keys come from the loader's and the adapters' own tables
(``licensewatch.config_check.accepted_keys``): ``TABLE_KEYS`` of the loader,
each source kind's ``KEYS``, the transports' option tables. A key added to any
of them without a line in ``config/licensewatch.example.toml`` fails here, and
so does a documented key nothing accepts.

A key is documented by a line ``key = …`` (commented out or not) under its
table's header (``[table]`` or ``# [table]``); a header ``[a.b]`` also
documents ``b`` in ``[a]``. A ``[sources.<feed>]`` block documents the keys of
the kind its ``kind = "…"`` line names.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from licensewatch.config_check import accepted_keys
from licensewatch.errors import ConfigError
from licensewatch.sources import ACCOUNTS_KINDS, PHONES_KINDS, SEPARATIONS_KINDS

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "licensewatch.example.toml"
_HEADER = re.compile(r"^\s*#?\s*\[([A-Za-z0-9_.\-]+)\]")
_KEY = re.compile(r"^\s*#?\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)")
_KIND = re.compile(r'"([^"]+)"')
_CLUSTER = re.compile(r"^(sources\.phones\.clusters\.)[A-Za-z0-9_-]+")
Table = tuple[str, str | None]


def _kind_of(table: str, kinds: dict[str, str | None]) -> str | None:
    """The kind of ``table``: that of the latest block of its ``[sources.<feed>]``."""
    parts = table.split(".")
    if len(parts) >= 2 and parts[0] == "sources":
        return kinds.get(".".join(parts[:2]))
    return kinds.get(table)


def documented(text: str) -> dict[Table, set[str]]:
    """(table, kind) → the keys the example's lines document (see the module docstring)."""
    found: dict[Table, set[str]] = {}
    kinds: dict[str, str | None] = {}  # table → the kind of its latest block
    current: Table = ("", None)
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            # A cluster's table is named by the organization: [sources.phones.clusters.*].
            parts = _CLUSTER.sub(r"\1*", header[1]).split(".")
            for depth in range(len(parts)):
                parent = ".".join(parts[:depth])
                found.setdefault((parent, _kind_of(parent, kinds)), set()).add(parts[depth])
            name = ".".join(parts)
            kinds[name] = _kind_of(".".join(parts[:-1]), kinds) if len(parts) > 2 else None
            current = (name, kinds[name])
            found.setdefault(current, set())
            continue
        key = _KEY.match(line)
        if not key:
            continue
        if key[1] == "kind" and current[0].startswith("sources."):
            kind = _KIND.match(key[2])
            assert kind, f"kind without a quoted value: {line!r}"
            kinds[current[0]] = kind[1]
            current = (current[0], kind[1])
            found.setdefault(current, set())
        found[current].add(key[1])
    for table, keys in list(found.items()):
        # Keys written before a block's kind line belong to that kind too.
        if table[0].startswith("sources.") and table[1] is None and table[0].count(".") == 1:
            assert not keys, f"[{table[0]}] keys before its kind line: {sorted(keys)}"
            del found[table]
    return found


def test_the_parser_reads_headers_kinds_and_commented_keys() -> None:
    text = (
        "[policy]\ninactive_days = 90   # note = not a key\n"
        '[sources.accounts]\nkind = "graph-export"\npath = "x"\n'
        '# [sources.accounts]\n# kind = "graph"\n# tenant_id = "t"\n'
        "#   prose without a key\n"
        '# [sources.accounts.columns]\n# "Index" = "employee_id"\n'
    )
    assert documented(text) == {
        ("", None): {"policy", "sources"},
        ("policy", None): {"inactive_days"},
        ("sources", None): {"accounts"},
        ("sources.accounts", "graph-export"): {"kind", "path"},
        ("sources.accounts", "graph"): {"kind", "tenant_id", "columns"},
        ("sources.accounts.columns", "graph"): set(),
    }


def test_every_accepted_key_is_documented_and_every_documented_key_accepted() -> None:
    accepted = accepted_keys()
    docs = documented(EXAMPLE.read_text(encoding="utf-8"))
    undocumented = {
        f"[{table}]{f' (kind {kind!r})' if kind else ''}": sorted(
            set(keys) - docs.get((table, kind), set())
        )
        for (table, kind), keys in accepted.items()
        if keys is not None and set(keys) - docs.get((table, kind), set())
    }
    assert undocumented == {}, "keys the example config does not document"
    unknown = {
        f"[{table}]{f' (kind {kind!r})' if kind else ''}": sorted(
            keys - set(accepted[(table, kind)] or keys)
        )
        if (table, kind) in accepted
        else "no such table"
        for (table, kind), keys in docs.items()
        if (table, kind) not in accepted or not keys <= set(accepted[(table, kind)] or keys)
    }
    assert unknown == {}, "keys the example config documents but nothing accepts"


def test_every_source_kind_declares_the_keys_it_accepts() -> None:
    """Each adapter's ``KEYS`` is what it really accepts: its unknown-key message lists them."""
    from licensewatch.config import SourceSettings

    for feed, kinds in (
        ("accounts", ACCOUNTS_KINDS),
        ("phones", PHONES_KINDS),
        ("separations", SEPARATIONS_KINDS),
    ):
        for kind, adapter in kinds.items():
            probe = SourceSettings(feed, kind, {"zz_not_a_key": 1}, Path("."))
            with pytest.raises(ConfigError) as exc:
                adapter(probe)
            text = f"{exc.value.message} {exc.value.hint}"
            assert "'zz_not_a_key'" in text, (kind, text)
            listed = re.search(r"valid keys are: ([a-z_]+(?:, [a-z_]+)*)", text)
            assert listed, (kind, text)
            assert listed[1].split(", ") == ["kind", *adapter.KEYS], kind
