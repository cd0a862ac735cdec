"""The people of the demo organization: member, guest and resource-mailbox accounts, and leavers.

:class:`People` draws every account (its kind, name, department, licences and
sign-in activity) and records the HR separations of leavers as it goes.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from licensewatch.demo.activity import account_activity, member_kinds, sign_in_activity
from licensewatch.demo.common import DAY, Moments, guid, iso
from licensewatch.demo.hr import separation
from licensewatch.demo.tables import (
    DOMAIN,
    E3,
    FIRST_NAMES,
    LAST_NAMES,
    NON_LATIN_NAMES,
    PBI,
    VISIO,
    Department,
    ascii_part,
)


@dataclass(slots=True)
class Account:
    """One user object of the Graph export, with what the generator knows about it."""

    user: dict[str, Any]
    local: str
    department: Department
    kind: str
    since: int  # when it went quiet: separation, else last successful use, else creation


def spread(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainder; exact sum)."""
    exact = [total * w / sum(weights) for w in weights]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i)):
        if sum(counts) == total:
            break
        counts[i] += 1
    return counts


def graph_user(
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
    """A user object as ``GET /v1.0/users`` returns it with the demo's ``$select``."""
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


class People:
    """Accounts of members, guests and resource mailboxes, and the HR separations."""

    def __init__(self, rng: random.Random, moments: Moments, depts: list[Department]) -> None:
        self.rng, self.at, self.depts = rng, moments, depts
        self.accounts: list[Account] = []
        self.separations: list[tuple[str, ...]] = []
        self.by_kind: dict[str, list[Account]] = {}
        self.deprovisioned: list[tuple[str, str, Department, int]] = []
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
        counts = spread(members, [d.weight for d in self.depts])
        home = [d for d, n in zip(self.depts, counts, strict=True) for _ in range(n)]
        rng.shuffle(home)
        kinds = member_kinds(members)
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
        self.separations.append(separation(self.rng, employee_id, email, name, dept, when))

    def _member(self, n: int, kind: str, dept: Department, employee_id: str) -> None:
        rng = self.rng
        display, local = self._name()
        signin, created, last, enabled, separated = account_activity(rng, self.at, kind)
        # A second SKU the rate card does not price, or only such a SKU.
        skus = [VISIO] if n in self._visio else [E3, PBI] if n in self._pbi else [E3]
        upn = f"{local}@{DOMAIN}"
        mail = upn if rng.random() < 0.8 else local.title() + f"@{DOMAIN}"
        # Some leavers can be matched by email only: Graph has no employeeId for them.
        keeps_id = rng.random() >= (0.1 if separated is not None else 0.005)
        department = None if n in self._no_department else dept.name
        user = graph_user(
            guid(rng), upn, mail, employee_id if keeps_id else None, display, department,
            enabled, "Member", created, skus, signin,
        )  # fmt: skip
        quiet = separated if separated is not None and separated <= self.at.base else last
        account = Account(user, local, dept, kind, quiet)
        self.accounts.append(account)
        self.by_kind.setdefault(kind, []).append(account)
        if separated is not None:
            email = mail.upper() if rng.random() < 0.05 else mail
            self._separation(employee_id, email, display, dept.name, separated)

    def _deprovisioned(self, dept: Department, employee_id: str) -> None:
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
            signin, created, *_ = account_activity(rng, at, kind)
        elif rng.random() < 0.5:
            signin, created = None, at.ago(1, 2000)
        else:
            used = at.ago(0, 700)
            signin = sign_in_activity(rng, used, None, used)
            created = used - rng.randint(1, 900) * DAY
        dept = rng.choice(self.depts)
        user = graph_user(
            guid(rng), f"{local}_{partner}#EXT#@{DOMAIN}", f"{local}@{partner}", None, display,
            dept.name if licensed else None, rng.random() < 0.95, "Guest", created,
            [E3] if licensed else [], signin,
        )  # fmt: skip
        self.accounts.append(Account(user, local, dept, "guest", created))

    def _resource(self, n: int) -> None:
        dept = self.rng.choice(self.depts)
        if n % 3:
            display, local = f"Conference Room {dept.city} {n}", f"room.{ascii_part(dept.city)}.{n}"
        else:
            display, local = f"{dept.name} shared mailbox", f"shared.{dept.abbr.lower()}.{n}"
        upn = f"{local}@{DOMAIN}"
        created = self.at.ago(200, 3000)
        user = graph_user(
            guid(self.rng), upn, upn, None, display, None, False, "Member", created, [], None
        )
        self.accounts.append(Account(user, local, dept, "resource", created))
