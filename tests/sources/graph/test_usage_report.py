"""The Microsoft 365 active-user report (getOffice365ActiveUserDetail) as an activity signal."""

from __future__ import annotations

import pandas as pd
import pytest

from licensewatch import model
from licensewatch.errors import InputError, SourceError
from licensewatch.sources.graph.usage_report import apply_usage_activity, parse_usage_report
from tests.sources.graph.conftest import raw

HEADER = raw("report_D180.csv").decode("utf-8-sig").splitlines()[0]
EMPTY_ROW = "2024-12-14,{upn},Name,False,,True,True,True,False,True,True" + "," * 13


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def csv_text(*rows: str) -> str:
    return "\r\n".join((HEADER, *rows)) + "\r\n"


def test_header_is_the_documented_one() -> None:
    columns = HEADER.split(",")
    assert columns[:3] == ["Report Refresh Date", "User Principal Name", "Display Name"]
    assert len(columns) == 24 and columns[-1] == "Assigned Products"
    assert sum(c.endswith(" Last Activity Date") for c in columns) == 6


def test_latest_workload_date_per_user_with_bom() -> None:
    data = raw("report_D180.csv")
    assert data.startswith(b"\xef\xbb\xbf")
    usage = parse_usage_report(data)
    got = usage.last_activity
    assert str(got.dtype) == model.DATETIME
    assert got.index.tolist() == ["adelev@contoso.com", "adams@contoso.com", "alexw@contoso.com"]
    # Adele: Exchange 12-10, OneDrive 11-30, SharePoint 12-01, Teams 12-12 → the latest.
    assert got["adelev@contoso.com"] == ts("2024-12-12")
    assert pd.isna(got["adams@contoso.com"])  # no activity in the period
    assert got["alexw@contoso.com"] == ts("2024-09-15")
    # Stine's row says Is Deleted = True: a deleted user's activity is not used.
    assert "stiner@contoso.com" not in got.index
    assert usage.refreshed_on == ts("2024-12-14")
    assert usage.rows == 4


def test_text_input_and_duplicate_names_take_the_latest() -> None:
    row_a = EMPTY_ROW.format(upn="Zoe@contoso.com").split(",")
    row_b = list(row_a)
    row_a[11] = "2024-01-01"  # Exchange
    row_b[1] = "ZOE@contoso.com"
    row_b[16] = "2024-03-01"  # Teams
    usage = parse_usage_report("\ufeff" + csv_text(",".join(row_a), ",".join(row_b)))
    assert usage.last_activity.to_dict() == {"zoe@contoso.com": ts("2024-03-01")}


def test_header_only_report_is_empty() -> None:
    usage = parse_usage_report(csv_text())
    assert usage.rows == 0 and usage.last_activity.empty and usage.refreshed_on is None


def test_concealed_names_stop_with_the_admin_setting_to_change() -> None:
    with pytest.raises(SourceError) as caught:
        parse_usage_report(raw("report_concealed.csv"))
    text = caught.value.one_line()
    assert "conceals user names (2 of 2 rows" in text
    assert "Settings > Org settings > Services > Reports" in text
    assert "Display concealed user, group, and site names in all reports" in text
    assert isinstance(caught.value, SourceError) and not isinstance(caught.value, InputError)


def test_one_concealed_name_is_enough_to_stop() -> None:
    rows = (
        EMPTY_ROW.format(upn="ann@contoso.com"),
        EMPTY_ROW.format(upn="9F8E7D6C5B4A39281706F5E4D3C2B1A0"),
    )
    with pytest.raises(SourceError, match="1 of 2 rows"):
        parse_usage_report(csv_text(*rows))


def test_bad_dates_and_flags_name_row_and_column() -> None:
    bad_date = EMPTY_ROW.format(upn="ann@contoso.com").split(",")
    bad_date[16] = "14/12/2024"
    bad_flag = EMPTY_ROW.format(upn="bob@contoso.com").split(",")
    bad_flag[5] = "Yes"
    bad_flag[11] = "2024-02-30"
    with pytest.raises(InputError) as caught:
        parse_usage_report(csv_text(",".join(bad_date), ",".join(bad_flag)), name="r.csv")
    found = {(p.row, p.column) for p in caught.value.problems}
    assert found == {
        (2, "Teams Last Activity Date"),
        (3, "Has Exchange License"),
        (3, "Exchange Last Activity Date"),
    }
    assert all(p.file == "r.csv" for p in caught.value.problems)


def test_missing_columns_and_empty_file() -> None:
    with pytest.raises(InputError) as caught:
        parse_usage_report("Report Refresh Date,Display Name\r\n2024-12-14,Ann\r\n")
    assert {p.column for p in caught.value.problems} == {
        "User Principal Name",
        "* Last Activity Date",
    }
    assert all(p.row == 1 for p in caught.value.problems)
    with pytest.raises(InputError, match="empty file"):
        parse_usage_report(b"")


def test_empty_user_name_is_a_problem() -> None:
    with pytest.raises(InputError) as caught:
        parse_usage_report(csv_text(EMPTY_ROW.format(upn="")))
    assert [(p.row, p.column) for p in caught.value.problems] == [(2, "User Principal Name")]


def test_apply_maps_activity_case_insensitively_and_keeps_later_sign_ins() -> None:
    accounts = model.conform(
        pd.DataFrame(
            {
                "account_id": ["a", "b", "c", "d"],
                "upn": ["AdeleV@Contoso.com", "alexw@contoso.com", "nobody@contoso.com", None],
                "last_interactive_at": [None, ts("2024-10-01"), None, None],
                "last_noninteractive_at": [ts("2024-12-13"), None, None, None],
            }
        ),
        model.ACCOUNTS,
    )
    usage = parse_usage_report(raw("report_D180.csv"))
    out = apply_usage_activity(accounts, usage.last_activity)
    assert list(out.columns) == list(model.ACCOUNTS)
    assert out.dtypes.astype(str).to_dict() == model.ACCOUNTS
    assert out["last_interactive_at"].tolist()[:2] == [ts("2024-12-12"), ts("2024-10-01")]
    assert out["last_successful_at"].tolist()[:2] == [ts("2024-12-12"), ts("2024-09-15")]
    assert out["last_interactive_at"].iloc[2:].isna().all()
    assert out["last_successful_at"].iloc[2:].isna().all()
    # The report does not tell interactive from non-interactive use: left as it was.
    assert out["last_noninteractive_at"].tolist()[0] == ts("2024-12-13")
