"""Listing and summarising runs from their journals (`hotfix runs`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.journal import JOURNAL_NAME, read_journal, runs_root


@dataclass
class RunSummary:
    """One run as `hotfix runs` shows it, derived from its journal alone."""

    run_id: str
    run_dir: Path
    started_at: float | None
    description: str
    agent: str
    model: str
    status: str
    stop_reason: str
    events: int
    tool_calls: int

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "run_dir": str(self.run_dir),
                "started_at": self.started_at, "description": self.description,
                "agent": self.agent, "model": self.model, "status": self.status,
                "stop_reason": self.stop_reason, "events": self.events,
                "tool_calls": self.tool_calls}


def summarise_run(run_dir: Path) -> RunSummary:
    events = read_journal(run_dir / JOURNAL_NAME)
    started = next((e for e in events if e.get("type") == "run_started"), {})
    finished = next((e for e in reversed(events) if e.get("type") == "run_finished"), None)
    calls = sum(1 for e in events if e.get("type") == "tool_requested")
    return RunSummary(
        run_id=run_dir.name, run_dir=run_dir, started_at=started.get("ts"),
        description=str(started.get("description", "")), agent=str(started.get("agent", "")),
        model=str(started.get("model", "")),
        # A journal without `run_finished` belongs to a run that is live or was killed.
        status=str(finished.get("status")) if finished else "unfinished",
        stop_reason=str(finished.get("stop_reason")) if finished else "",
        events=len(events), tool_calls=calls,
    )


def list_runs(workspace: Path) -> list[RunSummary]:
    """Every run under the workspace, newest first."""
    root = runs_root(workspace)
    if not root.is_dir():
        return []
    dirs = [d for d in root.iterdir() if (d / JOURNAL_NAME).is_file()]
    return [summarise_run(d) for d in sorted(dirs, key=lambda d: d.name, reverse=True)]


def find_run(workspace: Path, run_id: str) -> Path:
    """The directory of `run_id` (a unique prefix is enough)."""
    root = runs_root(workspace)
    exact = root / run_id
    if (exact / JOURNAL_NAME).is_file():
        return exact
    matches = [d for d in root.glob(f"{run_id}*") if (d / JOURNAL_NAME).is_file()] \
        if root.is_dir() else []
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise LookupError(f"no run {run_id!r} under {root}")
    raise LookupError(f"run id {run_id!r} is ambiguous: " + ", ".join(d.name for d in matches))
