"""One hotfix run under a model-API fault: real session, real ClaudeModel, fake API + target.

`run_scenario` drives `run_session` with the real `ClaudeModel` (and SDK) against
`FakeMessagesApi`, deploying to an in-memory target approved by a policy file, and returns
what happened: HTTP requests, target operations, executed calls, the journal.

`python tests/model_faults_run.py` runs the whole matrix and prints the outcome table.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakes import FakeClock, MemoryTarget, MemoryVerifier
from model_faults_api import (
    MODEL,
    TURN_FAULTS,
    WIRE_FAULTS,
    FakeMessagesApi,
    Fault,
    Turn,
    conversation,
    faulty_turn,
)

from agent.approvers import PolicyFileApprover
from agent.config import ModelConfig
from agent.journal import read_journal
from agent.models.claude import ClaudeModel
from agent.session import SessionOptions, run_session

MAX_RETRIES = 2
READS = frozenset({"readFile", "hotfix_status", "hotfix_plan"})
APPROVALS = (
    'approve = ["hotfix_stage", "hotfix_verify", "hotfix_shift_traffic", "hotfix_promote"]\n'
)


@dataclass
class Outcome:
    """What one run did."""

    status: str
    stop_reason: str
    detail: str
    final_text: str
    attempts: Counter[int]  # HTTP requests per model call index
    bodies: list[dict[str, Any]]
    ops: list[tuple[str, Any]]  # operations that took effect on the target
    weights: dict[str, int]
    production_healthy: bool
    journal: list[dict[str, Any]]

    @property
    def requests(self) -> int:
        return sum(self.attempts.values())

    def executed(self) -> list[tuple[str, str]]:
        """(tool, fingerprint) of every call that ran, in order."""
        requested = {r["call_id"]: r for r in self.journal if r["type"] == "tool_requested"}
        return [
            (r["tool"], requested[r["call_id"]]["fingerprint"])
            for r in self.journal
            if r["type"] == "tool_finished" and r["status"] in ("ok", "error")
        ]

    def mutations(self) -> list[tuple[str, str]]:
        return [(tool, fp) for tool, fp in self.executed() if tool not in READS]

    def finished(self, call_id: str) -> dict[str, Any]:
        finished = [r for r in self.journal if r["type"] == "tool_finished"]
        return next(r for r in finished if r["call_id"] == call_id)

    def notices(self) -> list[str]:
        return [r["message"] for r in self.journal if r["type"] == "notice"]


def turns_with(kind: str | None, call: int) -> list[Turn]:
    """The conversation, with a bad turn of `kind` (a TURN_FAULT) inserted at `call`."""
    turns = conversation()
    if kind in TURN_FAULTS:
        turns.insert(call, faulty_turn(kind, turns[call], call))
    return turns


def _workspace(root: Path, config: str) -> Path:
    ws = Path(tempfile.mkdtemp(prefix="shop-", dir=root))
    (ws / "checkout.py").write_text(
        "def checkout_total(items):\n    return sum(i['price'] for i in items) / len(items)\n"
    )
    (ws / "hotfix.toml").write_text('[deploy.strategy]\ndefault = "canary"\n' + config)
    (ws / "approvals.toml").write_text(APPROVALS)
    return ws


async def run_scenario(
    root: Path, turns: list[Turn], fault: Fault | None = None, *, config: str = ""
) -> Outcome:
    """Run `turns` once under `fault`, in a fresh workspace below `root`.

    `config` is appended to the workspace's hotfix.toml.
    """
    ws = _workspace(root, config)
    api = FakeMessagesApi(turns, fault)
    clock = FakeClock()
    target = MemoryTarget(clock=clock)
    model = ClaudeModel(
        MODEL,
        ModelConfig(max_retries=MAX_RETRIES),
        http_client=api.client(),
        environ={"ANTHROPIC_API_KEY": "sk-ant-test-faults"},
        retry_backoff_s=0.001,
    )
    options = SessionOptions(
        description="checkout returns 500 on an empty cart; the fix is on hotfix/1.4.3",
        workspace=ws,
        approver=PolicyFileApprover(ws / "approvals.toml"),
        model_client=model,
        deploy_target=target,
        verifier=MemoryVerifier(target, clock=clock),
        deploy_clock=clock,
        deploy_sleep=clock.sleep,
    )
    result = await run_session(options)
    return Outcome(
        status=result.status,
        stop_reason=result.stop_reason,
        detail=result.detail,
        final_text=result.final_text,
        attempts=api.attempts(),
        bodies=api.bodies,
        ops=list(target.ops),
        weights=dict(target.weights),
        production_healthy=target.production_healthy(),
        journal=read_journal(result.journal_path),
    )


def matrix() -> list[tuple[str, int, bool]]:
    """(fault kind, call index, persistent) of every scenario; turn faults are one-offs."""
    calls = range(len(conversation()))
    wire = [(k, c, p) for k in WIRE_FAULTS for c in calls for p in (False, True)]
    return wire + [(k, c, False) for k in TURN_FAULTS for c in calls]


async def _main() -> None:  # pragma: no cover - a report for docs/reliability.md
    import anthropic._base_client as sdk

    import agent.journal

    sdk.INITIAL_RETRY_DELAY = 0.001  # type: ignore[misc]  # the SDK's backoff, made instant
    agent.journal.os.fsync = lambda _fd: None  # as in the tests
    root = Path(tempfile.mkdtemp(prefix="model-faults-"))
    started, cpu = time.monotonic(), time.process_time()
    baseline = await run_scenario(root, conversation())
    rows: Counter[tuple[str, str, str, str]] = Counter()
    requests = baseline.requests
    for kind, call, persistent in matrix():
        fault = Fault(kind, call, persistent) if kind in WIRE_FAULTS else None
        outcome = await run_scenario(root, turns_with(kind, call), fault)
        requests += outcome.requests
        production = ",".join(f"{k} {v}%" for k, v in sorted(outcome.weights.items()))
        settled = [n.split(": ", 1)[1] for n in outcome.notices() if "stopped safely" in n]
        mode = f"persistent @{call}" if persistent else "once"
        end = f"{outcome.status}/{outcome.stop_reason}"
        rows[(f"{kind} ({mode})", end, production, "; ".join(settled))] += 1
    print(
        f"runs: {len(matrix()) + 1}, HTTP requests: {requests}, "
        f"{time.monotonic() - started:.1f} s wall, {time.process_time() - cpu:.1f} s CPU"
    )
    for (fault, end, production, settled), count in sorted(rows.items()):
        print(f"| {fault} | {end} | {production} | {settled} | {count} |")


if __name__ == "__main__":  # pragma: no cover
    asyncio.run(_main())
