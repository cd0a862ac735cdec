"""Registration history: when each phone was last seen registered, by our own observation.

RisPort reports only the present state, and a phone no node knows has no date
at all. Each run therefore remembers, per phone, when it was first observed,
when it was last seen registered and since when it has had its current
status. :func:`apply_history` is pure: the pipeline loads the stored history,
calls it with the pulled phones, stores the history it returns
(:mod:`licensewatch.store.registrations`) and reconciles the phones it returns.

Rules, for each phone (matched on :func:`licensewatch.model.phone_keys`: the
device name case-folded, ``<cluster>/``-qualified for a named cluster):

- ``last_seen_at`` is the latest of what the source says, what the history
  remembers and, for a phone in use now (registered or partially registered),
  ``as_of`` itself.
- ``status_changed_at`` is the source's where it gives one; else the stored
  one while the status is unchanged; else, for a phone in use, ``as_of``; else
  the last time it was seen registered; else when we first observed it. So a
  phone first observed unregistered, with no older last-seen date from
  ``registrationdynamic``, counts as unregistered from its first observation:
  it becomes dormant only after ``phone_inactive_days`` of our own observation.

The returned history holds the phones of this pull only: a phone removed from
the call manager and added again later is observed afresh, which can only
make it dormant later, never sooner.
"""

from __future__ import annotations

from typing import Final

import pandas as pd

from licensewatch import model

#: The stored history, one row per phone (``device_key`` = device name case-folded).
HISTORY: Final[model.Schema] = {
    "device_key": model.STRING,
    "first_observed_at": model.DATETIME,
    "last_registered_at": model.DATETIME,
    "last_status": model.STRING,
    "status_changed_at": model.DATETIME,
}
IN_USE: Final = ("registered", "partially_registered")


def _latest(*columns: pd.Series) -> pd.Series:
    """Row-wise latest timestamp, NaT where every column is NaT."""
    both = pd.concat(columns, axis=1)
    return both.max(axis=1).astype(model.DATETIME)


def apply_history(
    phones: pd.DataFrame, history: pd.DataFrame, as_of: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fill ``status_changed_at``/``last_seen_at`` from ``history``; return phones and new history.

    ``phones`` is a PHONES frame, ``history`` a :data:`HISTORY` frame (possibly
    empty), ``as_of`` a timezone-aware timestamp (the run's as-of date). Phones
    without a device name are returned unchanged and kept out of the history.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    as_of = as_of.tz_convert("UTC")
    phones = model.conform(phones, model.PHONES)
    stored = model.conform(history, HISTORY)
    stored = stored[stored["device_key"].notna()].drop_duplicates("device_key", keep="last")

    key = model.phone_keys(phones)
    prev = pd.DataFrame({"device_key": key}).merge(stored, how="left", on="device_key")
    prev.index = phones.index
    now = pd.Series(as_of, index=phones.index).astype(model.DATETIME)
    never = pd.Series(pd.NaT, index=phones.index, dtype=model.DATETIME)

    status = phones["registration_status"].fillna("unknown")
    in_use = status.isin(IN_USE).to_numpy(dtype=bool)
    first = prev["first_observed_at"]
    first_observed = first.where(first.notna() & (first <= now), now)
    seen_before = _latest(phones["last_seen_at"], prev["last_registered_at"])
    last_registered = _latest(seen_before, now.where(in_use, never))

    same = prev["last_status"].eq(status).fillna(False).to_numpy(dtype=bool)
    carried = prev["status_changed_at"].where(same, never)
    fallback = now.where(in_use, seen_before.fillna(first_observed))
    changed = phones["status_changed_at"].fillna(carried).fillna(fallback)

    named = key.notna().to_numpy(dtype=bool)
    out = phones.copy()
    out["status_changed_at"] = changed.where(named, phones["status_changed_at"])
    out["last_seen_at"] = last_registered.where(named, phones["last_seen_at"])

    new_history = pd.DataFrame(
        {
            "device_key": key,
            "first_observed_at": first_observed,
            "last_registered_at": last_registered,
            "last_status": status,
            "status_changed_at": changed,
        }
    )[named].drop_duplicates("device_key", keep="first")
    return model.conform(out, model.PHONES), model.conform(new_history, HISTORY)


def carry_over(
    history: pd.DataFrame, stored: pd.DataFrame, clusters: tuple[str, ...]
) -> pd.DataFrame:
    """``history`` plus the ``stored`` rows of ``clusters``, the clusters this pull left out.

    An optional cluster that failed tonight is not observed at all: its phones keep
    what we knew of them, rather than being observed afresh when it is back.
    """
    if not clusters:
        return history
    stored = model.conform(stored, HISTORY)
    prefix = stored["device_key"].str.extract(r"^([^/]*)/", expand=False)
    cluster = prefix.fillna(model.DEFAULT_CLUSTER)
    kept = stored[cluster.isin(clusters) & ~model.isin(stored["device_key"], history["device_key"])]
    return model.conform(pd.concat([history, kept], ignore_index=True), HISTORY)
