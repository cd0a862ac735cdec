"""The PHONES frame assembled column by column is the one assembled phone by phone."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from typing import Any, Final

import pandas as pd
import pytest

from licensewatch import model
from licensewatch.sources.cucm.assemble import assemble_phones, phone_key
from licensewatch.sources.cucm.axl import InventoryPhone
from licensewatch.sources.cucm.risport_answer import IN_USE, RisDevice

#: The PHONES columns :func:`assemble_phones` fills phone by phone (all but the cluster's).
_ASSEMBLED: Final = tuple(name for name in model.PHONES if name != "cluster")


def one_by_one(
    inventory: Iterable[InventoryPhone],
    registrations: Mapping[str, RisDevice],
    cluster: str = model.DEFAULT_CLUSTER,
    keys: Iterable[str] | None = None,
) -> pd.DataFrame:
    """The frame as 92e0579 built it, phone by phone (the reference).

    A phone no node reports is unregistered. ``status_changed_at`` is the
    reporting node's ``TimeStamp``; ``last_seen_at`` is the later of
    ``registrationdynamic.lastseen`` and, for a phone in use now, that
    ``TimeStamp``. The first of two phones whose names differ only in case wins.
    Every phone carries ``cluster``, the call-manager cluster it was read from.
    ``keys``: each phone's :func:`phone_key`, when the caller has them already.
    """
    # Column by column (no dict a phone: 929,600 of them and pandas reading them back
    # took 3 of the 1M night's call-manager seconds).
    columns: dict[str, list[Any]] = {name: [] for name in _ASSEMBLED}
    names, descriptions, models = columns["device_name"], columns["description"], columns["model"]
    pools, owners, numbers = (
        columns["device_pool"],
        columns["owner_user_id"],
        columns["directory_number"],
    )
    statuses, stamps, seens = (
        columns["registration_status"],
        columns["status_changed_at"],
        columns["last_seen_at"],
    )
    taken: set[str] = set()
    phones = list(inventory)
    for phone, key in zip(
        phones, keys if keys is not None else map(phone_key, phones), strict=True
    ):
        if key in taken:
            continue
        taken.add(key)
        dev = registrations.get(key)
        status = dev.status if dev is not None else "unregistered"
        stamp = dev.timestamp if dev is not None else None
        seen = [s for s in (phone.last_seen_epoch, stamp if status in IN_USE else None) if s]
        names.append(phone.name)
        descriptions.append(phone.description)
        models.append(phone.model)
        pools.append(phone.device_pool)
        owners.append(phone.owner)
        numbers.append(phone.directory_number)
        statuses.append(status)
        stamps.append(stamp)
        seens.append(max(seen) if seen else None)
    data: dict[str, Any] = {**columns, "cluster": cluster}
    for col in ("status_changed_at", "last_seen_at"):
        data[col] = pd.to_datetime(pd.Series(columns[col], dtype="Int64"), unit="s", utc=True)
    frame = pd.DataFrame(data, columns=list(model.PHONES))
    return model.conform(frame, model.PHONES)


STATUSES = ("registered", "partially_registered", "unregistered", "rejected", "unknown")


def _phones(rng: random.Random, n: int) -> tuple[list[InventoryPhone], dict[str, RisDevice]]:
    phones, registrations = [], {}
    for i in range(n):
        # Some names again in another case or with spaces: the first one wins.
        name = rng.choice([f"SEP{i:04X}", f"sep{rng.randrange(max(i, 1)):04x}", f" SEP{i:04X} "])
        seen = rng.choice([None, rng.randrange(1, 2_000_000_000), 1_500_000_000])
        phones.append(
            InventoryPhone(
                name,
                rng.choice([None, "Lobby", "Salle  é"]),
                rng.choice([None, "Cisco 8845"]),
                rng.choice([None, "DP_GVA"]),
                rng.choice([None, "olga"]),
                rng.choice([None, "1001"]),
                seen,
            )
        )
        if rng.random() < 0.8:
            stamp = rng.choice([None, 0, -5, 1_500_000_000, rng.randrange(1, 2_000_000_000)])
            key = phone_key(phones[-1])
            registrations[key] = RisDevice(name, rng.choice(STATUSES), stamp, "cm1")
    return phones, registrations


@pytest.mark.parametrize("seed", range(12))
def test_column_by_column_is_phone_by_phone(seed: int) -> None:
    rng = random.Random(seed)
    phones, registrations = _phones(rng, rng.choice([0, 1, 2, 50, 400]))
    expected = one_by_one(phones, registrations, "geneva")
    pd.testing.assert_frame_equal(assemble_phones(phones, registrations, "geneva"), expected)
    keys = [phone_key(p) for p in phones]
    given = assemble_phones(iter(phones), registrations, "geneva", keys)
    pd.testing.assert_frame_equal(given, expected)


def test_the_first_of_two_names_differing_in_case_wins_and_zero_is_no_sighting() -> None:
    phones = [
        InventoryPhone("SEPAA", "first", None, None, None, None, None),
        InventoryPhone("sepaa", "second", None, None, None, None, 1_600_000_000),
        InventoryPhone("SEPBB", None, None, None, None, None, None),
    ]
    registrations = {"sepaa": RisDevice("SEPAA", "registered", 0, "cm1")}
    frame = assemble_phones(phones, registrations)
    assert frame["description"].tolist() == ["first", pd.NA]
    assert frame["registration_status"].tolist() == ["registered", "unregistered"]
    assert frame["status_changed_at"].iloc[0] == pd.Timestamp(0, tz="UTC")  # as reported
    assert frame["last_seen_at"].isna().all()  # a zero TimeStamp is no sighting


def test_keys_must_be_one_a_phone() -> None:
    with pytest.raises(ValueError, match="1 keys for 2 phones"):
        assemble_phones([InventoryPhone("A", *[None] * 6)] * 2, {}, keys=["a"])
