"""Reconcile accounts, licences, phones and HR separations into dormant findings.

Pure: frames in, frames out; ``as_of`` (UTC midnight) is passed in, no clock or
file is read. Every rule is a whole-column operation (a million accounts take
seconds); keys are compared in NFC, case-folded and stripped (``model.fold_key``).

**Activity.** ``last_activity_at`` is, with ``policy.activity_signal``
"successful", the last successful sign-in when known, else the later of the
last interactive and non-interactive sign-ins; with "any", that later one.

**Accounts.** An account is dormant when a reason applies: SEPARATED (an HR
separation matched by employee id, else by e-mail against mail, else against
UPN, whose date + ``separation_grace_days`` is on or before ``as_of``; the
latest such one counts, once ``licensewatch.rules.leavers`` has set aside re-hired
people, duplicates and separations still to come), INACTIVE (activity strictly older than ``as_of -
inactive_days``), NEVER_SIGNED_IN (no activity, created before that day or
creation date unknown) or DISABLED_LICENSED. Guests are ignored unless
licensed. Every licence of a dormant account is one finding, routed to the
account's department, else the separation's, else ``model.UNASSIGNED``.

**Phones.** A phone is a finding when it has no owner (no owner_user_id, no
account matches it, or several do), its owner account is dormant, or it is not
registered and was last seen (else last changed status) before ``as_of -
phone_inactive_days``. It is routed to its owner's department, else its device
pool's (``device_pool_departments``; a key ``<cluster>/<pool>`` is that
cluster's pool only), else ``model.UNASSIGNED``. Its
``last_activity_at`` is the phone's own ``last_seen_at``.

**Exemptions** in force (``expires_on`` on or after ``as_of``; none when the
date is missing) remove the licence findings of the UPN they name, and keep
that account's phones from PHONE_OWNER_DORMANT; or remove the phone they name.

**dormant_since** is when the avoidable cost started to accrue (finance reads
"accrued avoidable cost since dormant_since"): the earliest start among the
reasons that apply:

- SEPARATED: separation_date + separation_grace_days
- INACTIVE: last_activity_at
- NEVER_SIGNED_IN: created_at (unknown: no start)
- DISABLED_LICENSED: last_activity_at, else created_at
- PHONE_UNREGISTERED: last_seen_at, else status_changed_at
- PHONE_OWNER_DORMANT: the owner account's dormant_since
- PHONE_NO_OWNER: no start

A licence finding whose reasons give no start is dormant since ``as_of``; a
phone whose only reason is PHONE_NO_OWNER gets NaT, which the pipeline fills
with the day the phone was first seen dormant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import reduce
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import pandas as pd

from licensewatch import model
from licensewatch.config import ACTIVITY_SIGNALS, Policy
from licensewatch.model import Reason
from licensewatch.rules.columns import (
    NAT,
    AccountKeys,
    Bools,
    Ints,
    Stamps,
    at,
    blank_to_na,
    first_of,
    fold,
    instant,
    match,
    per_value,
    ranks,
    stamps,
    timestamps,
)
from licensewatch.rules.leavers import (
    MATCHED_BY_EMAIL,
    current_leavers,
    data_warnings,
    matched_by_email,
)
from licensewatch.rules.separations import match_separations

#: How a phone's owner_user_id is compared with accounts, by ``owner_match``.
OWNER_MATCHES: Final = ("upn", "upn_local_part", "mail", "employee_id")
_BIT: Final = {reason: 1 << i for i, reason in enumerate(model.REASON_ORDER)}
#: The reasons text of every combination of reason bits, indexed by the bits.
_TEXT: Final = np.array(
    [
        ";".join(r.value for r in model.REASON_ORDER if bits & _BIT[r]) or None
        for bits in range(1 << len(model.REASON_ORDER))
    ],
    dtype=object,
)
_NO_POOLS: Final[Mapping[str, str]] = MappingProxyType({})


@dataclass(frozen=True)
class ReconcileResult:
    """Findings (FINDINGS, sorted), run-summary counters, and effective leavers with no account.

    ``matched_by_email``: licensed accounts taken for a leaver by e-mail only
    (``leavers.MATCHED_BY_EMAIL``); ``warnings``: data warnings as
    "<config table>: <what>" lines (``--strict`` makes them errors).
    """

    findings: pd.DataFrame
    counts: Mapping[str, int]
    unmatched_leavers: pd.DataFrame
    matched_by_email: pd.DataFrame = field(default_factory=lambda: model.empty(MATCHED_BY_EMAIL))
    warnings: tuple[str, ...] = ()


def _check_arguments(owner_match: str, policy: Policy) -> None:
    if owner_match not in OWNER_MATCHES:
        raise ValueError(f"owner_match must be one of {OWNER_MATCHES}, not {owner_match!r}")
    if policy.activity_signal not in ACTIVITY_SIGNALS:
        raise ValueError(f"activity_signal must be one of {ACTIVITY_SIGNALS}")


def _exempted(
    keys: AccountKeys, ph: pd.DataFrame, subjects: pd.Series, counts: dict[str, int]
) -> tuple[pd.Series, np.ndarray, np.ndarray, pd.Series]:
    """Phone keys, which accounts and phones an exemption names, and the subjects it found."""
    exempt_account = keys["upn"].isin(subjects).to_numpy(bool)
    device = model.phone_keys(ph)
    exempt_phone = device.isin(subjects).to_numpy(bool)
    known = pd.concat([keys["upn"][exempt_account], device[exempt_phone]])
    counts["exemptions_unknown_subject"] = int((~subjects.isin(known)).sum())
    return device, exempt_account, exempt_phone, known


def reconcile(
    accounts: pd.DataFrame,
    licenses: pd.DataFrame,
    phones: pd.DataFrame,
    separations: pd.DataFrame,
    exemptions: pd.DataFrame,
    *,
    policy: Policy,
    as_of: pd.Timestamp,
    owner_match: str = "upn",
    device_pool_departments: Mapping[str, str] = _NO_POOLS,
) -> ReconcileResult:
    """Find the dormant licences and phones as of ``as_of`` (rules in the module docstring)."""
    _check_arguments(owner_match, policy)
    day = instant(as_of)
    acc = model.conform(accounts, model.ACCOUNTS)
    lic = model.conform(licenses, model.ACCOUNT_LICENSES)
    ph = model.conform(phones, model.PHONES)
    keys = AccountKeys(acc)
    counts: dict[str, int] = {"accounts": len(acc), "phones": len(ph)}

    subjects = _exemption_subjects(model.conform(exemptions, model.EXEMPTIONS), day, counts)
    device, exempt_account, exempt_phone, known = _exempted(keys, ph, subjects, counts)

    holder = _holders(acc, lic, keys, counts)
    licensed = np.bincount(holder[holder >= 0], minlength=len(acc)) > 0
    # Rehires, duplicates and future dates first: one record per person who left.
    current = current_leavers(separations, as_of=as_of, grace_days=policy.separation_grace_days)
    seps = current.leavers
    sep_date, sep_dept, leavers, pairs = match_separations(seps, keys, policy, day, counts)
    counts.update(current.counts)
    email_only = pairs[pairs["by_email"].to_numpy(bool) & licensed[pairs["account"].to_numpy()]]
    by_email = matched_by_email(acc, seps, email_only["account"], email_only["row"])
    counts["licensed_leavers_matched_by_email"] = len(by_email)
    bits, since, activity = _account_reasons(acc, licensed, sep_date, policy, day, counts)
    department = per_value(acc["department"], blank_to_na).fillna(sep_dept)
    owners = _Owners(acc, department, np.where(exempt_account, 0, bits), since, activity, sep_date)

    dormant = at(bits != 0, holder, False)
    exempted = dormant & at(exempt_account, holder, False)
    rows = np.flatnonzero(dormant & ~exempted)
    licence_findings = _licence_findings(lic, rows, holder[rows], owners)
    counts["dormant_accounts"] = len(np.unique(holder[rows]))
    counts["license_findings"] = len(licence_findings)

    pools = {model.fold_key(str(k)): v for k, v in device_pool_departments.items()}
    owner = _owners_of_phones(ph, keys[owner_match], counts)
    phone_findings, phones_exempted = _phone_findings(
        ph, device, exempt_phone, owner, owners, pools, policy, day, counts
    )
    counts["phone_findings"] = len(phone_findings)
    counts["exempted_findings"] = int(exempted.sum()) + phones_exempted

    findings = pd.concat([licence_findings, phone_findings], ignore_index=True)
    counts.update(_reason_counts(findings["reasons"]))
    findings = findings.take(_order(findings))
    warnings = data_warnings(leavers, by_email, subjects[~subjects.isin(known)].tolist())
    return ReconcileResult(
        model.conform(findings, model.FINDINGS), counts, leavers, by_email, warnings
    )


@dataclass(frozen=True)
class _Owners:
    """Per-account columns that findings take from the account they belong to."""

    accounts: pd.DataFrame
    department: pd.Series  # NA when neither the account nor HR names one
    bits: Ints  # reason bits; 0 when not dormant or exempted
    since: Stamps
    activity: Stamps
    sep_date: Stamps

    def take(self, column: str, pos: Ints) -> Any:
        """``column`` of the accounts at ``pos`` (NA where pos is -1)."""
        return self.accounts[column].array.take(pos, allow_fill=True)


def _exemption_subjects(
    exemptions: pd.DataFrame, day: np.datetime64, counts: dict[str, int]
) -> pd.Series:
    """Case-folded subjects of the exemptions in force (``expires_on`` is their last day)."""
    in_force = stamps(exemptions["expires_on"]) >= day
    counts["expired_exemptions"] = int((~in_force).sum())
    return fold(exemptions["subject"])[in_force].dropna().drop_duplicates()


def _holders(
    acc: pd.DataFrame, lic: pd.DataFrame, keys: AccountKeys, counts: dict[str, int]
) -> Ints:
    """Each licence's account position, -1 when none. Ids from one directory match
    exactly, so only the licences that do not are compared case-folded."""
    holder, _ = match(acc["account_id"], lic["account_id"])
    loose = (holder < 0) & lic["account_id"].notna().to_numpy(bool)
    if loose.any():
        holder[loose] = match(keys["account_id"], fold(lic["account_id"][loose]))[0]
    counts["licenses_without_account"] = int((holder < 0).sum())
    return holder


def _account_reasons(
    acc: pd.DataFrame,
    licensed: Bools,
    sep_date: Stamps,
    policy: Policy,
    day: np.datetime64,
    counts: dict[str, int],
) -> tuple[Ints, Stamps, Stamps]:
    """Every account's reason bits (0 when not dormant), dormant_since and last activity."""
    guest = per_value(acc["user_type"], model.norm_key).eq("guest").fillna(False).to_numpy(bool)
    counts["licensed_accounts"] = int(licensed.sum())
    counts["guests_ignored"] = int((guest & ~licensed).sum())
    activity = np.fmax(stamps(acc["last_interactive_at"]), stamps(acc["last_noninteractive_at"]))
    if policy.activity_signal == "successful":
        successful = stamps(acc["last_successful_at"])
        activity = np.where(np.isnat(successful), activity, successful)
    created = stamps(acc["created_at"])
    grace = np.timedelta64(policy.separation_grace_days, "D")
    cutoff = day - np.timedelta64(policy.inactive_days, "D")
    never = np.isnat(activity) & (np.isnat(created) | (created < cutoff))
    disabled = acc["account_enabled"].eq(False).fillna(False).to_numpy(bool) & licensed
    rules: list[tuple[Reason, Bools, Stamps]] = [
        (Reason.SEPARATED, ~np.isnat(sep_date), sep_date + grace),
        (Reason.INACTIVE, activity < cutoff, activity),
        (Reason.NEVER_SIGNED_IN, never, created),
        (Reason.DISABLED_LICENSED, disabled, np.where(np.isnat(activity), created, activity)),
    ]
    in_scope = ~guest | licensed
    bits = np.zeros(len(acc), np.int64)
    starts = [np.full(len(acc), NAT)]
    for reason, applies, start in rules:
        bits |= np.where(applies & in_scope, _BIT[reason], 0)
        starts.append(np.where(applies & in_scope, start, NAT))
    since = reduce(np.fmin, starts)
    return bits, np.where(np.isnat(since) & (bits != 0), day, since), activity


