"""Process plumbing shared by the benchmarks: the servers' process, and measured child processes.

Each measured thing (a nightly run, one Graph client, reconcile at scale) runs
in a fresh Python process, so that its time and peak memory are its own and
not those of the generator, the servers or an earlier measurement.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
GRAPH_SECRET_ENV = "LW_BENCH_GRAPH_SECRET"
AXL_PASSWORD_ENV = "LW_BENCH_AXL_PASSWORD"


@dataclass
class Servers:
    """The servers' process and where its servers listen."""

    process: subprocess.Popen[str]
    info: dict[str, Any]

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the servers' process has used so far (Linux ``/proc``)."""
        with open(f"/proc/{self.process.pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rpartition(")")[2].split()
        utime, stime = int(fields[11]), int(fields[12])
        return (utime + stime) / os.sysconf("SC_CLK_TCK")

    @property
    def graph(self) -> str:
        """Base URL of the Graph and Entra ID stand-in."""
        return str(self.info["graph"])

    @property
    def cucm(self) -> str:
        """Base URL of the AXL/RisPort stand-in."""
        return str(self.info["cucm"])

    @property
    def ca_bundle(self) -> str:
        """The self-signed certificate the clients must trust."""
        return str(self.info["ca_bundle"])

    @property
    def smtp_port(self) -> int:
        """Port of the SMTP sink."""
        return int(self.info["smtp_port"])

    def stats(self) -> dict[str, Any]:
        """Requests answered so far, per server and kind."""
        stdin, stdout = self._pipes()
        stdin.write("stats\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise RuntimeError("the servers' process ended unexpectedly")
        doc: dict[str, Any] = json.loads(line)
        return doc

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self.process.stdin is not None and self.process.stdout is not None
        return self.process.stdin, self.process.stdout


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process: ours, the repo importable, the bench secrets."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env[GRAPH_SECRET_ENV] = "bench-secret"
    env[AXL_PASSWORD_ENV] = "bench-password"
    env.update(extra or {})
    return env


@contextmanager
def servers(
    org_root: Path, work: Path, *, throttle: bool = False, max_seconds: float = 7200.0
) -> Iterator[Servers]:
    """Start ``benchmarks.servers`` for the organization in ``org_root``; stop it on exit."""
    info_path = work / f"servers-{os.getpid()}-{time.monotonic_ns()}.json"
    args = [sys.executable, "-m", "benchmarks.servers", "--org", str(org_root)]
    args += ["--info", str(info_path), "--max-seconds", str(max_seconds)]
    if throttle:
        args.append("--throttle")
    process = subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=child_env()
    )
    try:
        deadline = time.monotonic() + 600
        while not info_path.is_file():
            if process.poll() is not None:
                raise RuntimeError(f"the servers' process exited with {process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("the servers did not start within 10 minutes")
            time.sleep(0.1)
        info = json.loads(info_path.read_text(encoding="utf-8"))
        yield Servers(process, info)
    finally:
        if process.poll() is None and process.stdin is not None:
            try:
                process.stdin.write("quit\n")
                process.stdin.close()
            except BrokenPipeError:
                pass
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        info_path.unlink(missing_ok=True)


def run_module(
    module: str, *args: str, timeout: float = 3600.0, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m module args`` in a fresh process; raise with its stderr if it fails."""
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(env),
        cwd=ROOT,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{module} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


def diff(after: Mapping[str, Any], before: Mapping[str, Any]) -> dict[str, Any]:
    """Per-kind request counts between two :meth:`Servers.stats` answers."""
    out: dict[str, Any] = {}
    for server, counts in after.items():
        old = before.get(server, {})
        out[server] = {k: v - old.get(k, 0) for k, v in counts.items() if v - old.get(k, 0)}
    return out
