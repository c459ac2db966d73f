"""What must hold after a killed run was resumed (tests/crash_matrix.py).

1. `hotfix resume` exits 0 with the status the journal calls for: "deployed" (the fix) or
   "rolled_back" (the broken fix) once the deployment had started, "nothing_to_do" before.
2. Production serves exactly that version, with all traffic, answering through the router,
   and the journal holds its passing verification.
3. Nothing was done twice: no step ends twice (by id, and by kind + label + weights), and
   the local environment's own log of changes is exactly the journal's finished changes.
4. The journal reads back whole: every line parses, `seq` runs 1..M without a gap, no
   deployment step is left in flight, and it ends with the run's final status.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crash_launcher import Finished

from tools.deploy.steps import EngineState

if TYPE_CHECKING:
    from crash_matrix import Production

Key = tuple[str, str | None, str | None]
# Steps that change production; verdicts (verify, analysis) are checked by step id only.
MUTATING_KINDS = frozenset({"stage", "shift", "promote", "retire", "rollback", "flag", "deploy"})
VERSIONS = {"v1.4.2": "1.4.2", "v1.4.3": "1.4.3", "v1.4.3-broken": "1.4.3"}


def check_resumed(
    prod: Production,
    run_dir: Path,
    killed: list[dict[str, Any]],
    resumed: Finished,
    operations_from: int,
) -> list[str]:
    """Problems found after `hotfix resume` of the run in `run_dir`; empty when all is well."""
    try:
        doc: dict[str, Any] = json.loads(resumed.stdout)
    except ValueError:
        return ["resume printed no JSON document"]
    problems: list[str] = []
    deploying = [r for r in killed if r.get("type") == "step" and r["kind"] == "deploy"]
    candidate = str(deploying[0]["details"]["label"]) if deploying else None
    if candidate is None:
        expected, serving = "nothing_to_do", prod.release
    elif candidate.endswith("-broken"):
        expected, serving = "rolled_back", prod.release
    else:
        expected, serving = "deployed", candidate
    if resumed.exit_code != 0 or doc.get("status") != expected:
        problems.append(f"resume exit {resumed.exit_code} status {doc.get('status')!r}, "
                        f"expected 0 {expected!r}")  # fmt: skip
    raw = (run_dir / "journal.jsonl").read_bytes()
    records, unreadable = _parse(raw)
    problems += unreadable
    problems += _production(prod, serving, doc)
    problems += _verified(records, expected, serving)
    problems += _not_repeated(records)
    problems += _environment_agrees(prod, records, operations_from)
    problems += _complete(records, doc)
    return problems


def _parse(raw: bytes) -> tuple[list[dict[str, Any]], list[str]]:
    if not raw.endswith(b"\n"):
        return [], ["the journal still ends with a torn line"]
    records: list[dict[str, Any]] = []
    for number, line in enumerate(raw.split(b"\n")[:-1], 1):
        try:
            records.append(json.loads(line))
        except ValueError:
            return records, [f"journal line {number} is not JSON: {line[:80]!r}"]
    seqs = [r.get("seq") for r in records]
    if seqs != list(range(1, len(records) + 1)):
        return records, [f"journal seq is not 1..{len(records)}: {seqs}"]
    return records, []


def _production(prod: Production, serving: str, doc: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    state = prod.client.state()
    if state["weights"] != {serving: 100} or set(state["versions"]) != {serving}:
        problems.append(f"production runs {sorted(state['versions'])} with weights "
                        f"{state['weights']}, expected {serving} alone")  # fmt: skip
    status, body = prod.answer()
    if status != 200 or body.get("version") != VERSIONS.get(serving):
        problems.append(f"GET /healthz answered {status} {body}, expected {serving}")
    if not (doc.get("production") or {}).get("healthy"):
        problems.append("resume says production is not healthy")
    return problems


def _verified(records: list[dict[str, Any]], expected: str, serving: str) -> list[str]:
    ended = {(r["step_id"], r["phase"]): r for r in records if r.get("type") == "step"}
    if expected == "deployed":
        check = ended.get((f"verify-prod:{serving}", "finished"))
        if check is None or check["details"].get("passed") is not True:
            return [f"no passing production verification of {serving} on record"]
        if (f"promote:{serving}", "finished") not in ended:
            return [f"{serving} serves but was never promoted"]
    elif expected == "rolled_back":
        check = ended.get(("rollback-verify:1", "finished"))
        if check is None or check["details"].get("passed") is not True:
            return ["no passing verification of production after the rollback"]
    elif any(step in ("shift", "rollback") for step, _phase in ended):
        return ["production traffic changed although no deployment started"]
    return []


def _mutation_key(record: dict[str, Any]) -> Key | None:
    """The environment operation a finished step made, as the environment logs it."""
    details: dict[str, Any] = record.get("details") or {}
    kind, label = record["kind"], details.get("label")
    if kind == "stage":
        return "stage", label, None
    if kind == "retire":
        return "retire", label, None
    if kind == "shift":
        return "weights", None, _weights(details["weights"])
    if kind == "rollback":
        return "weights", None, _weights(details["restore_weights"])
    return None


def _weights(weights: dict[str, int]) -> str:
    return json.dumps({k: v for k, v in sorted(weights.items()) if v})


def _not_repeated(records: list[dict[str, Any]]) -> list[str]:
    steps = [r for r in records if r.get("type") == "step" and r["phase"] != "started"]
    by_id = Counter(r["step_id"] for r in steps)
    by_change = Counter(
        (r["kind"], (r.get("details") or {}).get("label"),
         json.dumps((r.get("details") or {}).get("weights"), sort_keys=True))
        for r in steps
        if r["kind"] in MUTATING_KINDS
    )  # fmt: skip
    twice = [k for k, n in by_id.items() if n > 1] + [str(k) for k, n in by_change.items() if n > 1]
    return [f"steps ended twice: {twice}"] if twice else []


def _environment_agrees(prod: Production, records: list[dict[str, Any]], since: int) -> list[str]:
    done = prod.client.operations(since)["operations"]
    applied = Counter(
        (op["op"], op["label"], _weights(op["weights"]) if op["weights"] else None)
        for op in done
        if op["changed"]
    )
    journaled = Counter(
        key
        for r in records
        if r.get("type") == "step" and r["phase"] == "finished"
        if (key := _mutation_key(r)) is not None
    )
    if applied != journaled:
        return [f"environment applied {dict(applied)} but the journal finished {dict(journaled)}"]
    return []


def _complete(records: list[dict[str, Any]], doc: dict[str, Any]) -> list[str]:
    state = EngineState()
    for record in records:
        state.apply(record)
    problems: list[str] = []
    if open_steps := list(state.in_flight):
        problems.append(f"steps left in flight: {open_steps}")
    last = records[-1] if records else {}
    if last.get("type") != "run_finished" or not last.get("status"):
        problems.append(f"the journal does not end with the run's status: {last}")
    if doc.get("status") is None:
        problems.append("resume stated no status")
    return problems
