"""Reference files: focal points, exemptions and the rate card."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from licensewatch import model
from licensewatch.errors import InputError
from licensewatch.resources import default_config_dir
from licensewatch.rules.pricing import MAX_ANNUAL_RATE_CENTS
from licensewatch.sources.reference import (
    MAX_ANNUAL_RATE_USD,
    read_exemptions,
    read_focal_points,
    read_rate_card,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources"
RATE_HEADER = "item,description,resource_kind,matches,annual_rate_usd,effective_from,effective_to"


def write(tmp_path: Path, text: str, name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(exc: pytest.ExceptionInfo[InputError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


def dtypes(frame: pd.DataFrame) -> dict[str, str]:
    return {str(c): str(t) for c, t in frame.dtypes.items()}


# --- focal points ---------------------------------------------------------------------


def test_focal_points() -> None:
    focal = read_focal_points(FIXTURES / "focal_points.csv")
    assert list(focal.columns) == list(model.FOCAL_POINTS)
    assert dtypes(focal) == model.FOCAL_POINTS
    assert focal["department"].tolist() == ["Retail", "Legal", "Finance"]
    assert focal["email"].tolist() == [
        "fp.retail@contoso.com",
        "fp.legal@contoso.com;deputy.legal@contoso.com",
        "fp.finance@contoso.com",
    ]
    assert focal["cc"].tolist()[1:] == [
        "legal.assistant@contoso.com",
        "a@contoso.com;b@contoso.com",
    ]
    assert pd.isna(focal["cc"][0])
    assert focal["language"].tolist() == ["en", "fr", "en"]
    assert focal["name"][0] == "Zoë Müller"


def test_focal_points_department_twice_names_both_rows(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "department,email\nFinance,a@contoso.org\nLegal,b@contoso.org\n FINANCE ,c@contoso.org\n",
    )
    with pytest.raises(InputError) as exc:
        read_focal_points(path)
    assert problems(exc) == [
        f"{path}, row 4, column 'department': duplicate department 'FINANCE': also in row 2"
    ]


def test_focal_points_bad_addresses_and_language(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "department,email,name,cc,language\n"
        'Finance,"a@contoso.org\nBcc: evil@x.org",Ann,,en\n'
        "Legal,b@contoso,Bob,c@contoso.org;not an address,de\n"
        "HR,,Cy,,\n",
    )
    with pytest.raises(InputError) as exc:
        read_focal_points(path)
    assert problems(exc) == [
        f"{path}, row 2, column 'email': 'a@contoso.org\\nBcc: evil@x.org' is not an email "
        "address like name@example.org",
        f"{path}, row 3, column 'email': 'b@contoso' is not an email address like name@example.org",
        f"{path}, row 3, column 'cc': 'not an address' is not an email address like "
        "name@example.org",
        f"{path}, row 3, column 'language': 'de' is not a language; use one of ('en', 'fr')",
        f"{path}, row 4, column 'email': email is empty; a value is required",
    ]


def test_focal_points_need_department_and_email_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "department,name\nFinance,Ann\n")
    with pytest.raises(InputError) as exc:
        read_focal_points(path)
    assert problems(exc) == [f"{path}, row 1, column 'email': required column 'email' is missing"]


# --- exemptions -----------------------------------------------------------------------


def test_exemptions() -> None:
    exemptions = read_exemptions(FIXTURES / "exemptions.csv")
    assert list(exemptions.columns) == list(model.EXEMPTIONS)
    assert dtypes(exemptions) == model.EXEMPTIONS
    assert exemptions["subject"].tolist() == ["StineR@contoso.com", "SEP0A1B2C3D4E03"]
    assert exemptions["expires_on"][0] == pd.Timestamp("2020-06-30T00:00:00Z")


def test_exemption_problems(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "subject,reason,approved_by,expires_on\n"
        "ann@contoso.org,Sick leave,HR Director,\n"
        "bob@contoso.org,,HR Director,2020-13-01\n"
        "ANN@contoso.org,Sick leave,HR Director,2020-06-30\n",
    )
    with pytest.raises(InputError) as exc:
        read_exemptions(path)
    assert problems(exc) == [
        f"{path}, row 2, column 'expires_on': expires_on is empty; a value is required",
        f"{path}, row 3, column 'reason': reason is empty; a value is required",
        f"{path}, row 3, column 'expires_on': '2020-13-01' is not a date like 2019-12-31",
        f"{path}, row 4, column 'subject': duplicate subject 'ANN@contoso.org': also in row 2",
    ]


def test_exemptions_need_an_expiry_column(tmp_path: Path) -> None:
    path = write(tmp_path, "subject,reason,approved_by\nann@contoso.org,Sick,HR\n")
    with pytest.raises(InputError) as exc:
        read_exemptions(path)
    assert problems(exc) == [
        f"{path}, row 1, column 'expires_on': required column 'expires_on' is missing"
    ]


# --- rate card ------------------------------------------------------------------------


def test_shipped_rate_card_holds_exactly_the_two_audited_rates() -> None:
    card = read_rate_card(default_config_dir() / "rate_card.csv")
    assert dtypes(card) == model.RATE_CARD
    rows = card.astype(object).where(card.notna(), None).to_dict("records")
    start = pd.Timestamp("2016-01-01T00:00:00Z")
    assert rows == [
        {
            "item": "M365_E3",
            "description": "Microsoft 365 E3 licence",
            "resource_kind": "license",
            "matches": "SPE_E3",
            "annual_rate_cents": 18960,
            "effective_from": start,
            "effective_to": None,
        },
        {
            "item": "IP_PHONE_PC_PORT",
            "description": "IP desk phone with PC port",
            "resource_kind": "phone",
            "matches": "*",
            "annual_rate_cents": 23000,
            "effective_from": start,
            "effective_to": None,
        },
    ]


def test_rate_card_periods_keys_and_cents() -> None:
    card = read_rate_card(FIXTURES / "rate_card.csv")
    assert list(card.columns) == list(model.RATE_CARD)
    assert card["annual_rate_cents"].tolist() == [18960, 19900, 42000, 23000, 31050]
    assert card["resource_kind"].tolist() == ["license", "license", "license", "phone", "phone"]
    assert card["matches"][2] == "SPE_E5;ENTERPRISEPREMIUM"
    assert card["effective_to"][0] == pd.Timestamp("2019-12-31T00:00:00Z")
    assert card["effective_to"][1:].isna().all()


def rate_card(tmp_path: Path, *rows: str) -> Path:
    return write(tmp_path, RATE_HEADER + "\n" + "\n".join(rows) + "\n", "rate_card.csv")


def test_rate_problems(tmp_path: Path) -> None:
    path = rate_card(
        tmp_path,
        "A,a,license,SKU_A,USD 10,2016-01-01,",
        "B,b,license,SKU_B,-1.00,2016-01-01,",
        "C,c,license,SKU_C,1.005,2016-01-01,",
        "D,d,license,SKU_D,NaN,2016-01-01,",
        "E,e,license,SKU_E,12.500,2016-01-01,",
        "F,f,desk,SKU_F,1,2016-01-01,",
    )
    with pytest.raises(InputError) as exc:
        read_rate_card(path)
    assert problems(exc) == [
        f"{path}, row 2, column 'annual_rate_usd': 'USD 10' is not an amount in dollars like "
        "189.60",
        f"{path}, row 3, column 'annual_rate_usd': '-1.00' is negative",
        f"{path}, row 4, column 'annual_rate_usd': '1.005' has more than 2 decimal places",
        f"{path}, row 5, column 'annual_rate_usd': 'NaN' is not an amount in dollars like 189.60",
        f"{path}, row 7, column 'resource_kind': 'desk' is not one of license, phone",
    ]


def test_period_that_ends_before_it_starts(tmp_path: Path) -> None:
    path = rate_card(tmp_path, "A,a,license,SKU_A,1,2020-01-01,2019-12-31")
    with pytest.raises(InputError) as exc:
        read_rate_card(path)
    assert problems(exc) == [
        f"{path}, row 2, column 'effective_to': 2019-12-31 is before effective_from 2020-01-01"
    ]


def test_overlapping_periods_of_one_item(tmp_path: Path) -> None:
    path = rate_card(
        tmp_path,
        "A,a,license,SKU_A,1,2016-01-01,2019-12-31",
        "a,a,license,SKU_A,2,2019-12-31,",
    )
    with pytest.raises(InputError) as exc:
        read_rate_card(path)
    assert problems(exc) == [
        f"{path}, row 3, column 'effective_from': item 'a' has a period (2019-12-31 to "
        "open-ended) overlapping row 2 (2016-01-01 to 2019-12-31)"
    ]


def test_one_key_priced_by_two_items_at_once(tmp_path: Path) -> None:
    path = rate_card(
        tmp_path,
        "E3,a,license,SPE_E3,189.60,2016-01-01,",
        "E3_BIS,b,license,spe_e3;SPE_E5,200,2018-01-01,2018-12-31",
        "PHONE,c,phone,*,230,2016-01-01,",
        "PHONE_2,d,phone,*,240,2010-01-01,2015-12-31",
        "LIC_STAR,e,license,*,1,2016-01-01,",
    )
    with pytest.raises(InputError) as exc:
        read_rate_card(path)
    assert problems(exc) == [
        f"{path}, row 3, column 'matches': 'spe_e3' is priced by both 'E3' (row 2) and "
        "'E3_BIS' in overlapping periods; pricing must be unambiguous"
    ]


def test_star_must_stand_alone_and_cells_are_required(tmp_path: Path) -> None:
    path = rate_card(tmp_path, "A,a,phone,*;Cisco 8845,1,2016-01-01,", ",,license,X,1,,")
    with pytest.raises(InputError) as exc:
        read_rate_card(path)
    assert problems(exc) == [
        f"{path}, row 2, column 'matches': '*' (everything no other item matches) must stand alone",
        f"{path}, row 3, column 'item': item is empty; a value is required",
        f"{path}, row 3, column 'description': description is empty; a value is required",
        f"{path}, row 3, column 'effective_from': effective_from is empty; a value is required",
    ]


def test_empty_rate_card_is_valid(tmp_path: Path) -> None:
    card = read_rate_card(rate_card(tmp_path))
    assert card.empty and dtypes(card) == model.RATE_CARD


ABOVE = "is above the highest rate licensewatch accepts, USD 1,000,000.00 per unit per year"


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        ("50000000000000000.00", ABOVE),
        ("1e20", ABOVE),
        ("1e999999", ABOVE),
        ("1000000.01", ABOVE),
        ("inf", "is not an amount in dollars like 189.60"),
        ("-Infinity", "is not an amount in dollars like 189.60"),
        ("nan", "is not an amount in dollars like 189.60"),
        ("sNaN", "is not an amount in dollars like 189.60"),
        ("-0.01", "is negative"),
    ],
)
def test_absurd_rates_are_refused_with_row_and_column(
    tmp_path: Path, rate: str, message: str
) -> None:
    path = rate_card(
        tmp_path, "A,a,license,SKU_A,1.00,2016-01-01,", f"B,b,license,SKU_B,{rate},2016-01-01,"
    )
    with pytest.raises(InputError) as exc:
        read_rate_card(path)
    assert problems(exc) == [f"{path}, row 3, column 'annual_rate_usd': {rate!r} {message}"]


def test_the_highest_rate_is_accepted(tmp_path: Path) -> None:
    path = rate_card(tmp_path, "A,a,license,SKU_A,1000000.00,2016-01-01,")
    assert read_rate_card(path)["annual_rate_cents"].tolist() == [MAX_ANNUAL_RATE_CENTS]
    assert str(MAX_ANNUAL_RATE_USD) == "1000000.00"
