"""``kind = "cucm-export"``: replay a CUCM pull saved by ``licensewatch pull --save``.

A saved folder holds every SOAP answer of one live pull, byte for byte
(``axl_0001.xml`` …, ``risport_0001.xml`` …), and ``manifest.json`` listing them
in the order received with the operation, HTTP status, fault text and request
summary of each. Replaying parses the same answers with the same parsers and
builds the frame with the same :func:`assemble_phones` as the live source, so
both give identical frames. Faults (a query too large, rate control, a refused
SQL query) carry no phones and are skipped. A pull that failed is kept too, for
diagnosis, in ``incomplete/`` with a manifest marked incomplete, and is not replayed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar

from licensewatch import jsontext, model
from licensewatch.config import SourceSettings
from licensewatch.errors import ConfigError, InputError, Problem, SourceError
from licensewatch.sources.cucm.assemble import assemble_phones
from licensewatch.sources.cucm.axl import InventoryPhone, parse_list_phone, parse_sql_rows
from licensewatch.sources.cucm.clusters import (
    CLUSTERS_FORMAT,
    ClusterOutcome,
    cluster_specs,
    combine,
)
from licensewatch.sources.cucm.inventory_csv import OWNER_MATCHES
from licensewatch.sources.cucm.risport_answer import (
    RisAnswer,
    merge,
    parse_select,
)
from licensewatch.sources.cucm.soap import Exchange, parse_xml
from licensewatch.sources.interface import PhonesPull, PhonesSource
from licensewatch.sources.options import source_path
from licensewatch.sources.record import INCOMPLETE, PullRecorder
from licensewatch.sources.tabular.table import CAP, check_options

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "licensewatch-cucm-pull/1"
_FILE_NAME = re.compile(r"(axl|risport)_\d{4,}\.xml")
#: The AXL operation whose answers hold the inventory, by inventory method.
INVENTORY_OPERATION = {"sql": "executeSQLQuery", "listphone": "listPhone"}


def check_owner_match(settings: SourceSettings, value: Any) -> str:
    """The ``owner_match`` option (how reconcile finds a phone owner's account), validated."""
    if value not in OWNER_MATCHES:
        raise ConfigError(
            f"[sources.{settings.feed}] owner_match must be one of "
            f"{', '.join(OWNER_MATCHES)}, not {value!r}"
        )
    return str(value)


class CucmRecorder(PullRecorder):
    """Every SOAP answer of one live pull, and the manifest at the end.

    The rule for a failed pull is :mod:`licensewatch.sources.record`'s: a pull
    that completes reaches the folder whole; one that fails is kept, with a
    manifest saying why, in ``incomplete/``.
    """

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.files: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {}

    def start(self) -> Path:
        """Create the folder; refuse one that already holds a saved pull."""
        if (self.folder / MANIFEST).exists():
            raise ConfigError(
                f"{self.folder} already holds a saved pull",
                hint="give pull --save a new or empty folder",
            )
        return super().start()

    def __call__(self, exchange: Exchange) -> None:
        """Save one answer as ``<service>_<n>.xml`` and remember it for the manifest."""
        service = "axl" if exchange.service == "AXL" else "risport"
        n = self.counts[service] = self.counts.get(service, 0) + 1
        name = f"{service}_{n:04d}.xml"
        self.save(name, exchange.body)
        self.files.append(
            {
                "file": name,
                "service": service,
                "operation": exchange.operation,
                "http_status": exchange.status,
                "fault": exchange.fault.text if exchange.fault else None,
                "request": dict(exchange.request),
            }
        )

    def finish(self, **summary: Any) -> None:
        """Write ``manifest.json`` (how the pull ended, the files in the order received).

        ``complete=True`` publishes the pull into the folder; anything else keeps it
        in ``incomplete/``.
        """
        doc = {"format": MANIFEST_FORMAT, **summary, "files": self.files}
        text = json.dumps(doc, indent=2, default=str) + "\n"
        if summary.get("complete") is True:
            self.commit(text.encode("utf-8"))
        else:
            self.abandon(text.encode("utf-8"))


def _read_json(path: Path) -> Any:
    try:
        return jsontext.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError.single(str(path), "missing: this folder holds no saved CUCM pull") from (
            None
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError.single(str(path), f"not valid JSON: {exc}") from None


def saved_clusters(folder: Path) -> list[dict[str, Any]] | None:
    """The clusters a saved pull of several clusters lists; None for a single-cluster save."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    doc = _read_json(path)
    if not isinstance(doc, dict) or doc.get("format") != CLUSTERS_FORMAT:
        return None
    entries = doc.get("clusters")
    if not isinstance(entries, list) or not entries:
        raise InputError.single(str(path), "'clusters' must be a non-empty list")
    for n, entry in enumerate(entries, start=1):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or entry.get("folder") != name or "/" in name:
            raise InputError.single(str(path), f"clusters entry {n}: name and folder must match")
    return entries


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    where = str(path)
    if not path.exists() and (folder / INCOMPLETE / MANIFEST).is_file():
        path = folder / INCOMPLETE / MANIFEST  # a failed pull: say why below
        where = str(path)
    doc = _read_json(path)
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
        raise InputError.single(where, f"not a saved CUCM pull (format {MANIFEST_FORMAT!r})")
    if doc.get("complete") is not True:
        reason = doc.get("error", "no reason given")
        raise InputError(
            [Problem(where, f"the saved pull did not complete ({reason})")],
            hint="replay a pull that completed; this one is kept only for diagnosis",
        )
    if doc.get("inventory") not in INVENTORY_OPERATION or not isinstance(doc.get("files"), list):
        raise InputError.single(where, "'inventory' or 'files' is missing or invalid")
    return doc


def read_saved(folder: Path) -> tuple[list[InventoryPhone], list[RisAnswer], tuple[str, ...]]:
    """The inventory, RisPort answers and notes of a saved pull; ``InputError`` names bad files."""
    doc = _manifest(folder)
    inventory_operation = INVENTORY_OPERATION[doc["inventory"]]
    phones: list[InventoryPhone] = []
    answers: list[RisAnswer] = []
    problems: list[Problem] = []
    for n, entry in enumerate(doc["files"], start=1):
        name = entry.get("file") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not _FILE_NAME.fullmatch(name):
            problems.append(
                Problem(str(folder / MANIFEST), f"files entry {n}: not a saved answer file")
            )
            continue
        if entry.get("fault"):
            continue
        path = folder / name
        try:
            root = parse_xml(path.read_bytes(), what=name)
            if entry.get("service") == "risport":
                answers.append(parse_select(root))
            elif entry.get("operation") == inventory_operation == "executeSQLQuery":
                phones.extend(parse_sql_rows(root))
            elif entry.get("operation") == inventory_operation:
                phones.extend(parse_list_phone(root))
        except OSError as exc:
            problems.append(Problem(str(path), f"cannot be read: {exc.strerror}"))
        except SourceError as exc:
            problems.append(Problem(str(path), exc.message))
        if len(problems) >= CAP:
            break
    if problems:
        raise InputError(problems, hint="save the pull again with licensewatch pull --save")
    notes = doc.get("notes", [])
    return phones, answers, tuple(str(x) for x in notes) if isinstance(notes, list) else ()


class CucmExportSource(PhonesSource):
    """Phones from a saved CUCM pull. Options: ``path`` (the folder), ``owner_match``."""

    KEYS: ClassVar[tuple[str, ...]] = ("path", "owner_match", "clusters")

    def __init__(self, settings: SourceSettings) -> None:
        options = check_options(
            settings, ("path", "owner_match"), {"owner_match": "upn"}, other=("clusters",)
        )
        if "clusters" in settings.options:
            # A replay keeps each cluster's own device pools; the rest is in the saved pull.
            for spec in cluster_specs(settings, (), ("path", "owner_match", "clusters")):
                if set(spec.settings.options) - {"device_pools"}:
                    raise ConfigError(
                        f"{spec.where} of a cucm-export holds only device_pools",
                        hint="the saved pull holds the rest; remove the other keys",
                    )
        self.owner_match = check_owner_match(settings, options["owner_match"])
        self.settings = settings
        self.folder = settings.path()

    def _folder(self) -> Path:
        return source_path(
            self.settings,
            folder=True,
            expected="expected a saved CUCM pull "
            "(FOLDER/phones of licensewatch pull --save FOLDER)",
        )

    def check(self) -> None:
        """The folder holds a complete saved pull (its answers are read by ``pull``)."""
        folder = self._folder()
        entries = saved_clusters(folder)
        for entry in entries or [{"folder": None, "complete": True}]:
            if entry.get("complete") is True:
                _manifest(folder / entry["folder"] if entry["folder"] else folder)

    def pull(self) -> PhonesPull:
        """Replay the saved answers through the live source's parsers (every saved cluster)."""
        folder = self._folder()
        entries = saved_clusters(folder)
        if entries is None:
            return self._replay(folder)
        outcomes = []
        for e in entries:
            name, optional = e["name"], bool(e.get("optional"))
            if e.get("complete") is True:
                outcomes.append(ClusterOutcome(name, optional, self._replay(folder / name)))
            else:
                error = str(e.get("error") or "no reason saved")
                outcomes.append(ClusterOutcome(name, optional, None, error))
        return combine(outcomes)

    def _replay(self, folder: Path) -> PhonesPull:
        phones, answers, notes = read_saved(folder)
        cluster = _manifest(folder).get("cluster", model.DEFAULT_CLUSTER)
        frame = assemble_phones(phones, merge(answers), str(cluster))
        return PhonesPull(phones=frame, requests=0, notes=notes, clusters=(str(cluster),))
