"""`hotfix monitor RUN`: the post-fix-monitoring agent, from a run's handoff packet.

Registered on `agent.cli.app` when `agent.cli` imports this module. Same conventions as the
rest of the CLI: `--json` prints one JSON document on stdout, progress goes to stderr.
Exit codes: 0 healthy (or rolled back as designed), 1 regression not handled / monitoring
failed, 2 bad input, 3 the needed rollback was denied, 130 / 143 interrupted by SIGINT /
SIGTERM while watching (a rollback under way finishes first).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from agent.cli import (
    ApproveOpt,
    JsonOpt,
    WorkspaceOpt,
    _emit_json,  # pyright: ignore[reportPrivateUsage]
    app,
    exit_on_bad_input,
    make_approver,
)
from agent.cli_view import LiveView
from handoffs.offer import offer_handoff

if TYPE_CHECKING:
    from agent.graceful_stop import GracefulStop, RunInterrupted
    from agent.session import RunResult
    from handoffs.monitoring.run import MonitorOptions, MonitorResult

__all__ = ["monitor_after_run", "offer_handoff", "parse_duration"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str) -> float:
    """Seconds in `10m`, `20s`, `1.5h`, `500ms` or a bare number of seconds.

    Raises:
        typer.BadParameter: not a positive duration.
    """
    match = _DURATION.match(text)
    seconds = float(match.group(1)) * _UNITS[match.group(2)] if match else 0.0
    if seconds <= 0:
        raise typer.BadParameter(f"{text!r} is not a duration like 10m, 20s or 1h")
    return seconds


@app.command("monitor")
def monitor_command(
    run: Annotated[str, typer.Argument(help="Deployment run id (or prefix), or a handoff.json.")],
    workspace: WorkspaceOpt = Path("."),
    duration: Annotated[
        str | None,
        typer.Option(
            "--duration", help="How long to watch, e.g. 10m (default: the packet's window)."
        ),
    ] = None,
    interval: Annotated[
        str | None,
        typer.Option(
            "--interval", help="Time per sample, e.g. 5s (default: the packet's interval)."
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Model id or display name; runbook for the LLM-free driver."),
    ] = None,
    approve: ApproveOpt = "ask",
    rollback: Annotated[
        str | None,
        typer.Option(
            "--rollback", help="Roll back now, for this reason, instead of watching first."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Watch a deployed fix against its baseline; roll back (with approval) on a regression."""
    from handoffs.monitoring.run import MonitorError, MonitorOptions

    console = Console(stderr=True)
    with exit_on_bad_input(as_json, MonitorError, typer.BadParameter):
        options = MonitorOptions(
            run=run,
            workspace=workspace,
            approver=make_approver(approve, console),
            duration_s=parse_duration(duration) if duration else None,
            interval_s=parse_duration(interval) if interval else None,
            model=model,
            rollback_reason=rollback,
            on_event=LiveView(console),
        )
        result = _watch(options, console, as_json)
    if as_json:
        _emit_json(result.to_json())
    else:
        _print_result(Console(), result)
    raise typer.Exit(result.exit_code)


def monitor_after_run(console: Console, result: RunResult, approve: str = "ask") -> int:
    """Start monitoring the run `result` just finished (after `offer_handoff` said yes).

    Returns the monitoring exit code.
    """
    from handoffs.monitoring.run import MonitorOptions
    from handoffs.report import write_outputs

    write_outputs(result.run_dir)  # the packet must exist and match the finished run
    options = MonitorOptions(
        run=result.run_id,
        workspace=result.run_dir.parent.parent.parent,
        approver=make_approver(approve, console),
        on_event=LiveView(console),
    )
    outcome = _watch(options, console, as_json=False)
    _print_result(console, outcome)
    return outcome.exit_code


def _watch(options: MonitorOptions, console: Console, as_json: bool) -> MonitorResult:
    """`run_monitor` under SIGINT / SIGTERM: watching stops at once (exit 130 / 143, nothing
    changed); once a rollback's first step has started, it finishes first."""
    from agent.graceful_stop import GracefulStop, RunInterrupted
    from handoffs.monitoring.probes import SAMPLE_KIND
    from handoffs.monitoring.run import run_monitor

    stop = GracefulStop()
    protect = (f"production is being rolled back — it finishes first, please wait (kill -9 "
               f"would abandon it half-way; `hotfix monitor {options.run} --rollback REASON` "
               "then finishes it)")  # fmt: skip

    def protect_rollback(record: dict[str, Any]) -> None:
        # Samples are steps too; every other step of a monitoring run belongs to its rollback.
        if record.get("type") == "step" and record.get("kind") != SAMPLE_KIND:
            stop.protect(protect)

    options.journal_listeners += [protect_rollback, stop.on_record]
    with stop.installed():
        try:
            return asyncio.run(stop.guard(run_monitor(options)))
        except RunInterrupted as interrupted:
            raise _stopped_watching(stop, interrupted, console, as_json) from None


def _stopped_watching(
    stop: GracefulStop, interrupted: RunInterrupted, console: Console, as_json: bool
) -> typer.Exit:
    from agent.journal import runs_root
    from handoffs.report import write_outputs

    document: dict[str, Any] = {
        "interrupted": signal.Signals(interrupted.signum).name, "run_id": stop.run_id,
        "settled": "monitoring stopped before any rollback step; production was not changed",
        "exit_code": interrupted.exit_code,
    }  # fmt: skip
    if stop.run_id is not None and stop.workspace is not None:
        with contextlib.suppress(Exception):  # the journal says it all; the report is derived
            paths = write_outputs(runs_root(stop.workspace) / stop.run_id)
            document["report"] = str(paths.markdown)
    if as_json:
        _emit_json(document)
    else:
        console.print(f"[bold yellow]stopped[/] ({document['interrupted']}): "
                      f"{document['settled']}", highlight=False)  # fmt: skip
    return typer.Exit(interrupted.exit_code)


def _print_result(console: Console, result: MonitorResult) -> None:
    report = result.report
    colour = {"healthy": "green", "rolled_back": "yellow"}.get(report.status, "red")
    console.print(
        f"\n[bold {colour}]{report.status}[/] · {escape(report.version or '-')} · "
        f"{len(report.samples)} samples · run {result.run.run_id}"
    )
    if report.regression:
        console.print(f"regression: {escape('; '.join(report.regression))}")
    for line in report.recommendations:
        console.print(f"- {escape(line)}", highlight=False)
    console.print(f"report: {result.paths['markdown']}\nhtml: {result.paths['html']}")
    console.print(f"next (offered, not started): {escape(report.next_agent.label)}")
