"""Deterministic synthetic organization for ``licensewatch demo``.

:func:`generate` writes everything a run reads, in the real source formats:
Microsoft Graph users pages exactly as ``GET /v1.0/users`` returns them (500 a
page, ``@odata.nextLink``, the documented sign-in quirks), ``subscribedSkus.json``,
a phone inventory, an HR separations file, focal points, exemptions, the shipped
rate card and a complete ``licensewatch.toml``. Every date is relative to
``as_of``, so the organization has the same shape whatever the day, and the same
seed and ``as_of`` give byte-identical files. No clock, no network.

About 9% of the licensed accounts are dormant, as in the audit (5,441 of about
60,000): inactive, never signed in, disabled yet licensed, or separated by HR
while the account still looks active.
"""

from __future__ import annotations

import base64
import bisect
import calendar
import csv
import functools
import gc
import json
import random
import re
import shutil
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from licensewatch import resources
from licensewatch.errors import ConfigError, LicensewatchError

DOMAIN = "demo.example.org"
#: Graph's cap for users pages that select signInActivity, whatever $top asks.
PAGE_SIZE = 500
SELECT = (
    "id,userPrincipalName,mail,employeeId,displayName,department,accountEnabled,userType,"
    "createdDateTime,assignedLicenses,signInActivity"
)
GRAPH = "https://graph.microsoft.com/v1.0"
NEVER = "0001-01-01T00:00:00Z"
MARKER = ".licensewatch-demo"
DAY = 86_400
_GUID_MASK = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)
_GUID_V4 = (0x4 << 76) | (0x2 << 62)
E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"
PBI = "f8a1db68-be16-40ed-86d5-cb42ce701560"
VISIO = "c5928f49-12ba-48f7-ada3-0d743a3601d5"
#: skuId → (skuPartNumber, its main service plans); the rate card prices SPE_E3 only.
SKUS = {
    E3: ("SPE_E3", "EXCHANGE_S_ENTERPRISE efb87545-963c-4e0d-99df-69c6916d9eb0 "
         "SHAREPOINTENTERPRISE 5dbe027f-2339-4123-9542-606e4d348a72 "
         "OFFICESUBSCRIPTION 43de0ff5-c92c-492b-9116-175376d08c38 "
         "MCOSTANDARD 0feaeb32-d00e-4d66-bd5a-43b5b83db82c "
         "TEAMS1 57ff2da0-773e-42df-b2af-ffb7a2317929"),
    PBI: ("POWER_BI_PRO", "EXCHANGE_S_FOUNDATION 113feb6c-3fe4-4440-bddc-54d774bf0318 "
          "BI_AZURE_P2 70d33638-9c74-4d01-bfd3-562de28bd4ba"),
    VISIO: ("VISIOCLIENT", "EXCHANGE_S_FOUNDATION 113feb6c-3fe4-4440-bddc-54d774bf0318 "
            "VISIOONLINE 2bdbaf8f-738f-4ac7-9234-3c3ee2ce7d0f "
            "VISIO_CLIENT_SUBSCRIPTION 663a804f-1c30-4ff0-9915-9db84f0d1cea"),
}  # fmt: skip
PHONE_COLUMNS = (
    "device_name",
    "description",
    "model",
    "device_pool",
    "owner_user_id",
    "directory_number",
    "registration_status",
    "status_changed_at",
    "last_seen_at",
)
#: Account kinds whose licences are dormant; their owners' phones are dormant too.
DORMANT = frozenset(
    {
        *("inactive", "failed", "disabled", "never", "never_sentinel", "never_blank"),
        *("sep_active", "sep_inactive", "sep_disabled"),
    }
)

