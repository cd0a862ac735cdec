"""Reconcile + price at scale, straight on the canonical frames.

    python -m benchmarks.reconcile_scale --accounts 1000000 --phones 1000000 --separations 100000

Builds the organization (:mod:`benchmarks.org`), reads its feeds into the
canonical frames in one process (Graph export pages, phone and HR CSVs, rate
card, exemptions) and pickles them; a fresh process then loads the frames and
times :func:`licensewatch.rules.reconcile.reconcile` and
:func:`licensewatch.rules.pricing.price` (with ``dormant_since`` filled as the
pipeline fills it on a first run). Its peak memory is the whole process's:
interpreter, the input frames and everything reconcile and price make.
"""

from __future__ import annotations

import argparse
import gc
import json
import pickle
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks import harness
from benchmarks import org as orgs
from licensewatch import model
from licensewatch.config import Policy, SourceSettings
from licensewatch.night.stages import peak_rss_mb

AS_OF = date(2019, 12, 31)
OWNER_MATCH = "upn_local_part"


def read_frames(org: orgs.Org) -> dict[str, Any]:
    """The organization's feeds as canonical frames, read by licensewatch's own sources."""
    from licensewatch.sources.cucm.inventory_csv import PhonesCsvSource
    from licensewatch.sources.graph.export import GraphExportSource
    from licensewatch.sources.hr.files import SeparationsCsvSource
    from licensewatch.sources.reference import read_exemptions, read_rate_card

    def settings(feed: str, kind: str, path: Path, **extra: str) -> SourceSettings:
        return SourceSettings(feed, kind, {"path": str(path), **extra}, org.root)

    accounts = GraphExportSource(settings("accounts", "graph-export", org.graph_dir)).pull()
    phones = PhonesCsvSource(
        settings("phones", "csv", org.phones_csv, owner_match=OWNER_MATCH)
    ).pull()
    separations = SeparationsCsvSource(settings("separations", "csv", org.separations_csv)).pull()
    return {
        "accounts": accounts.accounts,
        "licenses": accounts.licenses,
        "phones": phones.phones,
        "separations": separations.separations,
        "exemptions": read_exemptions(org.config_file("exemptions")),
        "rate_card": read_rate_card(org.config_file("rate_card")),
        "device_pools": org.device_pools,
        "as_of": org.as_of,
    }


def measure(frames_path: Path) -> dict[str, Any]:
    """Load the pickled frames, then time reconcile and price; peak memory of this process."""
    from licensewatch.rules.phone_history import HISTORY, apply_history
    from licensewatch.rules.pricing import price
    from licensewatch.rules.reconcile import reconcile

    with frames_path.open("rb") as fh:
        f = pickle.load(fh)
    gc.collect()
    inputs_mb = peak_rss_mb()
    as_of = pd.Timestamp(f["as_of"], tz="UTC")
    started = time.perf_counter()
    phones, _ = apply_history(f["phones"], model.empty(HISTORY), as_of)
    history_s = time.perf_counter() - started

    started = time.perf_counter()
    result = reconcile(
        f["accounts"], f["licenses"], phones, f["separations"], f["exemptions"],
        policy=Policy(), as_of=as_of, owner_match=OWNER_MATCH,
        device_pool_departments=f["device_pools"],
    )  # fmt: skip
    reconcile_s = time.perf_counter() - started
    reconcile_mb = peak_rss_mb()

    started = time.perf_counter()
    findings = result.findings
    since = findings["dormant_since"].fillna(as_of).astype(model.DATETIME)
    costed = price(findings.assign(dormant_since=since), f["rate_card"], as_of)
    price_s = time.perf_counter() - started
    return {
        "accounts": len(f["accounts"]),
        "licenses": len(f["licenses"]),
        "phones": len(f["phones"]),
        "separations": len(f["separations"]),
        "findings": len(costed),
        "inputs_mb": inputs_mb,
        "history_s": history_s,
        "reconcile_s": reconcile_s,
        "reconcile_peak_mb": reconcile_mb,
        "price_s": price_s,
        "peak_rss_mb": peak_rss_mb(),
    }


def run(org: orgs.Org, work: Path) -> dict[str, Any]:
    """Read ``org`` into frames in one process and measure in another; returns the figures."""
    frames = work / "frames.pkl"
    harness.run_module("benchmarks.reconcile_scale", "--prepare", str(org.root), str(frames))
    proc = harness.run_module("benchmarks.reconcile_scale", "--measure", str(frames))
    frames.unlink(missing_ok=True)
    doc: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return doc


def report(r: dict[str, Any]) -> str:
    """The figures as text, against the targets (10 s and 3 GB for 1M/1M/100k)."""
    both = r["reconcile_s"] + r["price_s"]
    return "\n".join(
        [
            f"reconcile + price: {r['accounts']:,} accounts ({r['licenses']:,} licences), "
            f"{r['phones']:,} phones, {r['separations']:,} separations → "
            f"{r['findings']:,} findings",
            f"  input frames loaded          {r['inputs_mb']:>8,.0f} MiB resident",
            f"  registration history         {r['history_s']:>8.2f} s (pipeline, before reconcile)",
            f"  reconcile                    {r['reconcile_s']:>8.2f} s",
            f"  price                        {r['price_s']:>8.2f} s",
            f"  reconcile + price            {both:>8.2f} s   (target < 10 s)",
            f"  peak memory of the process   {r['peak_rss_mb']:>8,.0f} MiB (target < 3,072 MiB)",
        ]
    )


def main() -> None:
    """Command line (``--prepare`` and ``--measure`` are the two child processes)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--phones", type=int, default=1_000_000)
    parser.add_argument("--separations", type=int, default=100_000)
    parser.add_argument("--work", type=Path, help="where to generate (default: a /tmp folder)")
    parser.add_argument("--prepare", nargs=2, metavar=("ORG", "FRAMES"), help=argparse.SUPPRESS)
    parser.add_argument("--measure", metavar="FRAMES", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        frames = read_frames(orgs.load(Path(args.prepare[0])))
        with Path(args.prepare[1]).open("wb") as fh:
            pickle.dump(frames, fh, protocol=pickle.HIGHEST_PROTOCOL)
        return
    if args.measure:
        print(json.dumps(measure(Path(args.measure))))
        return
    with tempfile.TemporaryDirectory(prefix="lw-bench-", dir=args.work) as tmp:
        org = orgs.build(
            Path(tmp) / "org",
            args.accounts,
            as_of=AS_OF,
            phones=args.phones,
            separations=args.separations,
        )
        print(report(run(org, Path(tmp))))


if __name__ == "__main__":
    main()
