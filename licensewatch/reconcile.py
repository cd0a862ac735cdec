"""Frames + policy + as_of → findings. Pure: no clock, no I/O, vectorised.

An account is dormant when any of these applies (DESIGN.md reason codes):
``SEPARATED`` (HR separation date + grace on or before ``as_of``, matched by
employee id, else by email against mail, else against UPN), ``INACTIVE`` (last
activity older than ``inactive_days``), ``NEVER_SIGNED_IN`` (no activity and
created more than ``inactive_days`` ago, or creation unknown) and
``DISABLED_LICENSED`` (disabled yet licensed). Every licence a dormant account
holds is one finding. A phone is dormant when its owner account is dormant,
when it has no owner, or when it has not been registered for more than
``phone_inactive_days``.

``dormant_since`` is the earliest day a reason started: the separation date
plus grace, the last activity, the creation date (never signed in), the last
activity or creation (disabled), the last registration (phones), the owner's
``dormant_since`` (phones of dormant owners). Where nothing gives a date it is
``as_of`` for accounts, and NaT for an ownerless phone with no dates (the
pipeline fills it from the day we first saw it dormant). Finance reads the
accrued avoidable cost as "since dormant_since".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from licensewatch import model
from licensewatch.config import Policy
from licensewatch.model import Reason

IN_USE = ("registered", "partially_registered")
OWNER_MATCHES = ("upn", "upn_local_part", "mail", "employee_id")


@dataclass(frozen=True)
class ReconcileResult:
    """Findings, named counters for the run summary, and leavers that match no account."""

    findings: pd.DataFrame
    counts: Mapping[str, int]
    unmatched_leavers: pd.DataFrame = field(default_factory=lambda: model.empty(model.SEPARATIONS))


def _latest(*columns: pd.Series) -> pd.Series:
    """Row-wise latest timestamp; NaT where all are NaT."""
    return pd.concat(columns, axis=1).max(axis=1).astype(model.DATETIME)


def _earliest(index: pd.Index, starts: list[tuple[np.ndarray, pd.Series]]) -> pd.Series:
    """Row-wise earliest of the start dates whose reason applies; NaT where none gives one."""
    columns = [dates.where(pd.Series(applies, index=index)) for applies, dates in starts]
    if not columns:
        return pd.Series(pd.NaT, index=index, dtype=model.DATETIME)
    return pd.concat(columns, axis=1).min(axis=1).astype(model.DATETIME)


def _reasons(flags: Mapping[Reason, np.ndarray], size: int) -> np.ndarray:
    """';'-joined codes in REASON_ORDER for each row."""
    text = np.full(size, "", dtype=object)
    for reason in model.REASON_ORDER:
        if reason in flags:
            text = text + np.where(flags[reason], reason.value + ";", "")
    return pd.Series(text, dtype=object).str[:-1].to_numpy(dtype=object) if size else text


def _flag(series: pd.Series) -> np.ndarray:
    return series.fillna(False).to_numpy(dtype=bool)


def _latest_per_key(keys: pd.Series, dates: pd.Series) -> pd.Series:
    """key → position (in ``keys``) of the row with the latest date, for non-NA keys."""
    frame = pd.DataFrame({"key": keys, "date": dates, "pos": np.arange(len(keys))})
    frame = frame[frame["key"].notna()].sort_values(["date", "pos"], ascending=[False, False])
    return frame.drop_duplicates("key").set_index("key")["pos"]


@dataclass(frozen=True)
class _Accounts:
    """Per-account facts the licence and phone rules share (aligned with the accounts frame)."""

    frame: pd.DataFrame
    licensed: np.ndarray
    exempt: np.ndarray
    dormant: np.ndarray
    flags: dict[Reason, np.ndarray]
    dormant_since: pd.Series
    last_activity: pd.Series
    separation_date: pd.Series
    department: pd.Series


def _match_separations(
    accounts: pd.DataFrame, effective: pd.DataFrame
) -> tuple[pd.Series, np.ndarray]:
    """Position in ``effective`` of each account's separation (NaN if none), and by-email flags."""
    by_id = _latest_per_key(model.norm_key(effective["employee_id"]), effective["separation_date"])
    by_email = _latest_per_key(model.norm_key(effective["email"]), effective["separation_date"])
    via_id = model.norm_key(accounts["employee_id"]).map(by_id)
    via_mail = model.norm_key(accounts["mail"]).map(by_email)
    via_upn = model.norm_key(accounts["upn"]).map(by_email)
    position = via_id.fillna(via_mail).fillna(via_upn)
    by_email_only = (via_id.isna() & position.notna()).to_numpy()
    return position, by_email_only