# name|device-pool suffix|relative size; the first eight mix large and small departments.
DEPARTMENTS = """Office of the Director-General|ODG|1.2
Finance|FIN|3.5
Human Resources|HR|3
Field Operations|FOPS|14
Legal Affairs|LEG|1.5
Information & Communications Technology|ICT|5
Procurement|PROC|2.2
Ethics Office|ETH|0.25
Programme Planning & Budget|PPB|1.4
Conference Services|CONF|3.5
Translation & Interpretation|TRAN|4
Security & Safety|SEC|3
Facilities Management|FAC|2.2
Communications & Public Information|COMM|2
Internal Oversight|OIO|1
Treasury|TRE|0.8
Statistics|STAT|2.5
Research|RES|3
Partnerships & Resource Mobilization|PRM|1.6
External Relations|EXR|1.2
Protocol|PROT|0.35
Regional Office for Africa|RAF|6
Regional Office for Asia & the Pacific|RAP|5.5
Regional Office for Europe|REU|3
Regional Office for Latin America & the Caribbean|RLC|4
Regional Office for the Middle East|RME|3.5
Liaison Office New York|LONY|0.8
Humanitarian Affairs|HUM|6
Emergency Response|EMR|4.5
Health & Wellbeing|HWB|1.2
Gender Equality & Inclusion|GEN|0.7
Environment & Sustainability|ENV|1.5
Library & Archives|LIB|0.9
Publications|PUB|1.1
Learning & Development|LRN|1.3
Supply Chain|SUP|5
Data Protection Office|DPO|0.2
Office of the Ombudsman|OMB|0.15
Medical Service|MED|0.8
Travel & Visa Services|TRV|0.6
Records Management|REC|0.5
Risk Management|RISK|0.4
Policy & Strategy|POL|1
Evaluation|EVAL|0.7"""
_CITIES = """Geneva New_York Vienna Nairobi Bangkok Rome Paris Montreal Santiago Beirut
Addis_Ababa Bonn Copenhagen Panama"""
_FIRST_NAMES = """Maria José Zoë Amélie François Jürgen Søren Åsa Björn Chloé Hélène Inês João
Łukasz Małgorzata Aisha Amina Kwame Chinedu Fatima Omar Youssef Priya Rahul Anjali Wei Mei Hiroshi
Yuki Min-jun Ji-woo Olga Ivan Dmitri Elena Ana Carlos Lucía Sofía Mateo Diego Valentina
Camila Juan Pedro Giulia Marco Francesca Luca Anna Peter John Sarah Emily James Michael
David Laura Thomas Sophie Emma Liam Noah Olivia Ingrid Lars Nils Eero Aino Mehmet Ayşe
Zeynep Emre Minh Tuấn Linh Kofi Abebe Tigist Mohammed Leila Reza Nasrin Sipho Thandiwe
Nomvula Gabriel Léa Raphaël Noémie Ángel Beatriz Renée Dagný Þór Ödön Ģirts"""
_LAST_NAMES = """Müller,García,Martínez,Rodríguez,González,López,Hernández,Pérez,Núñez,Côté,
Lefèvre,Dubois,Moreau,Girard,Rossi,Bianchi,Romano,Colombo,Schmidt,Schneider,Fischer,Weber,Wagner,Becker,
Hoffmann,Schäfer,Jensen,Nielsen,Hansen,Larsen,Andersson,Johansson,Nyström,Kowalski,Nowak,
Wiśniewski,Wójcik,Dvořák,Novák,Horváth,Nagy,Popescu,Ionescu,Petrović,Jovanović,Yılmaz,Kaya,
Demir,Çelik,Öztürk,Ivanov,Petrov,Smirnov,Kuznetsova,Papadopoulos,Georgiou,Okafor,Mensah,Osei,
Adeyemi,Kamau,Mwangi,Otieno,Haile,Tesfaye,Diallo,Traoré,Ndiaye,Sow,Khan,Ahmed,Hussain,Rahman,
Sharma,Patel,Singh,Gupta,Iyer,Nguyễn,Trần,Phạm,Chen,Wang,Zhang,Liu,Tanaka,Suzuki,Sato,Kim,
Park,Silva,Santos,Oliveira,Souza,Pereira,Costa,Ferreira,Smith,Johnson,Brown,Taylor,Wilson,
O'Brien,MacDonald,Murphy,Kelly,Cohen,Levi,Haddad,Khoury,Mansour,Nasser,da Silva,van der Berg,
El Amrani,Øster,Strauß,Læssøe"""
CITIES, FIRST_NAMES = _CITIES.split(), _FIRST_NAMES.split()
LAST_NAMES = [name.strip() for name in _LAST_NAMES.split(",")]
#: Names in non-Latin scripts, with the romanized UPN local part the directory gives them.
_NON_LATIN = """王小明|wang.xiaoming,李娜|li.na,張偉|zhang.wei,田中さくら|tanaka.sakura,
김민준|kim.minjun,Дмитрий Иванов|dmitry.ivanov,Ольга Смирнова|olga.smirnova,أحمد حسن|ahmed.hassan,
فاطمة الزهراء|fatima.alzahraa,राहुल शर्मा|rahul.sharma,Γιώργος Παπαδόπουλος|giorgos.papadopoulos,
אורי כהן|uri.cohen,สมชาย ใจดี|somchai.jaidee"""
NON_LATIN_NAMES = [tuple(pair.strip().split("|")) for pair in _NON_LATIN.split(",")]
FOCAL_NAMES = (
    ("Zoë Müller", "zoe.muller", "en"), ("José Ñúñez", "jose.nunez", "en"),
    ("王小明", "wang.xiaoming", "en"), ("Amélie Côté", "amelie.cote", "fr"),
)  # fmt: skip
#: (values, cumulative weights) for :func:`_pick`.
REASONS = (
    ("Resignation", "Retirement", "End of contract", "End of assignment", "Mutual agreement",
     "Transfer to another organization"),
    (30, 50, 80, 90, 95, 100),
)  # fmt: skip
DESK_MODELS = (
    ("Cisco 8845", "Cisco 7841", "Cisco 8865", "Cisco 7821", "Cisco 8851"),
    (40, 75, 85, 95, 100),
)
_FOLD = str.maketrans({"ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "Ae", "ł": "l", "Ł": "L",
                       "đ": "d", "Đ": "D", "ı": "i", "þ": "th", "Þ": "Th"})  # fmt: skip