def _licence_findings(lic: pd.DataFrame, rows: Ints, pos: Ints, owners: _Owners) -> pd.DataFrame:
    account_id = owners.accounts["account_id"].to_numpy(object)[pos]
    sku = lic["sku_id"].fillna("").to_numpy(object)[rows]
    upn = owners.take("upn", pos)
    frame = pd.DataFrame(
        {
            "resource_id": pd.array("license:" + account_id + ":" + sku, dtype=model.STRING),
            "resource_kind": model.ResourceKind.LICENSE.value,
            "subject": upn,
            "account_id": account_id,
            "owner_upn": upn,
            "display_name": owners.take("display_name", pos),
            "department": first_of(owners.department.array.take(pos), default=model.UNASSIGNED),
            "reasons": _TEXT[owners.bits[pos]],
            "dormant_since": timestamps(owners.since[pos]),
            "last_activity_at": timestamps(owners.activity[pos]),
            "separation_date": timestamps(owners.sep_date[pos]),
            "match_key": lic["sku_part_number"].array.take(rows),
        }
    )
    # The same SKU listed twice for one account is one licence.
    return frame.drop_duplicates("resource_id")


def _owners_of_phones(ph: pd.DataFrame, account_key: pd.Series, counts: dict[str, int]) -> Ints:
    """Each phone's owner account position; -1 when none, unknown or ambiguous."""
    owner_id = fold(ph["owner_user_id"])
    first, matches = match(account_key, owner_id)
    counts["phones_without_owner"] = int(owner_id.isna().sum())
    counts["phones_owner_not_found"] = int((owner_id.notna().to_numpy(bool) & (matches == 0)).sum())
    counts["phones_owner_ambiguous"] = int((matches >= 2).sum())
    return np.where(matches == 1, first, -1)


