"""Join keys compare in Unicode NFC, case-folded: a decomposed "Légal" is still Légal."""

from __future__ import annotations

import csv
import json
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pandas as pd
import pytest

from licensewatch import model
from licensewatch.cli.parser import main
from licensewatch.notify.compose import notice_key
from tests import orgfiles

DECOMPOSED = "Le\u0301gal"  # "e" + COMBINING ACUTE ACCENT, as some directories store it
COMPOSED = "L\u00e9gal"  # "é" as one code point, as the focal points file has it


def test_fold_key_is_nfc_casefolded_and_stripped() -> None:
    assert DECOMPOSED != COMPOSED
    assert model.fold_key(DECOMPOSED) == model.fold_key(COMPOSED) == "légal"
    assert model.fold_key(" LE\u0301GAL\t") == "légal"
    # Folding can decompose (U+01F0 folds to "j" + COMBINING CARON): NFC again after it.
    assert model.fold_key("\u01f0") == "\u01f0"
    assert model.fold_key("Stra\u00dfe") == model.fold_key("STRASSE")
    keys = model.norm_key(
        pd.Series(["jose\u0301@contoso.org", "JOS\u00c9@contoso.org", "  ", None], dtype="string")
    )
    assert keys.tolist() == ["josé@contoso.org", "josé@contoso.org", pd.NA, pd.NA]


def test_norm_key_in_chunks_is_norm_key_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # 7 values in chunks of 3, under a shuffled index; one chunk holds a lone surrogate
    # (Python storage, model.text), the others not: the column is one dtype throughout.
    values = ["A ", None, "Stra\u00dfe", "x\ud800", "Le\u0301gal", "", "JOS\u00c9"]
    series = pd.Series(values, index=[6, 0, 5, 1, 4, 2, 3], dtype=object)
    whole = model.norm_key(series)
    clean = model.norm_key(series.drop(1))
    monkeypatch.setattr(model, "FOLD_CHUNK", 3)
    pd.testing.assert_series_equal(model.norm_key(series), whole)
    pd.testing.assert_series_equal(model.norm_key(series.drop(1)), clean)
    assert whole.tolist() == ["a", pd.NA, "strasse", "x\ud800", "légal", pd.NA, "josé"]
    assert whole.index.tolist() == [6, 0, 5, 1, 4, 2, 3]
    assert clean.dtype == pd.api.types.pandas_dtype(model.STRING)
    assert model.norm_key(series.iloc[:0]).empty


def test_the_message_key_of_a_department_does_not_depend_on_its_normal_form() -> None:
    day = pd.Timestamp("2019-12-31", tz="UTC")
    assert notice_key(day, DECOMPOSED) == notice_key(day, COMPOSED)


def test_a_decomposed_graph_department_routes_to_its_focal_point(tmp_path: Path) -> None:
    org = orgfiles.write_org(
        tmp_path / "org",
        focal_points=orgfiles.FOCAL_POINTS.replace("Legal,", f"{COMPOSED},"),
        config=orgfiles.CONFIG.replace('"DP_LEGAL" = "Legal"', '"DP_LEGAL" = "LE\\u0301GAL"'),
    )
    graph = tmp_path / "org" / "exports" / "graph"
    for page in graph.glob("users_*.json"):
        doc = json.loads(page.read_text(encoding="utf-8"))
        for user in doc["value"]:
            if user["department"] == "Legal":
                user["department"] = DECOMPOSED
        page.write_text(json.dumps(doc), encoding="utf-8")
    assert main(["run", "--config", str(org), "--as-of", orgfiles.AS_OF]) == 0

    reports = tmp_path / "org" / "reports" / orgfiles.AS_OF
    with (reports / "unassigned.csv").open(encoding="utf-8", newline="") as f:
        unassigned = {row["subject"] for row in csv.DictReader(f)}
    assert unassigned == {"frank@contoso.org"}  # only the account with no department at all
    legal = [
        BytesParser(policy=policy.default).parsebytes(p.read_bytes())
        for p in (tmp_path / "org" / "outbox").glob("*.eml")
        if "fp.legal@contoso.org" in p.read_text(encoding="utf-8", errors="replace")
    ]
    assert len(legal) == 1
    body = legal[0].get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    for subject in ("carol@contoso.org", "dave@contoso.org", "erin@contoso.org", "SEP000000000003"):
        assert subject in text
