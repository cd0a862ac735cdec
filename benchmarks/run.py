"""The whole nightly job against local servers, measured stage by stage.

    python -m benchmarks.run --accounts 60000 1000000

For each N: generate the organization (:mod:`benchmarks.org`, into a /tmp
folder removed afterwards unless ``--keep``), start the local Graph,
AXL/RisPort and SMTP servers in their own process (:mod:`benchmarks.servers`),
write a config that reads accounts live from Graph (``kind = "graph"``),
phones live from AXL/RisPort (``kind = "cucm"``) and HR separations from CSV,
and run the job once on a fresh database in a fresh process
(:mod:`benchmarks.night`). Prints time and memory per stage, the requests each
source made, the email delivery over SMTP, and (``--sdk``) our Graph pull
against msgraph-sdk on the same server. With several N, a scaling table.

Throughput runs (the default) switch throttling off: no Graph 429s, no RisPort
rate control, and the client's ``risport_rate_per_minute`` at its maximum
(1000). ``--throttle`` is a behaviour run: every 10th Graph users request is
answered 429 (Retry-After 1 s), RisPort refuses more than 15 requests a minute,
and the client keeps RisPort's real limit (15 a minute).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks import harness, sdk_compare
from benchmarks import org as orgs
from benchmarks.cucm_server import USERNAME
from benchmarks.servers import CLIENT, TENANT

AS_OF = date(2019, 12, 31)
STAGE_NAMES = {
    "pull accounts": "pull accounts (Graph)",
    "pull phones": "pull phones (AXL + RisPort)",
    "read separations": "read HR separations (CSV)",
    "reconcile": "reconcile",
    "price": "price",
    "compose emails": "compose emails",
    "deliver emails": "deliver emails (directory transport)",
    "write reports": "reports (CSV files, run summary)",
    "write finance reports": "reports (finance XLSX + HTML)",
    "store": "store (SQLite)",
}
CONFIG = """\
# Written by benchmarks.run: the sources are the local servers of benchmarks.servers.
[database]
url = "sqlite:///{night}/licensewatch.db"

[sources.accounts]
kind = "graph"
tenant_id = "{tenant}"
client_id = "{client}"
client_secret_env = "{secret_env}"
authority = "{graph}"
graph_url = "{graph}/v1.0"
ca_bundle = "{ca}"

[sources.phones]
kind = "cucm"
axl_url = "{cucm}/axl/"
username = "{user}"
password_env = "{password_env}"
ca_bundle = "{ca}"
owner_match = "upn_local_part"
risport_rate_per_minute = {rate}

[sources.separations]
kind = "csv"
path = "{org}/separations.csv"

[rate_card]
path = "{org}/config/rate_card.csv"

[focal_points]
path = "{org}/config/focal_points.csv"

[exemptions]
path = "{org}/config/exemptions.csv"

[mail]
transport = "directory"
directory = "{night}/outbox"
from = "licensewatch@example.org"
organization = "Benchmark Organization"
escalation_to = ["ict-steering@example.org"]
unassigned_to = ["ict-licensing@example.org"]

[reports]
dir = "{night}/reports"

[routing.device_pools]
{pools}
"""


def write_config(org: orgs.Org, srv: harness.Servers, night: Path, throttle: bool) -> Path:
    """The run's licensewatch.toml, pointing at the servers of ``srv``."""
    night.mkdir(parents=True, exist_ok=True)
    text = CONFIG.format(
        night=night, tenant=TENANT, client=CLIENT, secret_env=harness.GRAPH_SECRET_ENV,
        graph=srv.graph, ca=srv.ca_bundle, cucm=srv.cucm, user=USERNAME,
        password_env=harness.AXL_PASSWORD_ENV, rate=15 if throttle else 1000, org=org.root,
        pools="\n".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in org.device_pools.items()),
    )  # fmt: skip
    path = night / "licensewatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def measure_night(
    org: orgs.Org, work: Path, *, throttle: bool, sdk: bool, smtp: bool, keep: bool = False
) -> dict[str, Any]:
    """Serve ``org``, run the job once, and optionally compare Graph clients; the figures.

    With ``keep`` the night's folder (database, reports, outbox) stays, for
    :mod:`benchmarks.compare_outputs`.
    """
    night = work / f"night-{org.accounts}"
    with harness.servers(org.root, work, throttle=throttle) as srv:
        config = write_config(org, srv, night, throttle)
        before = srv.stats()
        servers_cpu = srv.cpu_s()
        stolen = steal_s()
        result = night / "result.json"
        args = ["--config", str(config), "--as-of", org.as_of.isoformat(), "--result", str(result)]
        if smtp:
            args += ["--smtp-port", str(srv.smtp_port)]
        harness.run_module("benchmarks.night", *args, timeout=4 * 3600)
        doc: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
        doc["servers_cpu_s"] = srv.cpu_s() - servers_cpu
        doc["steal_s"] = steal_s() - stolen
        doc["requests"] = harness.diff(srv.stats(), before)
        doc["sdk"] = sdk_compare.compare(srv, timeout=4 * 3600) if sdk else []
    if not keep:
        shutil.rmtree(night, ignore_errors=True)
    return doc


