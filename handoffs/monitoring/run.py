"""Start the post-fix-monitoring agent from a deployment run's handoff packet.

`run_monitor` reads (or, for an older run, builds) the run's `handoff.json`, applies the
caller's window and interval, and runs the `post-fix-monitoring` agent through the ordinary
`run_session` with the packet as its request — the packet is all it gets. Without Claude
credentials (or with `--model runbook`) the LLM-free `MonitorRunbook` drives the same tools
through the same gate. The monitoring report is written into the monitoring run's folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.approvers import Approver
from agent.session import EventCallback, RunResult, SessionOptions, run_session
from handoffs.contract import HandoffPacket, load_handoff, packet_message
from handoffs.monitoring.report_model import MonitoringReport
from handoffs.monitoring.runbook import MonitorRunbook
from handoffs.monitoring.session import MonitorWiring, wired
from tools.base import Tool
from tools.deploy.target import Target
from tools.deploy.verifier import Verifier

AGENT = "post-fix-monitoring"
EXIT_OK, EXIT_FAILED, EXIT_DENIED = 0, 1, 3


class MonitorError(Exception):
    """Monitoring cannot start (unknown run, invalid packet); nothing was changed."""


@dataclass
class MonitorOptions:
    """What `hotfix monitor` (or the MCP `monitor` tool) asks for."""

    run: str  # a run id (or unique prefix) in `workspace`, or the path of a handoff.json
    workspace: Path
    approver: Approver
    duration_s: float | None = None
    interval_s: float | None = None
    model: str | None = None
    rollback_reason: str | None = None  # roll back at once instead of watching first
    front_end: str = "cli"
    on_event: EventCallback | None = None
    # Called with each journal record of the monitoring run (the command line's signals).
    journal_listeners: list[Callable[[dict[str, Any]], None]] = field(
        default_factory=list[Callable[[dict[str, Any]], None]]
    )
    # Tests and embedders: an in-memory target, a scripted verifier, a fake clock.
    target: Target | None = None
    verifier: Verifier | None = None
    clock: Callable[[], float] | None = None


@dataclass
class MonitorResult:
    """How a monitoring run ended."""

    run: RunResult
    packet: HandoffPacket
    report: MonitoringReport
    paths: dict[str, Path]

    @property
    def exit_code(self) -> int:
        """0 healthy or rolled back as designed; 3 a needed rollback was denied; 1 otherwise."""
        if self.report.status in ("healthy", "rolled_back"):
            return EXIT_OK
        if self.report.status == "rollback_recommended" and self.report.rollback.approved is False:
            return EXIT_DENIED
        return EXIT_FAILED

    def to_json(self) -> dict[str, Any]:
        """The document `hotfix monitor --json` prints."""
        r = self.report
        return {
            "run_id": self.run.run_id,
            "monitored_run": self.packet.run_id,
            "status": r.status,
            "version": r.version,
            "previous_version": r.previous_version,
            "samples": len(r.samples),
            "regression": r.regression,
            "regression_detected_at": r.regression_detected_at,
            "rollback": r.rollback.model_dump(mode="json"),
            "recommendations": r.recommendations,
            "summary": self.run.final_text,
            "report": str(self.paths["markdown"]),
            "report_html": str(self.paths["html"]),
            "report_json": str(self.paths["json"]),
            "handoff": str(self.paths["handoff"]),
            "journal": str(self.run.journal_path),
            "next_agent": r.next_agent.model_dump(),
            "exit_code": self.exit_code,
        }


def load_packet(run: str, workspace: Path) -> HandoffPacket:
    """The handoff packet of `run` (id, prefix, run folder, or handoff.json path).

    A run written before handoffs existed gets its packet built (and saved) from its journal.

    Raises:
        MonitorError: the run is unknown or its packet does not match the contract.
    """
    from pydantic import ValidationError

    from agent.runs import find_run

    candidate = Path(run)
    if candidate.suffix == ".json" and candidate.is_file():
        path = candidate
    else:
        try:
            run_dir = (
                candidate
                if (candidate / "journal.jsonl").is_file()
                else find_run(workspace.resolve(), run)
            )
        except LookupError as exc:
            raise MonitorError(str(exc)) from None
        path = run_dir / "handoff.json"
        if not path.is_file():
            from handoffs.report import write_handoff

            write_handoff(run_dir)
    try:
        return load_handoff(path)
    except (ValidationError, ValueError) as exc:
        raise MonitorError(f"{path} is not a valid handoff packet: {exc}") from None


async def run_monitor(options: MonitorOptions) -> MonitorResult:
    """Run the monitoring agent on a deployment run's packet; write its report.

    Raises:
        MonitorError: the run or its packet cannot be used (nothing was started).
    """
    from handoffs.monitoring.report import collect_monitoring, write_monitoring_report

    packet = load_packet(options.run, options.workspace)
    plan = packet.monitoring.model_copy(
        update={
            k: v
            for k, v in (("window_s", options.duration_s), ("interval_s", options.interval_s))
            if v is not None
        }
    )
    packet = packet.model_copy(update={"monitoring": plan})
    wiring = MonitorWiring(packet, options.target, options.verifier, options.clock)
    session = SessionOptions(
        description=packet_message(packet),
        workspace=Path(packet.workspace),
        approver=options.approver,
        agent=definition_for(Path(packet.workspace)),
        front_end=options.front_end,
        config_path=_config_path(packet.config_source),
        on_event=options.on_event,
        journal_listeners=list(options.journal_listeners),
        model=options.model,
        model_client=_runbook(options),
        extra_tools=missing_monitor_tools(),
    )
    with wired(wiring):
        result = await run_session(session)
    paths = write_monitoring_report(result.run_dir)
    assert paths.handoff is not None
    files = {
        "markdown": paths.markdown,
        "json": paths.json,
        "html": paths.html,
        "handoff": paths.handoff,
    }
    return MonitorResult(result, packet, collect_monitoring(result.run_dir), files)


def definition_for(workspace: Path) -> str:
    """The monitoring agent definition to run: the workspace's own if it uses our tools.

    `hotfix init` writes a VS Code flavour into `.github/agents/` that drives the MCP
    server's tools; this runtime needs the `monitor/*` tools, so it then uses ours.
    """
    from agent.definitions import PROMPTS_DIR, DefinitionError, find_definition

    try:
        found = find_definition(AGENT, [workspace / ".github" / "agents"])
    except DefinitionError:
        return AGENT
    if any(pattern.startswith("monitor") for pattern in found.tools):
        return AGENT
    return str(PROMPTS_DIR / f"{AGENT}.agent.md")


def missing_monitor_tools() -> list[Tool]:
    """The monitor tools the registry does not already have built in."""
    from handoffs.monitoring.tools import monitor_tools
    from tools.registry import builtin_tools

    have = {tool.name for tool in builtin_tools()}
    return [tool for tool in monitor_tools() if tool.name not in have]


def _runbook(options: MonitorOptions) -> MonitorRunbook | None:
    """The LLM-free driver, unless a model was named or Claude credentials exist."""
    import os

    from agent.models.factory import MODEL_ENV, has_model_credentials

    spec = (options.model or os.environ.get(MODEL_ENV, "")).strip()
    # `runbook` names the deployment planner elsewhere; for this agent it means this driver.
    if options.rollback_reason or spec in ("runbook", "monitor-runbook"):
        return MonitorRunbook(options.rollback_reason)
    if spec or has_model_credentials():
        return None
    return MonitorRunbook()


def _config_path(source: str | None) -> Path | None:
    """The run's config file, if it still exists (else the workspace's default lookup)."""
    return Path(source) if source and Path(source).is_file() else None
