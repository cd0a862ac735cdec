"""Which resources this pull still holds: what has disappeared since is ``removed``.

Resource ids follow :mod:`licensewatch.reconcile`: ``license:<account id>:<SKU id>``
and ``phone:<device name case-folded>``. A resource stored as dormant that the
pull no longer holds at all (the licence was taken away, the phone deleted)
was deprovisioned: its last known annual cost counts as realized savings from
that day. A resource still held but no longer dormant is not removed.
"""

from __future__ import annotations

import pandas as pd

from licensewatch import model


def pulled_resource_ids(licenses: pd.DataFrame, phones: pd.DataFrame) -> set[str]:
    """The ids of every licence and phone in this pull, case-folded."""
    held = licenses.dropna(subset=["account_id", "sku_id"])
    licence_ids = "license:" + held["account_id"].astype(str) + ":" + held["sku_id"].astype(str)
    devices = model.norm_key(phones["device_name"]).dropna()
    phone_ids = "phone:" + devices.astype(str)
    return {model.fold_key(rid) for rid in (*licence_ids.tolist(), *phone_ids.tolist())}
