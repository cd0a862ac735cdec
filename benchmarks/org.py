"""A synthetic organization of any size, in the real source formats, for the benchmarks.

:func:`build` asks :func:`licensewatch.demo.generate` for a base organization of
at most ``BASE_MAX`` licensed accounts (its proportions follow the audit: about
9 % dormant, leavers, phones of dormant owners, shared phones …) and writes it
``copies`` times over, each copy with its own identities: user ids, UPNs, mail
addresses, employee ids, phone names, owners and directory numbers change, so
that every copy is a distinct slice of people with the same shape. A size up
to ``BASE_MAX`` is the demo organization itself, untouched.

The folder holds:

- ``graph/users_0001.json`` … : ``GET /v1.0/users`` pages of 500 users (Graph's
  cap with ``signInActivity``), ``@odata.nextLink`` with an opaque
  ``$skiptoken`` (the local Graph server maps it back to an offset), and
  ``graph/subscribedSkus.json``: a valid ``graph-export`` folder too;
- ``phones.csv``: the inventory in the ``csv`` phone feed's columns with
  RisPort's spellings (what the local AXL/RisPort server answers from);
- ``separations.csv`` (HR export, with a byte-order mark), ``config/`` with the
  rate card, focal points and exemptions; ``manifest.json`` with the sizes.

``phones`` and ``separations`` pad (or cut) those feeds to an exact size: extra
phones are second desk phones of existing people, extra leavers are people
whose account was deleted long ago (they match no account).
"""

from __future__ import annotations

import base64
import csv
import json
import math
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from licensewatch.config import load_settings
from licensewatch.demo import generate

BASE_MAX = 50_000
PAGE_SIZE = 500  # Graph's cap for users pages that select signInActivity
GRAPH = "https://graph.microsoft.com/v1.0"
SELECT = (
    "id,userPrincipalName,mail,employeeId,displayName,department,accountEnabled,userType,"
    "createdDateTime,assignedLicenses,signInActivity"
)
MANIFEST = "manifest.json"
#: Phone-name prefixes from here on are padding phones (copies stay below).
EXTRA_PHONES = 0x800


@dataclass(frozen=True)
class Org:
    """A generated organization: where it is and how big each feed is."""

    root: Path
    accounts: int  # licensed accounts asked of the generator (base × copies)
    users: int  # user objects in the Graph pages (licensed, guests, resource mailboxes)
    pages: int
    phones: int
    separations: int
    departments: int
    copies: int
    as_of: date
    seed: int
    device_pools: dict[str, str] = field(default_factory=dict)

    @property
    def graph_dir(self) -> Path:
        """The users pages and subscribedSkus.json."""
        return self.root / "graph"

    @property
    def phones_csv(self) -> Path:
        """The phone inventory (CSV phone feed columns)."""
        return self.root / "phones.csv"

    @property
    def separations_csv(self) -> Path:
        """The HR separations export."""
        return self.root / "separations.csv"

    def config_file(self, name: str) -> Path:
        """``config/<name>.csv``: rate_card, focal_points or exemptions."""
        return self.root / "config" / f"{name}.csv"


def skiptoken(offset: int) -> str:
    """An opaque ``$skiptoken`` naming the user offset the next page starts at."""
    return base64.urlsafe_b64encode(f"lw-bench:{offset}".encode()).decode().rstrip("=")


def offset_of(token: str) -> int:
    """The offset a :func:`skiptoken` names; ``ValueError`` for any other token."""
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    prefix, _, number = raw.partition(":")
    if prefix != "lw-bench":
        raise ValueError(f"not a benchmark skiptoken: {token!r}")
    return int(number)


def page_doc(
    users: list[Any], offset: int, total: int, base: str = GRAPH, top: int = PAGE_SIZE
) -> dict[str, Any]:
    """A users page as Graph returns it: context, nextLink unless it is the last, value."""
    doc: dict[str, Any] = {"@odata.context": f"{base}/$metadata#users({SELECT})"}
    end = offset + len(users)
    if end < total:
        query = f"$select={SELECT}&$top={top}&$skiptoken={skiptoken(end)}"
        doc["@odata.nextLink"] = f"{base}/users?{query}"
    doc["value"] = users
    return doc


def load(root: Path) -> Org:
    """The organization described by ``root/manifest.json``."""
    doc = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    doc.pop("asked", None)
    doc["as_of"] = date.fromisoformat(doc["as_of"])
    doc["root"] = root
    return Org(**doc)


class _Identities:
    """How copy ``c`` renames the base organization's people and phones."""

    def __init__(self, copies: int) -> None:
        self.renamed = copies > 1

    def local(self, value: str, c: int) -> str:
        # UPNs, mail addresses and phone owners (UPN local parts) get the same prefix.
        return f"b{c}.{value}" if self.renamed and value else value

    def employee(self, value: str, c: int) -> str:
        return f"B{c}-{value}" if self.renamed and value else value

    def user(self, u: dict[str, Any], c: int) -> dict[str, Any]:
        if not self.renamed:
            return u
        v = dict(u)
        v["id"] = f"{c:03x}{u['id'][3:]}"
        v["userPrincipalName"] = self.local(u["userPrincipalName"], c)
        if u.get("mail"):
            v["mail"] = self.local(u["mail"], c)
        if u.get("employeeId"):
            v["employeeId"] = self.employee(u["employeeId"], c)
        return v

    def device(self, name: str, i: int, c: int) -> str:
        # Names stay SEP + 12 hex digits, unique per copy and base row.
        return f"SEP{c:03X}{i:09X}" if self.renamed or c >= EXTRA_PHONES else name


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def _write_csv(path: Path, header: Sequence[str], rows: Iterator[Sequence[str]], bom: bool) -> int:
    count = 0
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def _pages(folder: Path) -> list[dict[str, Any]]:
    files = sorted(folder.glob("users_*.json"), key=lambda p: int(p.stem.split("_")[1]))
    users: list[dict[str, Any]] = []
    for path in files:
        users.extend(json.loads(path.read_bytes())["value"])
    return users


