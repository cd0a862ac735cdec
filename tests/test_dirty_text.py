"""Control characters and lone surrogates in any feed's text: neutralised once, the night runs.

A BEL, an ESC, a NUL or a lone surrogate escape (``"\\ud800"``, valid JSON) in a
Graph ``displayName`` or a phone ``description`` used to stop every night when
openpyxl refused the XLSX. Now ``licensewatch.rules.neutralise`` rewrites them where
the feeds enter the job; every output (CSV, XLSX, HTML, email, the database on
SQLite and PostgreSQL) holds the visible substitute, and the run summary counts them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from licensewatch import model, store
from licensewatch.cli.parser import main
from licensewatch.rules.neutralise import neutralise_frame, neutralise_text
from tests import orgfiles
from tests.store.conftest import fresh_schema, pg_server_url  # noqa: F401 - the fixture

#: Bob (an INACTIVE finding of Finance) as the directory holds him: BEL, NUL, ESC, lone surrogate.
DIRTY_NAME = "Bob\x07 Kel\x00ler\x1b\ud800"
CLEAN_NAME = "Bob\u2407 Kel\u2400ler\u241b\ufffd"
#: The Legal lobby phone (a PHONE_NO_OWNER finding, named by its description): VT, SOH, DEL, C1.
DIRTY_DESCRIPTION = "Legal\x0b lobby\x01\x7f\x85\x9b (desk)"
CLEAN_DESCRIPTION = "Legal\u240b lobby\u2401\u2421\ufffd\ufffd (desk)"


def test_neutralise_text_replaces_each_unsafe_character_visibly() -> None:
    assert neutralise_text(DIRTY_NAME) == CLEAN_NAME
    assert neutralise_text(DIRTY_DESCRIPTION) == CLEAN_DESCRIPTION
    assert neutralise_text("\udfff\ufffe\uffff\x9f\x80") == "\ufffd" * 5
    pictures = "".join(chr(0x2400 + c) for c in range(0x20))
    expected = pictures[:9] + "\t\n" + pictures[11:13] + "\r" + pictures[14:]
    assert neutralise_text("".join(map(chr, range(0x20)))) == expected
    # Tab, line feed and carriage return are kept: every output holds them.
    assert neutralise_text("a\tb\nc\rd Zoë Ñ 日本 😀") == "a\tb\nc\rd Zoë Ñ 日本 😀"
    neutralise_text(DIRTY_NAME + DIRTY_DESCRIPTION).encode("utf-8")  # no surrogate left


def test_neutralise_frame_counts_per_column_and_leaves_the_rest() -> None:
    frame = pd.DataFrame(
        {
            # A lone surrogate keeps the column in Python storage (Arrow holds UTF-8 only).
            "display_name": model.text([DIRTY_NAME, "Alice", None, "x\x1by"]),
            "upn": pd.array(["bob@x", "alice@x", None, "y@x"], dtype="string"),
            "created_at": pd.to_datetime(["2019-01-01"] * 4, utc=True),
        }
    )
    out, counts = neutralise_frame(frame, "accounts")
    assert counts == {"accounts.display_name": 2}
    assert out["display_name"].tolist() == [CLEAN_NAME, "Alice", pd.NA, "x\u241by"]
    assert out["upn"].equals(frame["upn"]) and out["created_at"].equals(frame["created_at"])
    # Clean again, the text is stored as every other text column is.
    assert out["display_name"].dtype == pd.api.types.pandas_dtype(model.STRING)
    assert str(out["display_name"].dtype) == "string"
    same, none = neutralise_frame(frame.iloc[1:2], "accounts")
    assert none == {} and same is not None


def test_text_in_arrow_is_searched_for_the_same_characters() -> None:
    # Every code point Arrow can hold (all but the surrogates), one a value, and in text:
    # Arrow's search (RE2) and the Python one agree on each of them.
    points = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    values = [chr(c) for c in points] + [f"name {chr(c)} end" for c in range(0x100)]
    column = pd.Series(values, dtype=model.STRING)
    assert isinstance(column.array, pd.arrays.ArrowStringArray)
    out, counts = neutralise_frame(pd.DataFrame({"name": column}), "feed")
    expected = [neutralise_text(v) for v in values]
    assert out["name"].tolist() == expected
    assert counts == {"feed.name": sum(a != b for a, b in zip(values, expected, strict=True))}
    assert counts["feed.name"] == 2 * (29 + 1 + 32) + 2  # C0 (less TAB LF CR), DEL, C1; U+FFFE/F


def test_a_large_frame_is_searched_in_threads_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    from licensewatch.rules import neutralise

    frame = pd.DataFrame(
        {
            "display_name": model.text([DIRTY_NAME, "Alice", None, "x\x1by"]),
            "upn": pd.Series(["bob@x", "al\x07ice@x", None, "y@x"], dtype=model.STRING),
            "mail": pd.Series(["a@x", "b@x", None, "c\x85@x"], dtype=model.STRING),
            "city": pd.Series(["Geneva", "Nairobi", None, "Bangkok"], dtype=model.STRING),
            "created_at": pd.to_datetime(["2019-01-01"] * 4, utc=True),
        }
    )
    alone, alone_counts = neutralise_frame(frame, "accounts")
    searched_in: set[str] = set()
    hits = neutralise._hits

    def spy(series: pd.Series) -> pd.Series | None:
        searched_in.add(threading.current_thread().name)
        return hits(series)

    monkeypatch.setattr(neutralise, "_hits", spy)
    monkeypatch.setattr(neutralise, "PARALLEL_VALUES", 0)
    monkeypatch.setattr(neutralise.os, "cpu_count", lambda: 2)
    threaded, counts = neutralise_frame(frame, "accounts")
    assert searched_in and all(name.startswith("neutralise") for name in searched_in)
    assert counts == alone_counts == {
        "accounts.display_name": 2, "accounts.upn": 1, "accounts.mail": 1,
    }  # fmt: skip
    assert list(counts) == ["accounts.display_name", "accounts.upn", "accounts.mail"]
    pd.testing.assert_frame_equal(threaded, alone)
    assert threaded["city"].equals(frame["city"])


def test_a_clean_arrow_column_is_returned_as_it_was() -> None:
    frame = pd.DataFrame({"upn": pd.Series(["a@x", None, "Zoë 😀"], dtype=model.STRING)})
    out, counts = neutralise_frame(frame, "accounts")
    assert out is frame and counts == {}


def _dirty_org(root: Path, config: str = orgfiles.CONFIG) -> Path:
    org = orgfiles.write_org(
        root,
        config=config,
        phones=orgfiles.PHONES.replace("Legal lobby", DIRTY_DESCRIPTION),
    )
    page = root / "exports" / "graph" / "users_0001.json"
    doc = json.loads(page.read_text(encoding="utf-8"))
    doc["value"][1]["displayName"] = DIRTY_NAME
    # json.dumps escapes the lone surrogate as "\ud800": the file is valid JSON and UTF-8.
    page.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    assert "\\ud800" in page.read_text(encoding="utf-8")
    return org


def _check_outputs(org: Path) -> None:
    reports = org.parent / "reports" / orgfiles.AS_OF
    summary = json.loads((reports / "run_summary.json").read_text(encoding="utf-8"))
    assert summary["neutralised_values"] == {"accounts.display_name": 1, "phones.description": 1}
    findings = (reports / "findings.csv").read_text(encoding="utf-8")
    assert CLEAN_NAME in findings and CLEAN_DESCRIPTION in findings
    book = load_workbook(reports / "finance_summary.xlsx", read_only=True)
    sheets = book.worksheets
    cells = {str(c) for ws in sheets for row in ws.iter_rows(values_only=True) for c in row}
    book.close()
    assert CLEAN_NAME in cells and CLEAN_DESCRIPTION in cells
    assert "Finance" in (reports / "finance_summary.html").read_text(encoding="utf-8")
    bodies: dict[str, str] = {}
    for eml in (org.parent / "outbox").glob("*.eml"):
        message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
        for part in message.walk():
            if not part.is_multipart():
                bodies[part.get_content_type()] = bodies.get(part.get_content_type(), "") + str(
                    part.get_content()
                )
    # The focal points' emails, plain text and HTML, name both as the outputs above do.
    for kind in ("text/plain", "text/html"):
        assert CLEAN_NAME in bodies[kind] and CLEAN_DESCRIPTION in bodies[kind], kind


def _stored_names(url: str) -> set[str]:
    engine = store.open_engine(url)
    try:
        with engine.connect() as conn:
            return {
                row[0] for row in conn.execute(text("select display_name from findings")) if row[0]
            }
    finally:
        engine.dispose()


def test_a_night_with_dirty_directory_text_runs_and_writes_every_output_on_sqlite(
    tmp_path: Path,
) -> None:
    org = _dirty_org(tmp_path / "org")
    assert main(["run", "--config", str(org), "--as-of", orgfiles.AS_OF]) == 0
    _check_outputs(org)
    names = _stored_names(f"sqlite:///{org.parent / 'licensewatch.db'}")
    assert {CLEAN_NAME, CLEAN_DESCRIPTION} <= names


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:  # noqa: F811 - fixture injection
    with fresh_schema(pg_server_url, "lw_dirty") as url:
        yield url


@pytest.mark.postgres
def test_a_night_with_dirty_directory_text_runs_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    config = orgfiles.CONFIG.replace('url = "sqlite:///licensewatch.db"', f'url = "{pg_url}"')
    org = _dirty_org(tmp_path / "org", config)
    assert main(["run", "--config", str(org), "--as-of", orgfiles.AS_OF]) == 0
    _check_outputs(org)
    assert {CLEAN_NAME, CLEAN_DESCRIPTION} <= _stored_names(pg_url)
