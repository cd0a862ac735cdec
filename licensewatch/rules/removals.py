"""Which resources this pull still holds: what has disappeared since is ``removed``.

Resource ids follow :mod:`licensewatch.rules.reconcile`: ``license:<account id>:<SKU id>``
and ``phone:<device name case-folded>``. A resource stored as dormant that the
pull no longer holds at all (the licence was taken away, the phone deleted)
was deprovisioned: its last known annual cost counts as realized savings from
that day. A resource still held but no longer dormant is not removed.

Only a complete pull can show that something is gone: a licence may become
``removed`` only when the accounts pull is complete, a phone only when the
phones pull is (:func:`bookable_removals`). A pull that fails raises before
this point; a pull that could not prove it is complete (``complete=False``,
e.g. Graph with ``verify_count = false``) books no removals of its feed.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from licensewatch import model
from licensewatch.logs import get_logger

log = get_logger(__name__)

LICENSE_PREFIX = "license:"
PHONE_PREFIX = "phone:"


def pulled_resource_ids(licenses: pd.DataFrame, phones: pd.DataFrame) -> pd.Series:
    """The ids of every licence and phone in this pull (text; compare them case-folded).

    A column, not a set of Python strings: at 1M accounts the pull holds two
    million ids, which as a folded set took about 400 MB of the night's peak.
    """
    held = licenses.dropna(subset=["account_id", "sku_id"])
    account, sku = model.text(held["account_id"]), model.text(held["sku_id"])
    licence_ids = LICENSE_PREFIX + account + ":" + sku
    phone_ids = PHONE_PREFIX + model.text(model.phone_keys(phones).dropna())
    return pd.concat([licence_ids, phone_ids], ignore_index=True)


def bookable_removals(
    gone: Iterable[str], *, accounts_complete: bool, phones_complete: bool
) -> list[str]:
    """The ``gone`` ids that may be booked as removed: those of a feed whose pull is complete.

    Licences (``license:…``) need a complete accounts pull, phones (``phone:…``)
    a complete phones pull; anything else needs both. What is held back is logged.
    """
    kept: list[str] = []
    held = 0
    for rid in gone:
        key = model.fold_key(rid)
        if key.startswith(LICENSE_PREFIX):
            ok = accounts_complete
        elif key.startswith(PHONE_PREFIX):
            ok = phones_complete
        else:
            ok = accounts_complete and phones_complete
        if ok:
            kept.append(rid)
        else:
            held += 1
    if held:
        log.warning(
            "%d resources are absent from a pull that is not proven complete: not booked as "
            "removed (they are checked again on the next complete pull)",
            held,
        )
    return kept