def steal_s() -> float:
    """CPU seconds the hypervisor has taken from this virtual machine's cores so far (Linux)."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = fh.readline().split()
    except OSError:
        return 0.0
    return int(fields[8]) / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else 0.0


def _sizes(org: orgs.Org) -> str:
    return (
        f"{org.accounts:,} licensed accounts ({org.users:,} user objects in {org.pages:,} "
        f"Graph pages), {org.phones:,} phones, {org.separations:,} HR separations, "
        f"{org.departments} departments"
    )


def stage_table(org: orgs.Org, doc: dict[str, Any], generate_s: float) -> str:
    """Time and memory per stage, requests per source, email delivery."""
    lines = [
        f"N = {org.accounts:,}: {_sizes(org)}",
        f"  (organization generated in {generate_s:.1f} s, not part of the night)",
        f"  {'stage':<48} {'seconds':>8} {'CPU s':>7} {'peak MiB':>9} {'high-water MiB':>15}",
    ]
    for s in doc["stages"]:
        name = STAGE_NAMES.get(s["name"], s["name"])
        lines.append(
            f"  {name:<48} {s['seconds']:>8.2f} {s.get('cpu_s', float('nan')):>7.2f} "
            f"{s['peak_mb']:>9,.0f} {s['hwm_mb']:>15,.0f}"
        )
    for joint in doc.get("together") or []:
        shown = [STAGE_NAMES.get(n, n) for n in joint["names"]]
        short = [name.split(" (")[0] for name in shown]
        names = " + ".join(short if len(set(short)) == len(short) else shown)
        lines.append(f"  {'  at the same time: ' + names:<48} {joint['seconds']:>8.2f}")
    if doc.get("together"):
        lines.append("    (their CPU s: the whole job's while they ran, its processes included)")
    for name, cpu_s, peak_mb in doc.get("processes") or []:
        lines.append(
            f"  {'  in a process of its own: ' + name:<48} {'':>8} {cpu_s:>7.2f} {peak_mb:>9,.0f}"
        )
    lines.append(
        f"  {'other (config, files, database, history, brake)':<48} {doc['other_s']:>8.2f}"
    )
    lines.append(
        f"  {'whole night':<48} {doc['total_s']:>8.2f} "
        f"{doc.get('total_cpu_s', float('nan')):>7.2f} {doc['peak_rss_mb']:>9,.0f}"
    )
    if doc.get("peak_with_children_mb", 0) > doc["peak_rss_mb"]:
        lines.append(
            f"  {'  with its forked processes (sum of PSS)':<48} "
            f"{'':>8} {'':>7} {doc['peak_with_children_mb']:>9,.0f}"
        )
    if "servers_cpu_s" in doc:
        both = doc["servers_cpu_s"] + doc.get("total_cpu_s", 0.0)
        lines.append(
            f"  local servers' CPU s during the night: {doc['servers_cpu_s']:.2f} "
            f"(with the job's: {both:.2f} CPU s on {os.cpu_count()} cores, "
            f"at least {both / (os.cpu_count() or 1):.2f} s of wall time)"
        )
    if "steal_s" in doc:
        lines.append(
            f"  CPU s taken by the hypervisor (steal) during the night: {doc['steal_s']:.2f}"
        )
    if "load_average" in doc:
        lines.append(f"  load average when the night ended: {doc['load_average']}")
    smtp = doc.get("smtp")
    if smtp:
        lines.append(
            f"  {'  of which SMTP delivery (outbox → aiosmtpd)':<48} {smtp['seconds']:>8.2f} "
            f"{smtp['peak_mb']:>9,.0f}   {smtp['messages']} messages sent"
        )
    lines.append(
        f"  result: {doc['status']}, {doc['findings']:,} findings, {doc['notices']} emails"
    )
    lines += request_lines(org, doc["requests"])
    return "\n".join(lines)


def request_lines(org: orgs.Org, req: dict[str, Any]) -> list[str]:
    """Requests per source, and whether Graph made exactly one request per page."""
    g, c = req.get("graph", {}), req.get("cucm", {})
    pages = math.ceil(org.users / orgs.PAGE_SIZE)
    served = g.get("users.pages", 0)
    retried = g.get("users.429", 0)
    once = g.get("users", 0) - retried == served == pages
    verdict = "exactly one per page" if once else "NOT one per page"
    if retried:
        verdict += f", plus {retried} retried after 429"
    ris = c.get("selectCmDeviceExt", 0)
    return [
        f"  requests: Graph {sdk_compare.requests_made(g)}: users {g.get('users', 0)} for "
        f"{pages} pages ({verdict}), subscribedSkus "
        f"{g.get('subscribedSkus', 0)}, token {g.get('token', 0)}, OpenID {g.get('openid', 0)}",
        f"            AXL {c.get('executeSQLQuery', 0) + c.get('listPhone', 0)} "
        f"(executeSQLQuery {c.get('executeSQLQuery', 0)}, of which "
        f"{c.get('executeSQLQuery.too_large', 0)} 'too large'), RisPort {ris} "
        f"({c.get('selectCmDeviceExt.rate_control', 0)} rate-controlled; "
        f"{math.ceil(org.phones / 1000)} batches of 1,000)",
        f"            SMTP {req.get('smtp', {}).get('messages', 0)} messages",
        f"  RisPort floor at its real limit (15/min): {risport_floor(org.phones)}",
    ]


def risport_floor(phones: int, rate: int = 15) -> str:
    """The time RisPort's rate limit alone sets for ``phones`` phones (as cucm_pull computes)."""
    batches = math.ceil(phones / 1000)
    burst = (math.ceil(batches / rate) - 1) * 60.0
    return f"{batches} requests ≥ {burst / 60:,.1f} min (steady rate: {batches / rate:,.1f} min)"


