"""The crash matrix behind tests/test_crash_points.py: kill `hotfix run` at journal point N.

Each worker owns a demo workspace with its own local production (daemon, router, ports) and
a fork server (crash_launcher.py), and takes kill points from a shared counter until a run
ends before being killed (N went past the run's last record). Between points the worker puts
production back on the release (v1.4.2 alone), which is cheaper than a new environment and
safe: every point is a new run with its own journal, and the environment's operation log is
read from the point's start.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crash_checks import check_resumed
from crash_launcher import Finished, ForkServer

from agent.config import load_config
from agent.demo import (
    DemoOptions,
    demo_description,
    prepare_workspace,
    start_production,
    write_demo_policy,
)
from agent.journal import read_journal
from tools.deploy.target import VersionSpec
from tools.deploy.targets.local import LocalTarget, shutdown_environment
from tools.deploy.targets.local.control import ControlClient

WORKERS = 4  # two per matrix: most of a point is waiting (process start, bake)
# Short windows and few checks: a full run deploys in about two seconds. The broken fix fails
# its 51st-60th catalogue requests, so its analysis needs 60 (fewer is inconclusive, which
# fails too) and a load to match. The good fix is judged on any number of requests at half
# that load, and latency counts only beyond a second: a busy machine must not roll it back.
COMPACT_CONFIG = """
[deploy]
target = "local"
[deploy.strategy]
default = "blue-green"
[deploy.strategy.blue_green]
bake_s = {bake_s}
[deploy.predeploy]
run_tests = false
[deploy.predeploy.tag]
enabled = false
[deploy.local]
production_port = {port}
state_dir = ".hotfix/local"
drain_timeout_s = 1
stop_timeout_s = 2
[deploy.verification.health]
consecutive_successes = 1
interval_s = 0.05
[deploy.verification.analysis]
window_s = 0.3
min_requests = {min_requests}
load_rps = {rps}
load_concurrency = 4
load_paths = ["/api/products"]
latency_floor_ms = 1000
[[deploy.verification.smoke]]
name = "catalogue"
path = "/api/products"
body_contains = ["COF-1"]
[[deploy.verification.smoke]]
name = "empty cart checks out to zero"
method = "POST"
path = "/api/checkout"
json_body = {{ items = [] }}
json_equals = {{ total_cents = 0 }}
"""
# Step kinds whose `started` record is also cut half-way (a torn tail) in a second pass.
TORN_KINDS = frozenset({"stage", "shift", "rollback"})


@dataclass
class MatrixReport:
    """What the matrix exercised and found."""

    variant: str
    records: int = 0  # journal records of a complete run
    clean: int = 0  # kill points right after a durable record
    torn: int = 0  # kill points half-way through a record
    seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict[str, int])
    failures: list[str] = field(default_factory=list[str])


# A full demo run has about 60 records; past this many points the end was never found.
_MAX_POINTS = 150


class _Points:
    """Kill points handed to the workers: N = 1, 2, ... until a run outlives its N."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 1
        self._end: int | None = None
        self._torn: list[int] = []

    def take(self) -> tuple[int, bool] | None:
        with self._lock:
            if self._torn:
                return self._torn.pop(), True
            if self._end is not None and self._next > self._end:
                return None
            if self._next > _MAX_POINTS:  # no run ever outlived its N: fail, don't spin
                return None
            self._next += 1
            return self._next - 1, False

    def ended_with(self, records: int) -> None:
        with self._lock:
            self._end = records if self._end is None else min(self._end, records)

    def add_torn(self, n: int) -> None:
        with self._lock:
            self._torn.append(n)

    @property
    def end(self) -> int | None:
        return self._end


class Production:
    """One worker's demo workspace and local production."""

    def __init__(self, root: Path, broken_fix: bool, port: int, *, bake_s: float = 0.4) -> None:
        self.repo = prepare_workspace(
            DemoOptions(port=port, directory=root / "shop", broken_fix=broken_fix)
        )
        self.workspace = self.repo.path
        (self.workspace / "hotfix.toml").write_text(
            COMPACT_CONFIG.format(
                port=port,
                bake_s=bake_s,
                min_requests=60 if broken_fix else 1,
                rps=200 if broken_fix else 100,
            )
        )
        self.policy = write_demo_policy(self.workspace)
        self.port = port
        self.description = demo_description(self.repo, broken_fix)
        self.target = LocalTarget(
            load_config(self.workspace).deploy.local, workspace=self.workspace
        )
        self.release = asyncio.run(start_production(self.target, self.repo))
        self.client = ControlClient(self.target.state_dir, timeout_s=60.0)

    def reset(self) -> None:
        """Production back to the release alone, with all traffic."""
        state = self.client.state()
        if self.release not in state["versions"]:
            asyncio.run(self.target.stage(VersionSpec(self.release, self.repo.production_ref)))
        if state["weights"] != {self.release: 100}:
            self.client.set_weights({self.release: 100})
        for label in set(state["versions"]) - {self.release}:
            self.client.retire(label)

    def operation_seq(self) -> int:
        return int(self.client.operations(10**9)["next"])

    def answer(self) -> tuple[int, dict[str, Any]]:
        """GET /healthz through the production router."""
        url = f"http://127.0.0.1:{self.port}/healthz"
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())

    def runs(self) -> set[Path]:
        return set((self.workspace / ".hotfix" / "runs").glob("*"))

    def shutdown(self) -> None:
        shutdown_environment(self.target.state_dir)


