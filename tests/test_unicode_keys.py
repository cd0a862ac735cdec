"""Join keys compare in Unicode NFC, case-folded: a decomposed "Légal" is still Légal."""

from __future__ import annotations

import csv
import json
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def _folded_in_python(values: list[str | None]) -> list[object]:
    return [(model.fold_key(v) or pd.NA) if isinstance(v, str) else pd.NA for v in values]


def test_norm_key_folds_arrow_text_in_arrow_as_fold_key_does_every_ascii_character() -> None:
    # Every ASCII character alone, doubled, leading, trailing and inside a word: Python
    # strips U+001C..U+001F and U+000B/U+000C too, which Arrow's own ASCII trim does not.
    values: list[str | None] = [None, ""]
    for c in map(chr, range(128)):
        values += [c, c + c, f"{c}Ab", f"aB{c}", f"a{c}B", f" {c} ", f"{c}\u00c9{c}"]
    series = model.text(values, index=pd.RangeIndex(len(values))[::-1])
    assert model._arrow_fold(series) is not None  # the Arrow path is the one tested
    keys = model.norm_key(series)
    assert keys.tolist() == _folded_in_python(values)
    assert keys.index.equals(series.index)
    assert keys.dtype == pd.api.types.pandas_dtype(model.STRING)


#: ASCII letters and Python's whitespace, Unicode spaces, letters that fold to two, combining.
_KEY_CHARS = (
    "aZ9@._- \t\x0b\x1c\x1f\x85\xa0\u3000\u2028\u00c9\u00df\u0130\u0301\u01f0\ufb01\U0001f600"
)
_KEY_TEXT = st.text(alphabet=st.sampled_from(list(_KEY_CHARS)), max_size=8)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.none() | _KEY_TEXT, max_size=30))
def test_norm_key_of_arrow_text_is_fold_key_of_each_value(values: list[str | None]) -> None:
    # ASCII and not, spaces Python strips and Arrow does not, blanks, missing: one key each.
    assert model.norm_key(model.text(values)).tolist() == _folded_in_python(values)


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