def scaling_table(results: list[tuple[orgs.Org, dict[str, Any]]]) -> str:
    """Each stage's seconds at every N, and how they grow against the size."""
    (small, a), (large, b) = results[0], results[-1]
    size = large.users / small.users
    lines = [
        f"scaling {small.accounts:,} → {large.accounts:,} (size x{size:.1f}):",
        f"  {'stage':<48} {'s small':>8} {'s large':>8} {'time x':>7} {'per size':>9}",
    ]
    pairs = zip(a["stages"], b["stages"], strict=True)
    rows = [(s["name"], s["seconds"], t["seconds"]) for s, t in pairs]
    rows.append(("whole night", a["total_s"], b["total_s"]))
    for name, x, y in rows:
        ratio = y / x if x else float("nan")
        lines.append(
            f"  {STAGE_NAMES.get(name, name):<48} {x:>8.2f} {y:>8.2f} {ratio:>7.1f} "
            f"{ratio / size:>9.2f}"
        )
    lines.append("  (per size 1.00 = linear; below 1 = better than linear)")
    return "\n".join(lines)


def machine() -> str:
    """This machine, as BENCHMARKS.md records it."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}; "
        f"load average {load}"
    )


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[60_000])
    parser.add_argument("--throttle", action="store_true", help="behaviour run (see above)")
    parser.add_argument("--sdk", action="store_true", help="compare with msgraph-sdk too")
    parser.add_argument("--sdk-max", type=int, default=100_000, help="largest N for --sdk")
    parser.add_argument("--no-smtp", action="store_true", help="skip the SMTP delivery")
    parser.add_argument("--work", type=Path, help="parent of the work folder (default /tmp)")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the generated organizations and the nights' outputs",
    )
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"mode: {'behaviour (throttling on)' if args.throttle else 'throughput (no throttling)'}")
    work = Path(tempfile.mkdtemp(prefix="lw-bench-", dir=args.work))
    results: list[tuple[orgs.Org, dict[str, Any]]] = []
    try:
        for n in args.accounts:
            started = time.perf_counter()
            org = orgs.build(work / f"org-{n}", n, as_of=AS_OF)
            generate_s = time.perf_counter() - started
            sdk = args.sdk and n <= args.sdk_max
            doc = measure_night(
                org, work, throttle=args.throttle, sdk=sdk, smtp=not args.no_smtp, keep=args.keep
            )
            results.append((org, doc))
            print()
            print(stage_table(org, doc, generate_s))
            if doc["sdk"]:
                print(f"  Graph pull, same {org.pages} pages from the same local server:")
                print("  " + sdk_compare.table(doc["sdk"], org.pages).replace("\n", "\n  "))
            elif args.sdk and not sdk_compare.sdk_available():
                print("  (msgraph-sdk is not installed: pip install '.[bench]' to compare)")
            elif args.sdk:
                print(f"  (msgraph-sdk comparison skipped above --sdk-max {args.sdk_max:,})")
            if not args.keep:
                shutil.rmtree(org.root, ignore_errors=True)
        if len(results) > 1:
            print()
            print(scaling_table(results))
        print()
        print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
