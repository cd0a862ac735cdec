"""Registration history: the pure update rules, and storing it on both database backends."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from licensewatch import model
from licensewatch.rules.phone_history import HISTORY, apply_history
from licensewatch.store.registrations import HistoryWrites, load_history, save_history

DAY1 = pd.Timestamp("2024-03-01", tz="UTC")
INACTIVE_DAYS = 90


def at(frame: pd.DataFrame, row: Any, column: str) -> Any:
    """One cell (typed loosely: pandas-stubs cannot know a cell's type)."""
    return frame.loc[row, column]


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def phones(*rows: dict[str, Any]) -> pd.DataFrame:
    return model.conform(pd.DataFrame(list(rows)), model.PHONES)


def phone(
    name: str, status: str, changed: str | None = None, seen: str | None = None
) -> dict[str, Any]:
    return {
        "device_name": name,
        "registration_status": status,
        "status_changed_at": utc(changed) if changed else pd.NaT,
        "last_seen_at": utc(seen) if seen else pd.NaT,
    }


def run(
    frame: pd.DataFrame, history: pd.DataFrame, day: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame]:
    out, new = apply_history(frame, history, day)
    return out.set_index("device_name"), new


def test_phone_first_seen_unregistered_is_dormant_only_after_our_own_observation() -> None:
    pulled = phones(phone("SEPNEW", "unregistered"))
    history = model.empty(HISTORY)
    for day in range(INACTIVE_DAYS + 2):
        as_of = DAY1 + pd.Timedelta(days=day)
        out, history = run(pulled, history, as_of)
        since = at(out, "SEPNEW", "status_changed_at")
        assert since == DAY1
        dormant = (as_of - since).days > INACTIVE_DAYS
        assert dormant == (day > INACTIVE_DAYS)
    assert pd.isna(at(out, "SEPNEW", "last_seen_at"))
    assert history.loc[0, "first_observed_at"] == DAY1


def test_older_registrationdynamic_last_seen_counts_from_then() -> None:
    out, history = run(
        phones(phone("SEPOLD", "unregistered", seen="2023-06-01")), model.empty(HISTORY), DAY1
    )
    assert out.loc["SEPOLD", "status_changed_at"] == utc("2023-06-01")
    assert out.loc["SEPOLD", "last_seen_at"] == utc("2023-06-01")
    assert (DAY1 - at(out, "SEPOLD", "status_changed_at")).days > INACTIVE_DAYS
    assert history.loc[0, "last_registered_at"] == utc("2023-06-01")


def test_risport_timestamp_wins_when_given() -> None:
    out, _ = run(
        phones(phone("SEPR", "unregistered", changed="2024-02-10", seen="2023-01-01")),
        model.empty(HISTORY),
        DAY1,
    )
    assert out.loc["SEPR", "status_changed_at"] == utc("2024-02-10")


def test_registered_then_unregistered_counts_from_the_last_registered_observation() -> None:
    _, history = run(phones(phone("SEPA", "registered")), model.empty(HISTORY), DAY1)
    assert history.iloc[0][["last_registered_at", "last_status"]].tolist() == [DAY1, "registered"]
    day2 = DAY1 + pd.Timedelta(days=1)
    out, history = run(phones(phone("sepa", "unregistered")), history, day2)  # name case differs
    assert out.loc["sepa", "status_changed_at"] == DAY1
    assert out.loc["sepa", "last_seen_at"] == DAY1
    day3 = day2 + pd.Timedelta(days=1)
    out, history = run(phones(phone("SEPA", "unregistered")), history, day3)
    assert out.loc["SEPA", "status_changed_at"] == DAY1  # carried while the status holds
    assert history.iloc[0]["first_observed_at"] == DAY1


def test_phone_in_use_is_seen_now() -> None:
    out, history = run(
        phones(phone("SEPU", "partially_registered", changed="2023-01-01")),
        model.empty(HISTORY),
        DAY1,
    )
    assert out.loc["SEPU", "last_seen_at"] == DAY1
    assert out.loc["SEPU", "status_changed_at"] == utc("2023-01-01")
    assert history.iloc[0]["last_status"] == "partially_registered"


def test_history_keeps_only_phones_of_this_pull_and_ignores_nameless_rows() -> None:
    _, history = run(
        phones(phone("SEPA", "registered"), phone("SEPB", "unregistered")),
        model.empty(HISTORY),
        DAY1,
    )
    nameless = phone("SEPX", "unregistered")
    nameless["device_name"] = None
    out, history = apply_history(phones(phone("SEPB", "unregistered"), nameless), history, DAY1)
    assert history["device_key"].tolist() == ["sepb"]
    assert pd.isna(at(out, 1, "status_changed_at")) and pd.isna(at(out, 1, "last_seen_at"))


def test_inputs_are_not_changed_and_dtypes_are_canonical() -> None:
    pulled = phones(phone("SEPA", "unregistered"))
    before = pulled.copy()
    out, history = apply_history(pulled, model.empty(HISTORY), DAY1)
    pd.testing.assert_frame_equal(pulled, before)
    assert out.dtypes.astype(str).to_dict() == model.PHONES
    assert history.dtypes.astype(str).to_dict() == HISTORY


def test_rerun_for_an_earlier_date_moves_first_observation_back() -> None:
    _, history = run(phones(phone("SEPA", "unregistered")), model.empty(HISTORY), DAY1)
    earlier = DAY1 - pd.Timedelta(days=3)
    _, history = run(phones(phone("SEPA", "unregistered")), history, earlier)
    assert history.iloc[0]["first_observed_at"] == earlier


def test_naive_as_of_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        apply_history(
            phones(phone("SEPA", "registered")), model.empty(HISTORY), pd.Timestamp("2024-03-01")
        )


def test_history_round_trips_through_the_store(session: Session) -> None:
    assert load_history(session).empty
    _, history = run(
        phones(phone("SEPA", "registered"), phone("SEPB", "unregistered", seen="2023-06-01")),
        model.empty(HISTORY),
        DAY1,
    )
    save_history(session, history)
    back = load_history(session)
    pd.testing.assert_frame_equal(back, history.sort_values("device_key").reset_index(drop=True))
    _, later = run(phones(phone("SEPB", "registered")), back, DAY1 + pd.Timedelta(days=1))
    save_history(session, later)  # replaces: SEPA is gone
    assert load_history(session)["device_key"].tolist() == ["sepb"]
    assert "phone_registrations" in inspect(session.get_bind()).get_table_names()


def test_store_refuses_duplicate_keys_and_unknown_statuses(session: Session) -> None:
    _, history = run(phones(phone("SEPA", "registered")), model.empty(HISTORY), DAY1)
    with pytest.raises(ValueError, match="more than once"):
        save_history(session, pd.concat([history, history], ignore_index=True))
    with pytest.raises(ValueError, match="unknown statuses: Registered"):
        save_history(session, history.assign(last_status="Registered"))


def _writes(session: Session) -> tuple[list[str], Any]:
    """The INSERT/UPDATE/DELETE statements sent on the session's connection, as they run."""
    seen: list[str] = []
    engine = session.get_bind()

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    return seen, lambda: event.remove(engine, "before_cursor_execute", record)


def test_a_night_without_changes_writes_no_row(session: Session) -> None:
    pulled = phones(
        phone("SEPA", "unregistered", seen="2023-06-01"),
        phone("SEPB", "unregistered", changed="2023-09-01"),
        phone("SEPC", "rejected"),
    )
    _, history = run(pulled, model.empty(HISTORY), DAY1)
    assert save_history(session, history) == HistoryWrites(3, 0, 0)
    stored = load_history(session)
    _, again = run(pulled, stored, DAY1 + pd.Timedelta(days=1))
    seen, stop = _writes(session)
    try:
        assert save_history(session, again, stored) == HistoryWrites(0, 0, 0)
        assert save_history(session, again) == HistoryWrites(0, 0, 0)  # loads it itself
    finally:
        stop()
    assert seen == []
    pd.testing.assert_frame_equal(load_history(session), stored)


def test_only_the_rows_that_moved_are_written(session: Session) -> None:
    pulled = phones(
        phone("SEPA", "unregistered", seen="2023-06-01"),
        phone("SEPB", "unregistered", changed="2023-09-01"),
        phone("SEPC", "unregistered", changed="2023-09-01"),
    )
    _, history = run(pulled, model.empty(HISTORY), DAY1)
    save_history(session, history)
    stored = load_history(session)
    # SEPA registers again, SEPC is gone, SEPD is new; SEPB stays as it was.
    moved = phones(
        phone("SEPA", "registered"),
        phone("SEPB", "unregistered", changed="2023-09-01"),
        phone("SEPD", "unregistered"),
    )
    day2 = DAY1 + pd.Timedelta(days=1)
    _, later = run(moved, stored, day2)
    seen, stop = _writes(session)
    try:
        assert save_history(session, later, stored) == HistoryWrites(1, 1, 1)
    finally:
        stop()
    # One statement each: the update, the insert, the delete (on PostgreSQL the insert is a
    # COPY, which SQLAlchemy's cursor events do not see).
    copies = session.get_bind().dialect.name == "postgresql"
    assert len(seen) == (2 if copies else 3)
    back = load_history(session)
    assert back["device_key"].tolist() == ["sepa", "sepb", "sepd"]
    pd.testing.assert_frame_equal(back, later.sort_values("device_key").reset_index(drop=True))
    assert at(back.set_index("device_key"), "sepa", "last_registered_at") == day2
    assert at(back.set_index("device_key"), "sepb", "status_changed_at") == utc("2023-09-01")