@dataclass(frozen=True)
class DemoOrganization:
    """What :func:`generate` wrote: the folder, its config and the sizes of the feeds.

    ``accounts`` counts every user object of the Graph export: the licensed
    accounts asked for plus unlicensed guests and resource mailboxes.
    """

    root: Path
    config_path: Path
    accounts: int
    departments: int
    phones: int
    separations: int


@dataclass(frozen=True)
class _Department:
    name: str
    abbr: str
    weight: float
    city: str
    pool: str
    routed: bool  # its pool is its own: [routing.device_pools] maps it to the department
    focal_point: bool


@dataclass(slots=True)
class _Account:
    user: dict[str, Any]
    local: str
    department: _Department
    kind: str
    since: int  # when it went quiet: separation, else last successful use, else creation


class _Moments:
    """Moments relative to ``as_of`` midnight UTC, drawn from the generator's random stream."""

    def __init__(self, rng: random.Random, as_of: date) -> None:
        self.rng = rng
        self.base = calendar.timegm((as_of.year, as_of.month, as_of.day, 0, 0, 0, 0, 0, 0))

    def ago(self, low: int, high: int) -> int:
        """A moment more than ``low`` and less than ``high + 1`` whole days before as_of."""
        return self.base - low * DAY - 1 - int(self.rng.random() * ((high - low + 1) * DAY - 1))


@functools.cache
def _date(days: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(days * DAY))


@functools.cache
def _time(s: int) -> str:
    return f"T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z"


def iso(epoch: int) -> str:
    """Epoch seconds as Graph writes a timestamp: ``2019-12-31T08:30:00Z``."""
    days, seconds = divmod(epoch, DAY)  # few distinct days and times: format each once
    return _date(days) + _time(seconds)


