"""MCP progress messages from journal records: one short line per step of a run.

The journal is the truth (DESIGN.md §2), so progress is derived from what was written to
it, after it was written: a client never sees a step that is not in the journal. VS Code
shows the message of each `notifications/progress` beside the running tool call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_LIMIT = 160


def describe_record(record: dict[str, Any]) -> str | None:
    """One line for a journal record, or None when it is not worth a notification."""
    kind = record.get("type")
    describe = _DESCRIBERS.get(str(kind))
    text = describe(record) if describe is not None else None
    if text is None:
        return None
    return text if len(text) <= _LIMIT else text[: _LIMIT - 1] + "…"


def _run_started(r: dict[str, Any]) -> str:
    return f"run {r.get('run_id')} started (model {r.get('model')})"


def _model_turn(r: dict[str, Any]) -> str:
    tools = ", ".join(str(t.get("name")) for t in r.get("tool_uses") or [])
    return f"turn {r.get('turn')}: " + (f"calling {tools}" if tools else "final answer")


def _gate(r: dict[str, Any]) -> str | None:
    if r.get("decision") == "ask":
        return f"waiting for approval of {r.get('tool')}"
    if r.get("decision") == "deny":
        return f"{r.get('tool')} denied by the policy: {r.get('reason')}"
    return None


def _approval(r: dict[str, Any]) -> str:
    verdict = "approved" if r.get("approved") else "denied"
    return f"{verdict} by {r.get('approver')}" + (f": {r['reason']}" if r.get("reason") else "")


def _tool_finished(r: dict[str, Any]) -> str:
    summary = str(r.get("summary") or "").splitlines()
    return f"{r.get('tool')} {r.get('status')}" + (f": {summary[0]}" if summary else "")


def _step(r: dict[str, Any]) -> str:
    details: dict[str, Any] = r.get("details") or {}
    text = f"{r.get('step_id')} {r.get('phase')}"
    if r.get("phase") != "started" and isinstance(details.get("weights"), dict):
        weights: dict[str, Any] = details["weights"]
        text += " · traffic " + ", ".join(f"{k} {v}%" for k, v in sorted(weights.items()))
    if r.get("phase") == "failed" and details.get("reason"):
        text += f": {details['reason']}"
    return text


def _notice(r: dict[str, Any]) -> str:
    return f"{r.get('level')}: {r.get('message')}"


def _run_finished(r: dict[str, Any]) -> str:
    return f"run finished: {r.get('status')} ({r.get('stop_reason')})"


_DESCRIBERS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "run_started": _run_started,
    "model_turn": _model_turn,
    "gate_decision": _gate,
    "approval": _approval,
    "tool_finished": _tool_finished,
    "step": _step,
    "notice": _notice,
    "run_finished": _run_finished,
}


class JournalProgress:
    """A journal listener that turns records into progress messages.

    Args:
        emit: receives each message (for example `Job.emit`).
    """

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit
        self.run_id: str | None = None

    def __call__(self, record: dict[str, Any]) -> None:
        if record.get("type") == "run_started" and self.run_id is None:
            self.run_id = str(record.get("run_id"))
        message = describe_record(record)
        if message is not None:
            self._emit(message)
