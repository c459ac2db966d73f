"""Latency the local target's router adds over calling a version directly.

Builds the demo repository in a temporary directory, starts the local environment, stages
the shop (hotfix/1.4.3) with 100 % of traffic, then sends N sequential requests to the
version's own port and N to the production port, interleaved one by one, each stream over
its own keep-alive connection. Prints p50/p90/p99/mean of both and the difference.

Run: `python bench/router_overhead.py [--requests 2000] [--path /healthz]`
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import math
import platform
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class _Client:
    """Sequential GETs over one keep-alive connection, timed in milliseconds."""

    def __init__(self, port: int, path: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.path = path
        self.samples: list[float] = []

    def hit(self, record: bool) -> None:
        started = time.perf_counter()
        self.conn.request("GET", self.path)
        response = self.conn.getresponse()
        response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise RuntimeError(f"GET {self.path} answered {response.status}")
        if record:
            self.samples.append(elapsed)


def _row(name: str, samples: list[float]) -> list[float]:
    values = [_percentile(samples, q) for q in (0.5, 0.9, 0.99)] + [statistics.fmean(samples)]
    print(f"{name:<16}" + "".join(f"{v:>10.3f}" for v in values))
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description="router latency overhead")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--path", default="/healthz")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere
    from examples.demo_repo import build_demo_repo
    from tools.deploy.target import VersionSpec
    from tools.deploy.targets.local import LocalTarget, LocalTargetConfig

    with tempfile.TemporaryDirectory(prefix="hotfix-bench-") as tmp:
        demo = build_demo_repo(Path(tmp) / "shop")
        target = LocalTarget(LocalTargetConfig(production_port=_free_port()), workspace=demo.path)
        try:
            staged = asyncio.run(target.stage(VersionSpec("bench", demo.fix_ref)))
            asyncio.run(target.set_weights({"bench": 100}))
            direct = _Client(int(staged.details["port"]), args.path)
            routed = _Client(target.config.production_port, args.path)
            for i in range(args.warmup + args.requests):
                direct.hit(record=i >= args.warmup)
                routed.hit(record=i >= args.warmup)
        finally:
            asyncio.run(target.shutdown())
    print(f"{args.requests} sequential GET {args.path} each, interleaved, keep-alive")
    print(f"Python {platform.python_version()} on {platform.system()} {platform.machine()}")
    print(f"{'latency (ms)':<16}{'p50':>10}{'p90':>10}{'p99':>10}{'mean':>10}")
    base = _row("direct", direct.samples)
    via = _row("via router", routed.samples)
    print(f"{'added':<16}" + "".join(f"{b - a:>10.3f}" for a, b in zip(base, via, strict=True)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