def _day(epoch: int) -> str:
    return _date(epoch // DAY)


def _guid(rng: random.Random) -> str:
    bits = rng.getrandbits(128) & _GUID_MASK | _GUID_V4  # version 4, RFC 4122 variant
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@functools.cache
def ascii_part(name: str) -> str:
    """A name as a UPN part: "Ñúñez" → "nunez", "O'Brien" → "obrien", "da Silva" → "dasilva"."""
    folded = unicodedata.normalize("NFKD", name.translate(_FOLD)).encode("ascii", "ignore")
    return re.sub(r"[^a-z0-9-]", "", folded.decode().lower())


def _pick(rng: random.Random, table: tuple[tuple[str, ...], tuple[int, ...]]) -> str:
    """One value of ``(values, cumulative weights)``."""
    values, cumulative = table
    return values[bisect.bisect(cumulative, rng.random() * cumulative[-1])]


def generate(
    root: Path, *, accounts: int = 60_000, departments: int = 40, seed: int = 2019, as_of: date
) -> DemoOrganization:
    """Write a demo organization with ``accounts`` licensed accounts into ``root``.

    About 3.5% more accounts come on top, unlicensed: guests and resource
    mailboxes. ``root`` is created if needed; a folder that holds other files
    and was not written here is refused (``ConfigError``); in a demo folder only
    the generator's own files are overwritten (the database, outbox and reports
    of earlier runs stay). A missing shipped rate card raises
    ``LicensewatchError``; sizes below 1 raise ``ValueError``.
    """
    if accounts < 1 or departments < 1:
        raise ValueError("accounts and departments must be at least 1")
    root = Path(root)
    _refuse_foreign(root)
    shipped_rates = resources.default_config_dir() / "rate_card.csv"
    if not shipped_rates.is_file():
        raise LicensewatchError(
            f"the shipped rate card {shipped_rates} is missing", hint="reinstall licensewatch"
        )
    # Some 300,000 small acyclic dicts: the cycle collector would only rescan them, again and again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _generate(root, shipped_rates, accounts, departments, seed, as_of)
    finally:
        if collecting:
            gc.enable()


def _generate(
    root: Path, shipped_rates: Path, accounts: int, departments: int, seed: int, as_of: date
) -> DemoOrganization:
    rng = random.Random(seed)
    moments = _Moments(rng, as_of)
    depts = _departments(rng, departments)
    people = _People(rng, moments, depts)
    people.populate(accounts)
    phones = _phones(rng, moments, people)
    _prepare(root, f"seed={seed} accounts={accounts} departments={departments} as_of={as_of}")
    users = sorted((a.user for a in people.accounts), key=lambda u: str(u["id"]))
    _write_pages(root / "exports" / "graph", users)
    _write_json(root / "exports" / "graph" / "subscribedSkus.json", _subscribed_skus(rng, users))
    _write_csv(root / "exports" / "phones.csv", PHONE_COLUMNS, phones)
    # HR exports come out of spreadsheets: a byte-order mark is the usual quirk.
    separation_columns = ("employee_id", "email", "name", "department", "separation_date", "reason")
    _write_csv(
        root / "exports" / "separations.csv", separation_columns, people.separations, bom=True
    )
    shutil.copyfile(shipped_rates, root / "config" / "rate_card.csv")
    _write_csv(
        root / "config" / "focal_points.csv",
        ("department", "email", "name", "cc", "language"),
        _focal_points(rng, depts),
    )
    _write_csv(
        root / "config" / "exemptions.csv",
        ("subject", "reason", "approved_by", "expires_on"),
        _exemptions(moments, people, phones),
    )
    config_path = root / "licensewatch.toml"
    config_path.write_bytes(_config_text(depts).encode("utf-8"))
    return DemoOrganization(
        root=root,
        config_path=config_path,
        accounts=len(users),
        departments=len(depts),
        phones=len(phones),
        separations=len(people.separations),
    )


def _departments(rng: random.Random, count: int) -> list[_Department]:
    table = [tuple(line.split("|")) for line in DEPARTMENTS.splitlines()]
    table += [(f"Country Office {n}", f"CO{n}", "0.5") for n in range(1, count - len(table) + 1)]
    table = table[:count]
    weights = [float(w) * rng.uniform(0.85, 1.15) for _, _, w in table]
    cities = [CITIES[0] if rng.random() < 0.5 else rng.choice(CITIES) for _ in table]
    # The smallest one or two departments have no focal point: the unassigned queue.
    without = 0 if count < 2 else 1 if count < 20 else 2
    smallest = sorted(range(count), key=lambda i: (weights[i], i))[:without]
    # The two largest with a focal point get device pools of their own ([routing.device_pools]).
    largest = [i for i in sorted(range(count), key=lambda i: (-weights[i], i)) if i not in smallest]
    return [
        _Department(
            name=name,
            abbr=abbr,
            weight=weights[i],
            city=cities[i].replace("_", " "),
            pool=f"DP_{cities[i].upper()}" + (f"_{abbr}" if i in largest[:2] else ""),
            routed=i in largest[:2],
            focal_point=i not in smallest,
        )
        for i, (name, abbr, _) in enumerate(table)
    ]


def _spread(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainder; exact sum)."""
    exact = [total * w / sum(weights) for w in weights]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i)):
        if sum(counts) == total:
            break
        counts[i] += 1
    return counts


def _kinds(members: int) -> list[str]:
    """The kind of every member account, in proportions that follow the audit.

    Rare kinds get at least one account, so that a small demo shows every quirk.
    """
    leavers = round(members * 0.045)
    future = round(leavers * 0.1)
    effective = leavers - future
    inactive, never = round(members * 0.028), round(members * 0.013)
    shares = {
        "sep_future": future,
        "sep_active": round(effective * 0.6),
        "sep_inactive": round(effective * 0.25),
        "sep_disabled": effective - round(effective * 0.6) - round(effective * 0.25),
        "failed": max(1, round(inactive * 0.1)),  # inactive, with recent failed attempts
        "never_sentinel": max(1, round(never * 0.3)),  # "0001-01-01T00:00:00Z" everywhere
        "never_blank": max(1, round(never * 0.2)),  # "" everywhere
        "disabled": round(members * 0.01),
        "new": round(members * 0.004),
        "recent": round(members * 0.05),
    }
    shares["inactive"] = inactive - shares["failed"]
    shares["never"] = never - shares["never_sentinel"] - shares["never_blank"]  # no signInActivity
    kinds = [kind for kind, n in shares.items() for _ in range(max(0, n))][:members]
    return kinds + ["active"] * (members - len(kinds))


def _signin(
    rng: random.Random, interactive: int | None, noninteractive: int | None, successful: int | None
) -> dict[str, str]:
    """A signInActivity object; ``None`` is written as Graph writes "never" (sentinel or "")."""

    def stamp(epoch: int | None, never: str) -> tuple[str, str]:
        if epoch is None:
            return never, ""
        return iso(epoch), _guid(rng)[:-2] + "00"

    i, i_id = stamp(interactive, NEVER)
    n, n_id = stamp(noninteractive, NEVER)
    # The last success is usually one of the two sign-ins above: same time, same request.
    if successful is not None and successful == interactive:
        s, s_id = i, i_id
    elif successful is not None and successful == noninteractive:
        s, s_id = n, n_id
    else:
        s, s_id = stamp(successful, "")
    return {
        "lastSignInDateTime": i,
        "lastSignInRequestId": i_id,
        "lastNonInteractiveSignInDateTime": n,
        "lastNonInteractiveSignInRequestId": n_id,
        "lastSuccessfulSignInDateTime": s,
        "lastSuccessfulSignInRequestId": s_id,
    }


def _activity(
    rng: random.Random, at: _Moments, kind: str
) -> tuple[dict[str, str] | None, int, int, bool, int | None]:
    """(signInActivity or None, created, last use, enabled, separation) of one account kind."""
    if kind.startswith("never") or kind == "new":
        created = at.ago(1, 60) if kind == "new" else at.ago(120, 2500)
        if kind in ("never", "new"):  # no signInActivity: the commonest way Graph says "never"
            return None, created, created, True, None
        never = _signin(rng, None, None, None)
        if kind == "never_blank":
            never = dict.fromkeys(never, "")
        return never, created, created, True, None
    separated: int | None = None
    failed: int | None = None
    if kind.startswith("sep_") and kind != "sep_future":
        days = rng.randint(1, 540)
        separated = at.base - days * DAY
        interactive = at.ago(days, days + 4)
        noninteractive = at.ago(0, 6) if kind == "sep_active" else None
    elif kind in ("inactive", "failed", "disabled"):
        days = rng.randint(20, 400) if kind == "disabled" else rng.randint(91, 700)
        interactive = at.ago(days, days)
        noninteractive = at.ago(91, days) if kind != "disabled" and rng.random() < 0.4 else None
        if kind == "failed":
            failed = at.ago(0, 20)  # recent failed attempts: dormant only by successful sign-ins
    else:
        days = rng.randint(31, 89) if kind == "recent" else min(29, int(rng.expovariate(0.2)))
        interactive = at.ago(days, days)
        low = 31 if kind == "recent" else 0
        noninteractive = None if rng.random() < 0.1 else at.ago(low, max(low, min(days, 3)))
        if kind == "sep_future":
            separated = at.base + rng.randint(1, 60) * DAY
    last = max(interactive, noninteractive or interactive)
    # lastSuccessfulSignInDateTime exists only since December 2023: "" on some accounts.
    successful = None if failed is None and rng.random() < 0.04 else last
    created = min(interactive, noninteractive or interactive) - rng.randint(30, 3000) * DAY
    signin = _signin(rng, failed or interactive, noninteractive, successful)
    enabled = kind not in ("disabled", "sep_disabled")
    return signin, created, last, enabled, separated


def _user(
    uid: str,
    upn: str,
    mail: str | None,
    employee_id: str | None,
    name: str,
    department: str | None,
    enabled: bool,
    user_type: str,
    created: int,
    skus: Iterable[str],
    signin: dict[str, str] | None,
) -> dict[str, Any]:
    user: dict[str, Any] = {
        "id": uid,
        "userPrincipalName": upn,
        "mail": mail,
        "employeeId": employee_id,
        "displayName": name,
        "department": department,
        "accountEnabled": enabled,
        "userType": user_type,
        "createdDateTime": iso(created),
        "assignedLicenses": [{"disabledPlans": [], "skuId": sku} for sku in skus],
    }
    if signin is not None:  # Graph leaves the key out for users who never signed in
        user["signInActivity"] = signin
    return user


class _People:
    """Accounts of members, guests and resource mailboxes, and the HR separations."""

    def __init__(self, rng: random.Random, moments: _Moments, depts: list[_Department]) -> None:
        self.rng, self.at, self.depts = rng, moments, depts
        self.accounts: list[_Account] = []
        self.separations: list[tuple[str, ...]] = []
        self.by_kind: dict[str, list[_Account]] = {}
        self.deprovisioned: list[tuple[str, str, _Department, int]] = []
        self._locals: dict[str, int] = {}
        self._visio: set[int] = set()
        self._pbi: set[int] = set()
        self._no_department: set[int] = set()

    def populate(self, licensed: int) -> None:
        """``licensed`` licensed accounts (members, a few guests) plus unlicensed ones."""
        rng = self.rng
        guests = round(licensed * 0.002)
        members = licensed - guests
        gone = round(members * 0.007)  # leavers whose account is already deleted
        span = range(10_000_000, 10_000_000 + 3 * (members + gone) + 10)
        ids = [str(n) for n in rng.sample(span, members + gone)]
        counts = _spread(members, [d.weight for d in self.depts])
        home = [d for d, n in zip(self.depts, counts, strict=True) for _ in range(n)]
        rng.shuffle(home)
        kinds = _kinds(members)
        rng.shuffle(kinds)

        def rare(share: float) -> set[int]:  # membership only; at least one account
            return set(rng.sample(range(members), min(members, max(1, round(members * share)))))

        self._visio, self._pbi, self._no_department = rare(0.004), rare(0.016), rare(0.003)
        for n, (kind, dept, employee_id) in enumerate(zip(kinds, home, ids, strict=False)):
            self._member(n, kind, dept, employee_id)
        for employee_id in ids[members:]:
            self._deprovisioned(rng.choice(home), employee_id)
        for n in range(guests + round(licensed * 0.025)):
            self._guest(licensed=n < guests)
        for n in range(round(licensed * 0.01)):
            self._resource(n)
        self.separations.sort()

    def _name(self) -> tuple[str, str]:
        if self.rng.random() < 0.03:
            display, local = self.rng.choice(NON_LATIN_NAMES)
        else:
            first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
            display, local = f"{first} {last}", f"{ascii_part(first)}.{ascii_part(last)}"
        n = self._locals.get(local, 0) + 1
        self._locals[local] = n
        return display, local if n == 1 else f"{local}{n}"

    def _separation(self, employee_id: str, email: str, name: str, dept: str, when: int) -> None:
        reason = _pick(self.rng, REASONS)
        self.separations.append((employee_id, email, name, dept, _day(when), reason))

    def _member(self, n: int, kind: str, dept: _Department, employee_id: str) -> None:
        rng = self.rng
        display, local = self._name()
        signin, created, last, enabled, separated = _activity(rng, self.at, kind)
        # A second SKU the rate card does not price, or only such a SKU.
        skus = [VISIO] if n in self._visio else [E3, PBI] if n in self._pbi else [E3]
        upn = f"{local}@{DOMAIN}"
        mail = upn if rng.random() < 0.8 else local.title() + f"@{DOMAIN}"
        # Some leavers can be matched by email only: Graph has no employeeId for them.
        keeps_id = rng.random() >= (0.1 if separated is not None else 0.005)
        department = None if n in self._no_department else dept.name
        user = _user(
            _guid(rng), upn, mail, employee_id if keeps_id else None, display, department,
            enabled, "Member", created, skus, signin,
        )  # fmt: skip
        quiet = separated if separated is not None and separated <= self.at.base else last
        account = _Account(user, local, dept, kind, quiet)
        self.accounts.append(account)
        self.by_kind.setdefault(kind, []).append(account)
        if separated is not None:
            email = mail.upper() if rng.random() < 0.05 else mail
            self._separation(employee_id, email, display, dept.name, separated)

    def _deprovisioned(self, dept: _Department, employee_id: str) -> None:
        display, local = self._name()
        left = self.at.base - self.rng.randint(30, 540) * DAY
        self.deprovisioned.append((display, local, dept, left))
        self._separation(employee_id, f"{local}@{DOMAIN}", display, dept.name, left)

    def _guest(self, *, licensed: bool) -> None:
        rng, at = self.rng, self.at
        display, local = self._name()
        partner = rng.choice(("partner.example.net", "consult.example.com", "ngo.example.org"))
        if licensed:
            kind = "active" if rng.random() < 0.8 else "inactive"
            signin, created, *_ = _activity(rng, at, kind)
        elif rng.random() < 0.5:
            signin, created = None, at.ago(1, 2000)
        else:
            used = at.ago(0, 700)
            signin, created = _signin(rng, used, None, used), used - rng.randint(1, 900) * DAY
        dept = rng.choice(self.depts)
        user = _user(
            _guid(rng), f"{local}_{partner}#EXT#@{DOMAIN}", f"{local}@{partner}", None, display,
            dept.name if licensed else None, rng.random() < 0.95, "Guest", created,
            [E3] if licensed else [], signin,
        )  # fmt: skip
        self.accounts.append(_Account(user, local, dept, "guest", created))

    def _resource(self, n: int) -> None:
        dept = self.rng.choice(self.depts)
        if n % 3:
            display, local = f"Conference Room {dept.city} {n}", f"room.{ascii_part(dept.city)}.{n}"
        else:
            display, local = f"{dept.name} shared mailbox", f"shared.{dept.abbr.lower()}.{n}"
        upn = f"{local}@{DOMAIN}"
        created = self.at.ago(200, 3000)
        user = _user(
            _guid(self.rng), upn, upn, None, display, None, False, "Member", created, [], None
        )
        self.accounts.append(_Account(user, local, dept, "resource", created))


def _phone_state(rng: random.Random, at: _Moments, dormant: bool, since: int) -> list[str]:
    """[registration_status, status_changed_at, last_seen_at] in RisPort's spelling."""
    roll = rng.random()
    if dormant and roll < 0.6:
        gone = min(since + rng.randint(0, 10) * DAY, at.base - rng.randrange(1, DAY))
    elif not dormant and roll < 0.05:  # a few live owners' phones sit unplugged, most briefly
        gone = at.ago(1, 60) if roll < 0.035 else at.ago(91, 400)
    else:
        seen = at.base - rng.randrange(60, 20 * 3600)
        return ["Registered", iso(at.ago(1, 200)), iso(seen)]
    return ["UnRegistered", iso(gone), "" if rng.random() < 0.05 else iso(gone)]


def _phones(rng: random.Random, at: _Moments, people: _People) -> list[list[str]]:
    """About one desk phone per member, shared phones without owner, a few unknown owners."""
    used: set[str] = set()  # membership only: never iterated, so order stays deterministic

    def device() -> str:
        while (name := f"SEP{rng.getrandbits(48):012X}") in used:
            pass
        used.add(name)
        return name

    def pool(dept: _Department) -> str:
        return dept.pool if rng.random() < 0.85 else f"DP_{rng.choice(CITIES).upper()}"

    rows: list[list[str]] = []
    for a in people.accounts:
        if a.user["userType"] == "Member" and a.kind != "resource" and rng.random() < 0.92:
            model = _pick(rng, DESK_MODELS)
            state = _phone_state(rng, at, a.kind in DORMANT, a.since)
            name = a.user["displayName"]
            rows.append([device(), name, model, pool(a.department), a.local, *state])
    for n, (display, local, dept, left) in enumerate(people.deprovisioned):
        if n == 0 or rng.random() < 0.2:  # the phone outlived the account: an unknown owner
            model = _pick(rng, DESK_MODELS)
            state = _phone_state(rng, at, True, left)
            rows.append([device(), display, model, pool(dept), local, *state])
    routed = [d for d in people.depts if d.routed]
    for n in range(max(1, round(len(rows) * 0.012))):
        dept = routed[n] if n < len(routed) else rng.choice(people.depts)
        where = f"{dept.city} {rng.randint(1, 9)}-{rng.randint(1, 40):02d}"
        what, model = rng.choice(
            ((f"Conference room {where}", "Cisco 8832"), (f"Lobby {dept.city}", "Cisco 7811"),
             (f"Meeting room {dept.abbr} {where}", "Cisco 7841"),
             (f"Reception {dept.abbr}", "Cisco 8845"))
        )  # fmt: skip
        state = _phone_state(rng, at, rng.random() < 0.3, at.ago(91, 600))
        rows.append([device(), what, model, dept.pool, "", *state])
    numbers = rng.sample(range(200_000, 200_000 + max(100_000, 2 * len(rows))), len(rows))
    for row, number in zip(rows, numbers, strict=True):
        row.insert(5, str(number))
    return sorted(rows)


def _refuse_foreign(root: Path) -> None:
    """Raise ``ConfigError`` unless ``root`` is new, empty or an earlier demo folder."""
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} is a file, not a folder", hint="choose a folder with --dir")
    if root.is_dir() and not (root / MARKER).is_file() and any(root.iterdir()):
        raise ConfigError(
            f"{root} already holds files and is not a licensewatch demo folder",
            hint="choose a new or empty folder with --dir; the demo overwrites only its own folder",
        )


