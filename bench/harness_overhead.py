"""Harness overhead per tool round trip: our loop vs openai-agents and pydantic-ai.

Every framework replays the same script with a scripted model (no model calls): `--turns`
assistant turns, each calling one trivial read tool (`echo`, `{"text": "ping"}`), then a
final text turn. Ours runs through `run_session` exactly as a front end would (config,
agent definition, gate, journal with fsync per event); openai-agents runs a scripted
`agents.Model` and pydantic-ai its `FunctionModel` (drivers in `bench/_peers.py`).

Each measurement is a fresh subprocess that warms up with one run and then times one run.
Repetitions are interleaved (the framework order rotates every repetition) so that machine
noise hits all of them alike; the report gives median total time, total / turns per round
trip, and the ratio to ours. `ours-nofsync` is a diagnostic only: the same run with
`os.fsync` patched to a no-op, to show what the journal's durability costs.

Set up the peers once, in their own venv (never the project's)::

    python3 -m venv /tmp/peers-venv
    /tmp/peers-venv/bin/pip install openai-agents pydantic-ai-slim

Run: `.venv/bin/python bench/harness_overhead.py --peer-python /tmp/peers-venv/bin/python
[--turns 200] [--reps 5]`. Without a usable `--peer-python`, only ours is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PEERS_SCRIPT = ROOT / "bench" / "_peers.py"
PROMPT = "Call echo until you are done."
FINAL_TEXT = "done"
OURS = ("ours", "ours-nofsync", "ours-breakdown")
PEERS = ("openai-agents", "pydantic-ai")

_DEFINITION = """---
name: bench
description: Harness overhead benchmark.
tools: ['echo']
---
Call echo until you are done.
"""

_CONFIG = """[limits]
max_turns = {limit}
max_tool_calls = {limit}
token_budget = 1000000000
"""


def _script(turns: int) -> dict[str, Any]:
    call = {"type": "tool_use", "name": "echo", "input": {"text": "ping"}}
    return {
        "turns": [[dict(call)] for _ in range(turns)] + [[{"type": "text", "text": FINAL_TEXT}]]
    }


async def _run_ours(turns: int) -> tuple[float, int]:
    """One timed `run_session` over a fresh workspace; returns (ms, tool calls)."""
    sys.path.insert(0, str(ROOT))
    from agent.approvers import DenyAllApprover
    from agent.models.scripted import ScriptedModel
    from agent.session import SessionOptions, run_session
    from tools.base import Effect, Tool, ToolArgs, ToolContext, ToolResult

    class EchoArgs(ToolArgs):
        text: str

    class EchoTool(Tool):
        name = "echo"
        description = "Echo the text back."
        args_model = EchoArgs
        effect = Effect.READ

        async def run(self, args: EchoArgs, ctx: ToolContext) -> ToolResult:
            del ctx
            return ToolResult(text=f"echo: {args.text}")

    with tempfile.TemporaryDirectory(prefix="bench-ours-") as tmp:
        workspace = Path(tmp)
        agents_dir = workspace / ".github" / "agents"
        agents_dir.mkdir(parents=True)
        (agents_dir / "bench.agent.md").write_text(_DEFINITION, encoding="utf-8")
        (workspace / "hotfix.toml").write_text(_CONFIG.format(limit=turns + 10), encoding="utf-8")
        model = ScriptedModel.from_data(_script(turns))
        options = SessionOptions(
            description=PROMPT,
            workspace=workspace,
            approver=DenyAllApprover(),
            model_client=model,
            extra_tools=[EchoTool()],
            agent="bench",
        )
        started = time.perf_counter()
        result = await run_session(options)
        elapsed = (time.perf_counter() - started) * 1000
    if result.status != "completed" or result.final_text != FINAL_TEXT:
        raise RuntimeError(f"run ended {result.status}: {result.detail}")
    return elapsed, result.tool_calls


def _worker(kind: str, turns: int) -> None:
    if kind == "ours-nofsync":
        os.fsync = lambda fd: None  # diagnostic only: what the journal's fsync costs
    spent = _instrument() if kind == "ours-breakdown" else {}
    asyncio.run(_run_ours(turns))  # warm-up: imports, schema building
    spent.update(dict.fromkeys(spent, 0.0))
    elapsed, calls = asyncio.run(_run_ours(turns))
    if calls != turns:
        raise RuntimeError(f"tool ran {calls} times, expected {turns}")
    record = {"framework": kind, "version": _our_version(), "ms": elapsed, "tool_calls": calls}
    print(json.dumps({**record, **spent}))


def _instrument() -> dict[str, float]:
    """Wrap the scripted model and the journal to time them (diagnostic only)."""
    sys.path.insert(0, str(ROOT))
    from agent.journal import Journal
    from agent.models.base import ModelRequest, ModelResponse
    from agent.models.scripted import ScriptedModel

    spent = {"model_ms": 0.0, "journal_ms": 0.0}
    complete, write = ScriptedModel.complete, Journal.write

    async def timed_complete(self: ScriptedModel, request: ModelRequest) -> ModelResponse:
        started = time.perf_counter()
        try:
            return await complete(self, request)
        finally:
            spent["model_ms"] += (time.perf_counter() - started) * 1000

    def timed_write(self: Journal, event: Any) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            return write(self, event)
        finally:
            spent["journal_ms"] += (time.perf_counter() - started) * 1000

    ScriptedModel.complete = timed_complete
    Journal.write = timed_write
    return spent


def _our_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("hotfix-agent")
    except metadata.PackageNotFoundError:
        return "dev"


def _measure(kind: str, turns: int, peer_python: str | None) -> dict[str, Any]:
    if kind in OURS:
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", kind]
    else:
        command = [str(peer_python), str(PEERS_SCRIPT), kind]
    env = {**os.environ, "OPENAI_AGENTS_DISABLE_TRACING": "1"}
    done = subprocess.run(
        [*command, "--turns", str(turns)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env=env,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _peer_python_ok(peer_python: str | None) -> bool:
    if not peer_python or not Path(peer_python).exists():
        return False
    probe = subprocess.run(
        [peer_python, "-c", "import agents, pydantic_ai"], capture_output=True, check=False
    )
    return probe.returncode == 0


def _machine() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, load average {load}"
    )


def _report(samples: dict[str, list[dict[str, Any]]], turns: int) -> None:
    medians = {kind: statistics.median(s["ms"] for s in rows) for kind, rows in samples.items()}
    ours = medians["ours"]
    print(f"\n{turns} tool round trips + 1 final turn; median of {len(samples['ours'])} runs\n")
    print(
        "| framework | version | median total (ms) | per round trip (ms) | ratio vs ours "
        "| runs (ms) |"
    )
    print("|---|---|---|---|---|---|")
    for kind, rows in samples.items():
        label = f"{kind} (diagnostic only)" if kind == "ours-nofsync" else kind
        spread = ", ".join(f"{s['ms']:.0f}" for s in rows)
        print(
            f"| {label} | {rows[0]['version']} | {medians[kind]:.1f} | "
            f"{medians[kind] / turns:.3f} | {medians[kind] / ours:.2f} | {spread} |"
        )
    peers = [medians[k] for k in PEERS if k in medians]
    if peers:
        print(f"\nours / fastest peer = {ours / min(peers):.2f}")


def main() -> None:
    """Parse the command line; run as the orchestrator or as a measuring worker."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--peer-python", default=None)
    parser.add_argument(
        "--no-diagnostic",
        action="store_true",
        help="skip the fsync-disabled diagnostic run of ours",
    )
    parser.add_argument("--worker", choices=OURS, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        _worker(options.worker, options.turns)
        return
    kinds = ["ours"] + ([] if options.no_diagnostic else ["ours-nofsync"])
    if _peer_python_ok(options.peer_python):
        kinds += list(PEERS)
    else:
        print(
            "peer venv missing or incomplete; benchmarking ours only. Create it with:\n"
            "  python3 -m venv /tmp/peers-venv && "
            "/tmp/peers-venv/bin/pip install openai-agents pydantic-ai-slim\n"
            "and pass --peer-python /tmp/peers-venv/bin/python",
            file=sys.stderr,
        )
    print(_machine())
    samples: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    for rep in range(options.reps):
        order = kinds[rep % len(kinds) :] + kinds[: rep % len(kinds)]
        for kind in order:
            sample = _measure(kind, options.turns, options.peer_python)
            samples[kind].append(sample)
            print(f"rep {rep + 1}: {kind:14} {sample['ms']:9.1f} ms", flush=True)
    _report(samples, options.turns)
    if not options.no_diagnostic:
        _report_breakdown(options.turns)
    print(_machine())


def _report_breakdown(turns: int) -> None:
    rows = [_measure("ours-breakdown", turns, None) for _ in range(3)]
    row = min(rows, key=lambda r: r["ms"])
    rest = row["ms"] - row["model_ms"] - row["journal_ms"]
    print(
        f"\nbreakdown of ours (diagnostic only, fastest of 3 instrumented runs): total "
        f"{row['ms']:.0f} ms = scripted model {row['model_ms']:.0f} ms + journal.write "
        f"{row['journal_ms']:.0f} ms + loop, gate, tools {rest:.0f} ms"
    )


if __name__ == "__main__":
    main()