@dataclass
class _Variant:
    """One matrix (the fix, or the broken fix) and what its workers share."""

    broken_fix: bool
    report: MatrixReport
    points: _Points = field(default_factory=_Points)
    statuses: Counter[str] = field(default_factory=Counter[str])
    workers_left: int = 0


def run_matrices(tmp: Path, ports: list[int]) -> list[MatrixReport]:
    """Both matrices at once, the fix and the broken fix, on `len(ports)` workers.

    Worker i serves the fix when i is even, the broken fix when it is odd, with the
    production port `ports[i]`.
    """
    variants = [
        _Variant(False, MatrixReport("fix (deploy)")),
        _Variant(True, MatrixReport("broken fix (rollback)")),
    ]
    lock, started = threading.Lock(), time.monotonic()
    for index in range(len(ports)):
        variants[index % 2].workers_left += 1

    def worker(index: int) -> None:
        variant = variants[index % 2]
        report = variant.report
        root = tmp / f"w{index}"
        prod: Production | None = None
        server = ForkServer(root / "io", env=dict(os.environ))
        try:
            prod = Production(root, variant.broken_fix, ports[index])
            while (point := variant.points.take()) is not None:
                n, torn = point
                try:
                    outcome = _kill_and_resume(prod, server, n, torn, variant.points)
                except Exception as exc:  # report every point, not only the first failure
                    outcome = f"error: {type(exc).__name__}: {exc}"
                with lock:
                    if outcome is None:
                        continue
                    if outcome.startswith(("FAIL", "error")):
                        report.failures.append(f"N={n}{' torn' if torn else ''}: {outcome}")
                    else:
                        variant.statuses[outcome] += 1
                        report.torn += torn
                        report.clean += not torn
        except Exception as exc:
            with lock:
                report.failures.append(f"worker {index}: {type(exc).__name__}: {exc}")
        finally:
            server.close()
            if prod is not None:
                prod.shutdown()
            with lock:
                variant.workers_left -= 1
                if variant.workers_left == 0:
                    report.seconds = time.monotonic() - started

    with ThreadPoolExecutor(len(ports)) as pool:
        list(pool.map(worker, range(len(ports))))
    for variant in variants:
        variant.report.records = variant.points.end or 0
        variant.report.statuses = dict(variant.statuses)
    return [variant.report for variant in variants]


def _kill_and_resume(
    prod: Production, server: ForkServer, n: int, torn: bool, points: _Points
) -> str | None:
    """One kill point; the resumed run's status, "FAIL ..." or None (past the last record)."""
    prod.reset()
    seq0 = prod.operation_seq()
    before = prod.runs()
    killed = server.run(
        ["run", prod.description, "--workspace", str(prod.workspace), "--model", "runbook",
         "--approve", f"policy:{prod.policy}", "--json"],
        kill_after=n, torn=torn,
    )  # fmt: skip
    (run_dir,) = prod.runs() - before
    journal = run_dir / "journal.jsonl"
    if not killed.killed:
        records = len(read_journal(journal))
        # Past the last record the run ends by itself: 0 deployed, 4 completed but rolled back.
        if torn or killed.exit_code not in (0, 4) or records >= n:
            return f"FAIL run not killed: {_said(killed)}"
        points.ended_with(records)
        return None
    raw = journal.read_bytes()
    records = read_journal(journal)
    if torn:
        if raw.endswith(b"\n") or len(records) != n - 1:
            return f"FAIL expected a torn record {n} after {n - 1} whole ones"
    else:
        if not raw.endswith(b"\n") or len(records) != n:
            return f"FAIL expected exactly {n} durable records, read {len(records)}"
        last = records[-1]
        if last.get("type") == "step" and last["phase"] == "started" and last["kind"] in TORN_KINDS:
            points.add_torn(n)
    resumed = server.run(
        ["resume", run_dir.name, "--workspace", str(prod.workspace), "--approve",
         f"policy:{prod.policy}", "--json"]
    )  # fmt: skip
    problems = check_resumed(prod, run_dir, records, resumed, seq0)
    if problems:
        return f"FAIL run {run_dir.name}: " + "; ".join(problems) + _said(resumed)
    return json.loads(resumed.stdout)["status"]


def _said(done: Finished) -> str:
    return (
        f" [exit {done.exit_code}, signal {done.signal}; stdout {done.stdout[-400:]!r}; "
        f"stderr {done.stderr[-800:]!r}]"
    )