def _prepare(root: Path, stamp: str) -> None:
    """Make ``root`` a demo folder: its subfolders, its marker, no stale users pages."""
    _refuse_foreign(root)  # again: the folder may have changed while generating
    graph = root / "exports" / "graph"
    graph.mkdir(parents=True, exist_ok=True)
    (root / "config").mkdir(exist_ok=True)
    (root / MARKER).write_bytes(
        f"Written by `licensewatch demo` ({stamp}); it overwrites its own files here.\n".encode()
    )
    # Pages of an earlier, larger demo would be read as part of this one.
    for old in graph.glob("users_*.json"):
        if re.fullmatch(r"users_\d+\.json", old.name):
            old.unlink()


def _write_json(path: Path, doc: Any) -> None:
    # Compact UTF-8, as Graph sends it; dumps (not dump) takes the C encoder's fast path.
    path.write_bytes(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _write_csv(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[str]], *, bom: bool = False
) -> None:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _skiptoken(user: dict[str, Any]) -> str:
    # Opaque to clients; shaped like Graph's (base64 of a cursor naming the last user).
    cursor = f"{user['userPrincipalName']})User_{user['id']}".encode()
    return base64.urlsafe_b64encode(b"DSpt\x02\x00\x01\x00\x00\x00#:" + cursor).decode().rstrip("=")