def _assess_accounts(
    accounts: pd.DataFrame,
    licenses: pd.DataFrame,
    effective: pd.DataFrame,
    exempt_subjects: pd.Index,
    policy: Policy,
    as_of: pd.Timestamp,
) -> tuple[_Accounts, pd.Series, np.ndarray]:
    acc = accounts.reset_index(drop=True)
    attempt = _latest(acc["last_interactive_at"], acc["last_noninteractive_at"])
    if policy.activity_signal == "successful":
        last = acc["last_successful_at"].where(acc["last_successful_at"].notna(), attempt)
    else:
        last = attempt
    last = last.astype(model.DATETIME)
    licensed = acc["account_id"].isin(licenses["account_id"]).to_numpy()
    exempt = model.norm_key(acc["upn"]).isin(exempt_subjects).to_numpy()

    position, by_email_only = _match_separations(acc, effective)
    matched = position.notna().to_numpy()
    taken = position.fillna(-1).astype(int).to_numpy()
    sep_date = (
        effective["separation_date"].reset_index(drop=True).reindex(taken).reset_index(drop=True)
    )
    sep_date = sep_date.where(pd.Series(matched)).astype(model.DATETIME)
    sep_department = (
        effective["department"].reset_index(drop=True).reindex(taken).reset_index(drop=True)
    ).where(pd.Series(matched))

    cutoff = as_of - pd.Timedelta(days=policy.inactive_days)
    created = acc["created_at"]
    grace = pd.Timedelta(days=policy.separation_grace_days)
    flags = {
        Reason.SEPARATED: matched,
        Reason.INACTIVE: _flag(last.notna() & (last < cutoff)),
        Reason.NEVER_SIGNED_IN: _flag(last.isna() & (created.isna() | (created < cutoff))),
        Reason.DISABLED_LICENSED: _flag(acc["account_enabled"] == False) & licensed,  # noqa: E712
    }
    dormant = np.logical_or.reduce(list(flags.values()))
    since = _earliest(
        acc.index,
        [
            (flags[Reason.SEPARATED], sep_date + grace),
            (flags[Reason.INACTIVE], last),
            (flags[Reason.NEVER_SIGNED_IN], created),
            (flags[Reason.DISABLED_LICENSED], last.where(last.notna(), created)),
        ],
    )
    since = since.where(since.notna() | ~pd.Series(dormant), as_of).astype(model.DATETIME)
    department = acc["department"].astype(model.STRING).str.strip()
    department = department.mask(department == "", pd.NA)
    department = department.fillna(sep_department.astype(model.STRING)).fillna(model.UNASSIGNED)
    facts = _Accounts(
        frame=acc,
        licensed=licensed,
        exempt=exempt,
        dormant=dormant,
        flags=flags,
        dormant_since=since,
        last_activity=last,
        separation_date=sep_date,
        department=department.astype(model.STRING),
    )
    return facts, position, by_email_only