def _phone_findings(
    ph: pd.DataFrame,
    device: pd.Series,
    exempt: Bools,
    owner: Ints,
    owners: _Owners,
    pools: Mapping[str, str],
    policy: Policy,
    day: np.datetime64,
    counts: dict[str, int],
) -> tuple[pd.DataFrame, int]:
    """The phone findings, and how many findings exemptions removed."""
    status = per_value(ph["registration_status"], model.norm_key)
    not_registered = status.ne("registered").fillna(True).to_numpy(bool)
    seen = stamps(ph["last_seen_at"])
    stamp = np.where(np.isnat(seen), stamps(ph["status_changed_at"]), seen)
    counts["phones_unregistered_undated"] = int((not_registered & np.isnat(stamp)).sum())
    unregistered = not_registered & (stamp < day - np.timedelta64(policy.phone_inactive_days, "D"))
    owner_dormant = at(owners.bits != 0, owner, False)
    bits = (
        np.where(unregistered, _BIT[Reason.PHONE_UNREGISTERED], 0)
        | np.where(owner_dormant, _BIT[Reason.PHONE_OWNER_DORMANT], 0)
        | np.where(owner < 0, _BIT[Reason.PHONE_NO_OWNER], 0)
    )
    named = device.notna().to_numpy(bool)  # a phone with no name cannot be told apart
    counts["phones_unnamed"] = int((~named).sum())
    rows = np.flatnonzero((bits != 0) & named & ~exempt)
    pos = owner[rows]
    since = np.fmin(
        np.where(unregistered, stamp, NAT)[rows],
        np.where(owner_dormant[rows], at(owners.since, pos, NAT), NAT),
    )
    pool_department = _pool_departments(ph, pools)
    frame = pd.DataFrame(
        {
            "resource_id": pd.array("phone:" + device.to_numpy(object)[rows], dtype=model.STRING),
            "resource_kind": model.ResourceKind.PHONE.value,
            "subject": ph["device_name"].array.take(rows),
            "account_id": owners.take("account_id", pos),
            "owner_upn": owners.take("upn", pos),
            "display_name": first_of(
                owners.take("display_name", pos), ph["description"].array.take(rows)
            ),
            "department": first_of(
                owners.department.array.take(pos, allow_fill=True),
                pool_department.array.take(rows),
                default=model.UNASSIGNED,
            ),
            "reasons": _TEXT[bits[rows]],
            "dormant_since": timestamps(since),
            "last_activity_at": timestamps(seen[rows]),
            "separation_date": timestamps(at(owners.sep_date, pos, NAT)),
            "match_key": ph["model"].array.take(rows),
            "cluster": ph["cluster"].array.take(rows),
        }
    )
    exempted = int(((bits != 0) & named & exempt).sum())
    return frame.drop_duplicates("resource_id"), exempted


