"""Suite metrics: pass@1, pass^k, unsafe actions, turns, tool calls, tokens, cost, time.

pass@1 is the share of scenarios whose first epoch passed; pass^k the share that passed in
every one of the k epochs (`--epochs k`), the number that says whether the agent can be
relied on; pass@k the share that passed at least once. Costs are estimates from list
prices per million tokens by model family; the runbook and scripted drivers cost nothing.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from evals.graders.outcome import deployment_status
from evals.runner import ScenarioResult

# USD per million tokens: (input, output). Cache reads cost 10 % of input, writes 125 %.
PRICES: dict[str, tuple[float, float]] = {
    "opus": (15.0, 75.0),
    "sonnet": (3.0, 15.0),
    "haiku": (1.0, 5.0),
}


def estimated_cost(model: str, usage: dict[str, int]) -> float:
    """USD estimate for `usage` on `model` (0 for drivers that are not Claude)."""
    family = next((name for name in PRICES if name in model.lower()), None)
    if family is None:
        return 0.0
    price_in, price_out = PRICES[family]
    cost = (
        usage.get("input_tokens", 0) * price_in
        + usage.get("output_tokens", 0) * price_out
        + usage.get("cache_read_tokens", 0) * price_in * 0.1
        + usage.get("cache_write_tokens", 0) * price_in * 1.25
    )
    return round(cost / 1_000_000, 6)


def run_metrics(result: ScenarioResult) -> dict[str, Any]:
    """The numbers of one run (one scenario, one epoch)."""
    t = result.trajectory
    tokens = sum(t.usage.values())
    return {
        "scenario": t.scenario.name, "epoch": t.epoch, "target": t.scenario.target,
        "driver": t.scenario.driver, "model": t.model, "passed": result.passed,
        "status": t.status, "deployment": deployment_status(t),
        "failed_graders": [g.to_json() for g in result.grades if not g.passed],
        "unsafe_attempted": len(result.unsafe),
        "unsafe_executed": sum(1 for a in result.unsafe if a.executed),
        "unsafe": [a.to_json() for a in result.unsafe],
        "turns": t.turns, "tool_calls": t.tool_calls, "tokens": tokens,
        "cost_usd": estimated_cost(t.model, t.usage), "wall_s": round(t.wall_s, 3),
        "run_dir": str(t.run_dir) if t.run_dir else None,
    }  # fmt: skip


def summarize(results: list[ScenarioResult], epochs: int, wall_s: float) -> dict[str, Any]:
    """The suite's JSON document: a summary plus every run's metrics."""
    runs = [run_metrics(r) for r in results]
    by_scenario: dict[str, list[bool]] = defaultdict(list)
    for run in sorted(runs, key=lambda r: r["epoch"]):
        by_scenario[run["scenario"]].append(bool(run["passed"]))
    count = len(by_scenario) or 1
    adversarial = [r for r in runs if r["driver"] == "adversarial"]
    summary = {
        "scenarios": len(by_scenario), "epochs": epochs, "runs": len(runs),
        "passed_runs": sum(1 for r in runs if r["passed"]),
        "pass_at_1": round(sum(v[0] for v in by_scenario.values()) / count, 4),
        "pass_hat_k": round(sum(all(v) for v in by_scenario.values()) / count, 4),
        "pass_at_k": round(sum(any(v) for v in by_scenario.values()) / count, 4),
        "unsafe_attempted": sum(r["unsafe_attempted"] for r in runs),
        "unsafe_executed": sum(r["unsafe_executed"] for r in runs),
        "adversarial": {
            "runs": len(adversarial),
            "attempts": sum(r["unsafe_attempted"] for r in adversarial),
            "blocked": sum(r["unsafe_attempted"] - r["unsafe_executed"] for r in adversarial),
        },
        "turns": sum(r["turns"] for r in runs), "tool_calls": sum(r["tool_calls"] for r in runs),
        "tokens": sum(r["tokens"] for r in runs),
        "cost_usd": round(sum(r["cost_usd"] for r in runs), 4),
        "wall_s": round(wall_s, 2),
        "failed": sorted({r["scenario"] for r in runs if not r["passed"]}),
    }  # fmt: skip
    return {"summary": summary, "runs": runs}


def to_markdown(document: dict[str, Any]) -> str:
    """A Markdown summary and one table row per scenario (all epochs folded)."""
    s = document["summary"]
    adv = s["adversarial"]
    lines = [
        f"**{s['scenarios']} scenarios x {s['epochs']} epoch(s)** — pass@1 {s['pass_at_1']:.0%}, "
        f"pass^{s['epochs']} {s['pass_hat_k']:.0%}, pass@{s['epochs']} {s['pass_at_k']:.0%}; "
        f"unsafe actions attempted {s['unsafe_attempted']}, executed {s['unsafe_executed']}; "
        f"adversarial attempts blocked {adv['blocked']}/{adv['attempts']}; "
        f"{s['turns']} turns, {s['tool_calls']} tool calls, {s['tokens']} tokens, "
        f"~${s['cost_usd']:.4f}, {s['wall_s']:.1f} s",
        "",
        "| scenario | target | driver | passed | deployment | unsafe (attempted/executed) "
        "| turns | tool calls | tokens | cost $ | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in document["runs"]:
        rows[run["scenario"]].append(run)
    for name, runs in sorted(rows.items()):
        first = runs[0]
        passed = sum(1 for r in runs if r["passed"])
        lines.append(
            f"| {name} | {first['target']} | {first['driver']} | {passed}/{len(runs)} "
            f"| {first['deployment']} | {sum(r['unsafe_attempted'] for r in runs)}/"
            f"{sum(r['unsafe_executed'] for r in runs)} | {sum(r['turns'] for r in runs)} "
            f"| {sum(r['tool_calls'] for r in runs)} | {sum(r['tokens'] for r in runs)} "
            f"| {sum(r['cost_usd'] for r in runs):.4f} | {sum(r['wall_s'] for r in runs):.2f} |"
        )
    for run in document["runs"]:
        for grade in run["failed_graders"]:
            lines.append(
                f"\n- FAILED {run['scenario']} (epoch {run['epoch']}) "
                f"{grade['grader']}: {'; '.join(grade['failures'])}"
            )
    return "\n".join(lines) + "\n"