def _write_pages(folder: Path, users: list[dict[str, Any]], ids: _Identities, copies: int) -> int:
    total = len(users) * copies
    page: list[dict[str, Any]] = []
    number = offset = 0

    def flush() -> None:
        nonlocal number, offset, page
        number += 1
        doc = page_doc(page, offset, total)
        data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        (folder / f"users_{number:04d}.json").write_bytes(data)
        offset += len(page)
        page = []

    for c in range(copies):
        for user in users:
            page.append(ids.user(user, c))
            if len(page) == PAGE_SIZE:
                flush()
    if page or number == 0:
        flush()
    return number


def _phones(
    rows: list[list[str]], ids: _Identities, copies: int, want: int | None
) -> Iterator[list[str]]:
    # Columns: device_name, description, model, device_pool, owner_user_id, directory_number, …
    natural = len(rows) * copies
    target = natural if want is None else want
    for n in range(min(natural, target)):
        c, i = divmod(n, len(rows))
        row = rows[i]
        owner, number = row[4], row[5]
        yield [
            ids.device(row[0], i, c), *row[1:4], ids.local(owner, c),
            f"{c:02d}{number}" if ids.renamed else number, *row[6:],
        ]  # fmt: skip
    for j in range(max(0, target - natural)):
        # A second desk phone of someone who already has one.
        k, i = divmod(j, len(rows))
        row = rows[i]
        owner_copy = k % copies
        yield [
            ids.device(row[0], i, EXTRA_PHONES + k), *row[1:4], ids.local(row[4], owner_copy),
            f"9{k:03d}{row[5]}", *row[6:],
        ]  # fmt: skip


def _separations(
    rows: list[list[str]], ids: _Identities, copies: int, want: int | None
) -> Iterator[list[str]]:
    # Columns: employee_id, email, name, department, separation_date, reason.
    natural = len(rows) * copies
    target = natural if want is None else want
    for n in range(min(natural, target)):
        c, i = divmod(n, len(rows))
        eid, mail, *rest = rows[i]
        yield [ids.employee(eid, c), ids.local(mail, c), *rest]
    for j in range(max(0, target - natural)):
        # A leaver whose account was deleted long ago: matches no account.
        _, _, name, dept, when, reason = rows[j % len(rows)]
        yield [f"L{j:07d}", f"leaver{j}@left.example.org", name, dept, when, reason]


def build(
    root: Path,
    accounts: int,
    *,
    as_of: date,
    phones: int | None = None,
    separations: int | None = None,
    seed: int = 2019,
    departments: int = 40,
) -> Org:
    """Write an organization of about ``accounts`` licensed accounts into ``root``.

    ``accounts`` is rounded up to a whole number of copies of the base. An
    existing ``root`` written with the same arguments is reused as it is.
    """
    copies = math.ceil(accounts / BASE_MAX)
    base_size = math.ceil(accounts / copies)
    wanted = {
        "accounts": base_size * copies,
        "seed": seed,
        "as_of": as_of.isoformat(),
        "departments": departments,
        "phones_asked": phones,
        "separations_asked": separations,
    }
    if (root / MANIFEST).is_file():
        doc = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        if {k: doc.get("asked", {}).get(k) for k in wanted} == wanted:
            return load(root)
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    demo = generate(
        root / "base", accounts=base_size, departments=departments, seed=seed, as_of=as_of
    )
    settings = load_settings(demo.config_path)
    ids = _Identities(copies)
    (root / "graph").mkdir(exist_ok=True)
    (root / "config").mkdir(exist_ok=True)
    base_graph = settings.sources["accounts"].path()
    users = _pages(base_graph)
    pages = _write_pages(root / "graph", users, ids, copies)
    shutil.copyfile(base_graph / "subscribedSkus.json", root / "graph" / "subscribedSkus.json")

    header, phone_rows = _read_csv(settings.sources["phones"].path())
    phone_count = _write_csv(
        root / "phones.csv", header, _phones(phone_rows, ids, copies, phones), bom=False
    )
    header, sep_rows = _read_csv(settings.sources["separations"].path())
    sep_count = _write_csv(
        root / "separations.csv", header, _separations(sep_rows, ids, copies, separations), True
    )
    shutil.copyfile(settings.rate_card, root / "config" / "rate_card.csv")
    shutil.copyfile(settings.focal_points, root / "config" / "focal_points.csv")
    if settings.exemptions is not None:
        # The exemptions name people and phones of the first copy.
        names = {row[0]: i for i, row in enumerate(phone_rows)}
        header, rows = _read_csv(settings.exemptions)
        exempt = (
            [ids.device(s, names[s], 0) if s in names else ids.local(s, 0), *rest]
            for s, *rest in rows
        )
        _write_csv(root / "config" / "exemptions.csv", header, exempt, bom=False)
    shutil.rmtree(root / "base")
    org = Org(
        root=root,
        accounts=base_size * copies,
        users=len(users) * copies,
        pages=pages,
        phones=phone_count,
        separations=sep_count,
        departments=demo.departments,
        copies=copies,
        as_of=as_of,
        seed=seed,
        device_pools=dict(settings.device_pool_departments),
    )
    doc = {k: v for k, v in asdict(org).items() if k != "root"}
    doc["as_of"] = as_of.isoformat()
    doc["asked"] = wanted
    (root / MANIFEST).write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return org