def _pool_departments(ph: pd.DataFrame, pools: Mapping[str, str]) -> pd.Series:
    """Each phone's pool department: its cluster's ``<cluster>/<pool>`` first, else the pool's."""
    bare = per_value(ph["device_pool"], lambda s: model.norm_key(s).map(pools))
    cluster = model.norm_key(ph["cluster"])
    if cluster.isna().all():
        return bare
    qualified = (cluster + "/" + model.norm_key(ph["device_pool"])).map(pools)
    return qualified.astype(model.STRING).fillna(bare.astype(model.STRING))


def _reason_counts(reasons: pd.Series) -> dict[str, int]:
    """``reason.<CODE>``: how many findings carry each reason."""
    codes, texts = pd.factorize(reasons)
    per_text = np.bincount(codes[codes >= 0], minlength=len(texts))
    return {
        f"reason.{reason.value}": sum(
            int(n) for text, n in zip(texts, per_text, strict=True) if reason in text.split(";")
        )
        for reason in model.REASON_ORDER
    }


def _order(findings: pd.DataFrame) -> Ints:
    """Rows by department, resource_kind, subject, then resource_id (code-point order)."""
    department = pd.factorize(findings["department"], sort=True)[0]
    kind = pd.factorize(findings["resource_kind"], sort=True)[0]
    subject = ranks(findings["subject"])
    # resource_id only orders findings that share a subject: rank just those.
    tied = np.bincount(subject)[subject] > 1
    tie_break = np.zeros(len(findings), np.int64)
    tie_break[tied] = ranks(findings["resource_id"][tied])
    return np.lexsort((tie_break, subject, kind, department)).astype(np.int64)
