"""Handoff validity: `handoff.json` exists, is for this run, and matches the contract.

Loose by design while the contract is young: the fields post-fix monitoring cannot start
without must be there (status, version, a rollback procedure, a suggested prompt), and when
`handoffs.contract.HandoffPacket` is importable the packet must also validate against it.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import ValidationError

from evals.graders.base import GradeResult
from evals.trajectory import Trajectory

# Each entry: the field, or alternatives of which one must be present.
REQUIRED: tuple[tuple[str, ...], ...] = (
    ("run_id",),
    ("status",),
    ("version",),
    ("rollback", "rollback_procedure"),
    ("suggested_prompt",),
)


def grade_handoff(trajectory: Trajectory) -> GradeResult:
    """handoff.json is present, complete enough, and valid against the contract."""
    result = GradeResult("handoff_valid")
    packet = trajectory.handoff
    if packet is None:
        result.failures.append("no handoff.json was written")
        return result
    for names in REQUIRED:
        if not any(name in packet for name in names):
            result.failures.append(f"handoff.json has no {' or '.join(map(repr, names))}")
    run_id = packet.get("run_id")
    if trajectory.run_dir is not None and run_id not in (None, trajectory.run_dir.name):
        result.failures.append(f"handoff.json is for run {run_id}, not {trajectory.run_dir.name}")
    if not str(packet.get("suggested_prompt") or "").strip():
        result.failures.append("handoff.json has an empty suggested prompt")
    result.failures.extend(contract_errors(packet))
    return result


def contract_errors(packet: dict[str, Any]) -> list[str]:
    """Why `packet` does not validate against `handoffs.contract.HandoffPacket` (if present)."""
    try:
        contract = importlib.import_module("handoffs.contract")
    except ImportError:
        return []
    model = getattr(contract, "HandoffPacket", None)
    validate = getattr(model, "model_validate", None)
    if validate is None:
        return []
    try:
        validate(packet)
    except ValidationError as exc:
        return [
            f"handoff contract: {'.'.join(str(p) for p in e['loc']) or 'packet'}: {e['msg']}"
            for e in exc.errors()[:8]
        ]
    except ValueError as exc:
        return [f"handoff contract: {exc}"]
    return []
