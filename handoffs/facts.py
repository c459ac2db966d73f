"""What a run's journal says, indexed for the report writers: the single input they share.

`RunFacts.load` reads the journal once, folds the step events into an `EngineState` (the same
state the engine and `hotfix resume` rebuild), and pairs each tool request with its result.
Nothing here looks at the model's text.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.journal import JOURNAL_NAME, read_journal
from tools.deploy.steps import EngineState

if TYPE_CHECKING:
    from agent.config import HotfixConfig

Record = dict[str, Any]


@dataclass(frozen=True)
class ToolUse:
    """One tool call as journaled: its arguments and how it finished (None: never did)."""

    call_id: str
    tool: str
    args: dict[str, Any]
    ts: float | None
    status: str | None
    data: dict[str, Any]
    summary: str
    finished_ts: float | None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def command(self) -> str:
        """The shell command of a terminal call ('' for other tools)."""
        return str(self.args.get("command") or "")

    @property
    def succeeded(self) -> bool:
        """Finished ok and, for a command, with exit code 0."""
        return self.ok and self.data.get("exit_code", 0) == 0


@dataclass
class RunFacts:
    """A run's journal, read once and indexed."""

    run_dir: Path
    events: list[Record]
    started: Record
    finished: Record | None
    state: EngineState
    workspace: Path
    config: HotfixConfig | None = None
    config_error: str | None = None
    tool_uses: list[ToolUse] = field(default_factory=list[ToolUse])

    @classmethod
    def load(cls, run_dir: Path) -> RunFacts:
        """Read `run_dir/journal.jsonl` and the run's config file (if it still loads)."""
        from agent.config import ConfigError, load_config

        events = read_journal(run_dir / JOURNAL_NAME)
        started = next((e for e in events if e.get("type") == "run_started"), {})
        finished = next((e for e in reversed(events) if e.get("type") == "run_finished"), None)
        state = EngineState()
        for event in events:
            state.apply(event)
        workspace = Path(str(started.get("workspace") or run_dir.parent.parent.parent))
        source = started.get("config_source")
        path = Path(str(source)) if source and Path(str(source)).is_file() else None
        config: HotfixConfig | None = None
        error: str | None = None
        try:
            config = load_config(workspace, path)
        except ConfigError as exc:
            error = str(exc)
        facts = cls(run_dir, events, started, finished, state, workspace, config, error)
        facts.tool_uses = _pair_tool_calls(events)
        return facts

    @property
    def run_id(self) -> str:
        return self.run_dir.name

    def steps(self, kind: str | None = None, phase: str | None = None) -> list[Record]:
        """Step events, optionally of one kind and phase."""
        return [
            e
            for e in self.events
            if e.get("type") == "step"
            and (kind is None or e.get("kind") == kind)
            and (phase is None or e.get("phase") == phase)
        ]

    def verdicts(self, *kinds: str) -> list[Record]:
        """Completed verdict steps (finished or failed) of the given kinds."""
        return [e for e in self.steps() if e.get("kind") in kinds and e.get("phase") != "started"]

    def uses(self, *tools: str) -> list[ToolUse]:
        """Calls of the named tools (any name when none given), in order."""
        return [u for u in self.tool_uses if not tools or u.tool in tools]

    def commands(self, pattern: re.Pattern[str]) -> list[ToolUse]:
        """Terminal calls whose command matches `pattern`."""
        return [u for u in self.tool_uses if u.command and pattern.search(u.command)]

    def first_production_change_ts(self) -> float | None:
        """When production traffic or flags were first touched by this run."""
        for e in self.steps(phase="started"):
            if e.get("kind") in ("shift", "flag", "rolling"):
                return float(e["ts"])
        return None


def iso(ts: Any) -> str | None:
    """Epoch seconds as an ISO-8601 UTC timestamp with milliseconds (None passes through)."""
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def resolve_ref(workspace: Path, ref: str) -> str | None:
    """The commit `ref` names in the workspace's git repository, or None."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
            cwd=workspace,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def _pair_tool_calls(events: list[Record]) -> list[ToolUse]:
    requested: dict[str, Record] = {}
    order: list[str] = []
    finished: dict[str, Record] = {}
    for e in events:
        call_id = str(e.get("call_id") or "")
        if e.get("type") == "tool_requested":
            requested[call_id] = e
            order.append(call_id)
        elif e.get("type") == "tool_finished":
            finished[call_id] = e
    uses: list[ToolUse] = []
    for call_id in order:
        req, fin = requested[call_id], finished.get(call_id, {})
        data = fin.get("data")
        uses.append(
            ToolUse(
                call_id=call_id,
                tool=str(req.get("tool")),
                args=dict(req.get("args") or {}),
                ts=req.get("ts"),
                status=fin.get("status"),
                data=dict(data) if isinstance(data, dict) else {},  # pyright: ignore[reportUnknownArgumentType]
                summary=str(fin.get("summary") or ""),
                finished_ts=fin.get("ts"),
            )
        )
    return uses