def _license_findings(facts: _Accounts, licenses: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    acc = facts.frame
    eligible = facts.dormant & facts.licensed
    reasons = _reasons(facts.flags, len(acc))
    per_account = pd.DataFrame(
        {
            "account_id": acc["account_id"],
            "subject": acc["upn"],
            "owner_upn": acc["upn"],
            "display_name": acc["display_name"],
            "department": facts.department,
            "reasons": reasons,
            "dormant_since": facts.dormant_since,
            "last_activity_at": facts.last_activity,
            "separation_date": facts.separation_date,
            "exempt": facts.exempt,
        }
    )[eligible]
    rows = licenses[["account_id", "sku_id", "sku_part_number"]].merge(
        per_account, on="account_id", how="inner"
    )
    exempted = int(rows["exempt"].sum())
    rows = rows[~rows["exempt"].to_numpy(dtype=bool)]
    rows = rows.assign(
        resource_id="license:" + rows["account_id"].astype(str) + ":" + rows["sku_id"].astype(str),
        resource_kind=model.ResourceKind.LICENSE.value,
        match_key=rows["sku_part_number"],
    )
    return model.conform(rows, model.FINDINGS), exempted


def _owner_keys(acc: pd.DataFrame, owner_match: str) -> pd.Series:
    if owner_match == "upn_local_part":
        return model.norm_key(acc["upn"].str.split("@").str[0])
    column = {"upn": "upn", "mail": "mail", "employee_id": "employee_id"}[owner_match]
    return model.norm_key(acc[column])


def _phone_findings(
    phones: pd.DataFrame,
    facts: _Accounts,
    exempt_subjects: pd.Index,
    owner_match: str,
    device_pool_departments: Mapping[str, str],
    policy: Policy,
    as_of: pd.Timestamp,
) -> tuple[pd.DataFrame, dict[str, int]]:
    ph = phones.reset_index(drop=True)
    keys = _owner_keys(facts.frame, owner_match)
    sizes = keys.value_counts()
    ambiguous_keys = sizes.index[sizes > 1]
    unique = pd.Series(np.arange(len(keys)), index=keys).loc[
        lambda s: s.index.notna() & ~s.index.isin(ambiguous_keys)
    ]
    wanted = model.norm_key(ph["owner_user_id"])
    owner = wanted.map(unique)
    found = owner.notna().to_numpy()
    ambiguous = wanted.isin(ambiguous_keys).to_numpy()
    no_owner_given = wanted.isna().to_numpy()
    pos = owner.fillna(-1).astype(int).to_numpy()

    def of_owner(values: pd.Series | np.ndarray) -> pd.Series:
        series = pd.Series(values).reset_index(drop=True)
        return series.reindex(pos).reset_index(drop=True).where(pd.Series(found))

    owner_dormant = found & np.append(facts.dormant & ~facts.exempt, False)[pos]
    ref = ph["last_seen_at"].where(ph["last_seen_at"].notna(), ph["status_changed_at"])
    in_use = ph["registration_status"].isin(IN_USE).to_numpy()
    cutoff = as_of - pd.Timedelta(days=policy.phone_inactive_days)
    unregistered = ~in_use & _flag(ref < cutoff)
    flags = {
        Reason.PHONE_UNREGISTERED: unregistered,
        Reason.PHONE_OWNER_DORMANT: owner_dormant,
        Reason.PHONE_NO_OWNER: ~found,
    }
    dormant = unregistered | owner_dormant | ~found
    exempt = model.norm_key(ph["device_name"]).isin(exempt_subjects).to_numpy()

    pools = {k.strip().casefold(): v for k, v in device_pool_departments.items()}
    pool_department = model.norm_key(ph["device_pool"]).map(pools).astype(model.STRING)
    department = of_owner(facts.department).astype(model.STRING).fillna(pool_department)
    since = _earliest(
        ph.index,
        [
            (unregistered, ref),
            (owner_dormant, of_owner(facts.dormant_since).astype(model.DATETIME)),
        ],
    )
    frame = pd.DataFrame(
        {
            "resource_id": "phone:" + ph["device_name"].str.strip().str.casefold(),
            "resource_kind": model.ResourceKind.PHONE.value,
            "subject": ph["device_name"],
            "account_id": of_owner(facts.frame["account_id"]),
            "owner_upn": of_owner(facts.frame["upn"]),
            "display_name": of_owner(facts.frame["display_name"])
            .astype(model.STRING)
            .fillna(ph["description"]),
            "department": department.fillna(model.UNASSIGNED),
            "reasons": _reasons(flags, len(ph)),
            "dormant_since": since,
            "last_activity_at": ref,
            "separation_date": of_owner(facts.separation_date).astype(model.DATETIME),
            "match_key": ph["model"],
        }
    )
    keep = dormant & ~exempt
    counts = {
        "phones": len(ph),
        "phones_without_owner": int(no_owner_given.sum()),
        "phones_owner_not_found": int((~no_owner_given & ~found & ~ambiguous).sum()),
        "phones_owner_ambiguous": int(ambiguous.sum()),
        "phones_unregistered_undated": int((~in_use & ref.isna().to_numpy()).sum()),
        "exempted_phones": int((dormant & exempt).sum()),
    }
    return model.conform(frame[keep], model.FINDINGS), counts


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
    device_pool_departments: Mapping[str, str] | None = None,
) -> ReconcileResult:
    """Find every dormant licence and phone as of ``as_of`` (see the module docstring)."""
    if owner_match not in OWNER_MATCHES:
        raise ValueError(f"owner_match must be one of {OWNER_MATCHES}, not {owner_match!r}")
    grace = pd.Timedelta(days=policy.separation_grace_days)
    seps = separations.reset_index(drop=True)
    is_effective = _flag(seps["separation_date"] + grace <= as_of)
    effective = seps[is_effective].reset_index(drop=True)

    unexpired = exemptions[_flag(exemptions["expires_on"] >= as_of)]
    exempt_subjects = pd.Index(model.norm_key(unexpired["subject"]).dropna().unique())

    facts, position, by_email_only = _assess_accounts(
        accounts, licenses, effective, exempt_subjects, policy, as_of
    )
    license_rows, exempted_licenses = _license_findings(facts, licenses)
    phone_rows, phone_counts = _phone_findings(
        phones, facts, exempt_subjects, owner_match, device_pool_departments or {}, policy, as_of
    )
    findings = pd.concat([license_rows, phone_rows], ignore_index=True)
    findings = findings.sort_values(
        ["department", "resource_kind", "subject", "resource_id"], kind="stable"
    ).reset_index(drop=True)

    matched_positions = set(position.dropna().astype(int))
    unmatched = effective[~np.isin(np.arange(len(effective)), list(matched_positions))]
    known_subjects = pd.Index(model.norm_key(facts.frame["upn"]).dropna()).append(
        pd.Index(model.norm_key(phones["device_name"]).dropna())
    )
    licensed_dormant = facts.dormant & facts.licensed & ~facts.exempt
    counts: dict[str, int] = {
        "accounts": len(facts.frame),
        "licensed_accounts": int(facts.licensed.sum()),
        "guests_ignored": int(
            (
                (facts.frame["user_type"].str.casefold() == "guest").fillna(False).to_numpy()
                & ~facts.licensed
            ).sum()
        ),
        "dormant_accounts": int(licensed_dormant.sum()),
        "license_findings": len(license_rows),
        "phone_findings": len(phone_rows),
        "exempted_findings": exempted_licenses + phone_counts.pop("exempted_phones"),
        "expired_exemptions": int(_flag(exemptions["expires_on"] < as_of).sum()),
        "exemptions_unknown_subject": int((~exempt_subjects.isin(known_subjects)).sum()),
        "leavers_effective": len(effective),
        "leavers_future": int((~is_effective).sum()),
        "leavers_without_account": len(unmatched),
        "leavers_matched_by_email": int(by_email_only.sum()),
        **phone_counts,
    }
    for reason in model.REASON_ORDER:
        pattern = rf"(?:^|;){reason.value}(?:;|$)"
        counts[f"reason.{reason.value}"] = int(findings["reasons"].str.contains(pattern).sum())
    return ReconcileResult(
        findings=findings,
        counts=counts,
        unmatched_leavers=model.conform(unmatched, model.SEPARATIONS),
    )
