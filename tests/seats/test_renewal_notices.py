"""Finance hears of a renewal once when it enters the horizon and once 30 days before it."""

from __future__ import annotations

import json
from pathlib import Path

from licensewatch.cli.parser import main
from tests import orgfiles
from tests.smtporg import rows

SUB = "43d26afe-cb98-48b9-acc4-ae3ef2ac6c51"


def _org(root: Path) -> Path:
    config = (
        orgfiles.CONFIG + '\n[finance]\nrenewal_horizon_days = 90\nnotify_to = "fin@contoso.org"\n'
    )
    path = orgfiles.write_org(root, config=config)
    fixture = (
        Path(__file__).resolve().parents[1] / "fixtures" / "graph_seats" / "subscriptions.json"
    )
    doc = json.loads(fixture.read_text(encoding="utf-8"))
    first = doc["value"][0]
    # The tiny org's SPE_E3, renewing on 2020-03-01: 61 days after 2019-12-31.
    first.update(skuId=orgfiles.E3, skuPartNumber="SPE_E3", totalLicenses=10)
    doc["value"] = [first]
    (root / "exports" / "graph" / "subscriptions.json").write_text(json.dumps(doc), "utf-8")
    return path


def _renewal_emails(db: Path) -> list[tuple[str, str]]:
    return [(k, s) for k, s in rows(db, "select key, subject from outbox where kind = 'renewal'")]


def test_one_notice_on_entering_the_horizon_and_one_30_days_before(tmp_path: Path) -> None:
    config = _org(tmp_path / "org")
    db = config.parent / "licensewatch.db"
    for day in ("2019-12-31", "2020-01-15"):  # 61, then 46 days left: inside 90, not yet 30
        assert main(["run", "--config", str(config), "--as-of", day]) == 0
    assert _renewal_emails(db) == [
        (f"renewal_{SUB}_2020-03-01_horizon",
         "[licensewatch] SPE_E3 renews on 2020-03-01: 8 seats could be cut"),
    ]  # fmt: skip
    for day in ("2020-02-01", "2020-02-10"):  # 29, then 20 days left
        assert main(["run", "--config", str(config), "--as-of", day]) == 0
    assert [k for k, _ in _renewal_emails(db)] == [
        f"renewal_{SUB}_2020-03-01_horizon",
        f"renewal_{SUB}_2020-03-01_30days",
    ]
    assert rows(db, "select stage, queued_on from renewal_notices order by id") == [
        ("horizon", "2019-12-31"),
        ("30 days", "2020-02-01"),
    ]
    sent = sorted((config.parent / "outbox").glob("*renewal*"))
    assert len(sent) == 2
    body = sent[0].read_text(encoding="utf-8")
    assert "To: fin@contoso.org" in body