def _write_pages(folder: Path, users: list[dict[str, Any]]) -> None:
    """``users_0001.json`` …: 500 users a page, a nextLink on every page but the last."""
    # Graph may end on an empty page; the export keeps one to exercise that.
    pages = [users[i : i + PAGE_SIZE] for i in range(0, len(users), PAGE_SIZE)] + [[]]
    for n, page in enumerate(pages, start=1):
        doc: dict[str, Any] = {"@odata.context": f"{GRAPH}/$metadata#users({SELECT})"}
        if n < len(pages):
            query = f"$select={SELECT}&$top={PAGE_SIZE}&$skiptoken={_skiptoken(page[-1])}"
            doc["@odata.nextLink"] = f"{GRAPH}/users?{query}"
        doc["value"] = page
        _write_json(folder / f"users_{n:04d}.json", doc)


def _subscribed_skus(rng: random.Random, users: list[dict[str, Any]]) -> dict[str, Any]:
    """The answer of ``GET /v1.0/subscribedSkus``, consumedUnits counted from the users."""
    consumed = dict.fromkeys(SKUS, 0)
    for user in users:
        for assigned in user["assignedLicenses"]:
            consumed[assigned["skuId"]] += 1
    tenant = _guid(rng)
    value = []
    for sku, (part, plans) in SKUS.items():
        words = plans.split()
        used = consumed[sku]
        value.append(
            {
                "accountName": "Demo Organization",
                "accountId": tenant,
                "appliesTo": "User",
                "capabilityStatus": "Enabled",
                "consumedUnits": used,
                "id": f"{tenant}_{sku}",
                "prepaidUnits": {
                    "enabled": max(25, -(-used * 105 // 5000) * 50),
                    "lockedOut": 0,
                    "suspended": 0,
                    "warning": 0,
                },
                "servicePlans": [
                    {
                        "servicePlanId": plan_id,
                        "servicePlanName": name,
                        "provisioningStatus": "Success",
                        "appliesTo": "User",
                    }
                    for name, plan_id in zip(words[::2], words[1::2], strict=True)
                ],
                "skuId": sku,
                "skuPartNumber": part,
                "subscriptionIds": [_guid(rng)],
            }
        )
    return {"@odata.context": f"{GRAPH}/$metadata#subscribedSkus", "value": value}


def _focal_points(rng: random.Random, depts: list[_Department]) -> list[list[str]]:
    """One focal point per department but the smallest ones (their findings go unassigned)."""
    named = iter(FOCAL_NAMES)
    rows = []
    for dept in depts:
        if not dept.focal_point:
            continue
        name, local, language = next(named, ("", "", ""))
        if not name:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            name, local = f"{first} {last}", f"{ascii_part(first)}.{ascii_part(last)}"
            language = "fr" if rng.random() < 0.25 else "en"
        office, head = (f"{who}.{dept.abbr.lower()}@{DOMAIN}" for who in ("admin", "director"))
        roll = rng.random()
        cc = "" if roll < 0.6 else office if roll < 0.9 else f"{office};{head}"
        rows.append([dept.name, f"{local}@{DOMAIN}", name, cc, language])
    return sorted(rows, key=lambda row: row[0].casefold())


def _exemptions(at: _Moments, people: _People, phones: list[list[str]]) -> list[list[str]]:
    """A handful of dated exemptions of dormant accounts and phones; the last one expired."""

    def upn(kind: str, n: int = 0) -> str:
        found = people.by_kind.get(kind, [])
        return str(found[n].user["userPrincipalName"]) if len(found) > n else ""

    disabled = {a.local for a in people.by_kind.get("disabled", [])}
    spare = next((row[0] for row in phones if row[4] in disabled), "")
    lobby = next((row[0] for row in phones if not row[4] and row[6] != "Registered"), "")
    plan = (
        (upn("inactive"), "Extended sick leave; back next quarter", "Director, HR", 120),
        (upn("never"), "Mailbox kept under legal hold", "Legal Counsel", 365),
        (upn("sep_active"), "Handover to the successor", "Director, Finance", 45),
        (lobby, "Emergency phone required by the building safety plan", "Chief, Security", 730),
        (spare, "Spare phone of the duty officer", "Chief, ICT Operations", 180),
        (upn("inactive", 1), "Sabbatical", "Director, HR", -15),
    )
    return [[s, why, who, _day(at.base + days * DAY)] for s, why, who, days in plan if s]


_CONFIG = """\
# licensewatch configuration of the demo organization, written by `licensewatch demo`.
# A complete config to copy from: config/licensewatch.example.toml documents every key.
# Relative paths resolve against the folder this file is in.

[database]
url = "sqlite:///licensewatch.db"

[policy]
inactive_days = 90              # INACTIVE / NEVER_SIGNED_IN after this many days without a sign-in
phone_inactive_days = 90        # PHONE_UNREGISTERED after this many days not registered
separation_grace_days = 0       # SEPARATED from the HR separation date on
activity_signal = "successful"  # lastSuccessfulSignInDateTime when present, else the latest attempt
max_dormant_fraction = 0.25     # safety brake: send nothing when more look dormant

[sources.accounts]
kind = "graph-export"           # users_*.json pages of GET /v1.0/users + subscribedSkus.json
path = "exports/graph"

[sources.phones]
kind = "csv"
path = "exports/phones.csv"
owner_match = "upn_local_part"  # owner_user_id is the part of the UPN before the @

[sources.separations]
kind = "csv"
path = "exports/separations.csv"

[rate_card]
path = "config/rate_card.csv"

[focal_points]
path = "config/focal_points.csv"

[exemptions]
path = "config/exemptions.csv"

[mail]
transport = "directory"         # one .eml per department in `directory`; nothing is sent
directory = "outbox"
from = "licensewatch@example.org"
organization = "Demo Organization"

[reports]
dir = "reports"

[routing.device_pools]
# Phones without an owner in these pools go to the department; others to the unassigned queue.
{routes}
"""


def _config_text(depts: list[_Department]) -> str:
    # JSON strings are valid TOML basic strings (ASCII, \\u escapes).
    routes = [f"{json.dumps(d.pool)} = {json.dumps(d.name)}" for d in depts if d.routed]
    return _CONFIG.format(routes="\n".join(routes))
