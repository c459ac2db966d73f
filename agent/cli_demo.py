"""CLI commands around the local target: `hotfix demo`, `local status|down`, `rollback`, `resume`.

Also `stopped`, which `hotfix run` and `hotfix demo` call after SIGINT / SIGTERM to settle
production and say what was done.

Registered on `agent.cli.app` when `agent.cli` imports this module. Same conventions as the
rest of the CLI: `--json` prints exactly one JSON document on stdout, progress goes to
stderr, exit codes as documented in `agent.cli`.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape

from agent.cli import (
    EXIT_FAILED,
    EXIT_OK,
    ApproveOpt,
    ConfigOpt,
    JsonOpt,
    WorkspaceOpt,
    _emit_json,  # pyright: ignore[reportPrivateUsage]
    _fail,  # pyright: ignore[reportPrivateUsage]
    app,
    exit_on_bad_input,
    make_approver,
)
from agent.cli_view import LiveView

if TYPE_CHECKING:
    from agent.config import HotfixConfig
    from agent.graceful_stop import GracefulStop, RunInterrupted

local_app = typer.Typer(no_args_is_help=True, help="The local target's environment.")
app.add_typer(local_app, name="local")

DEMO_STRATEGIES = ("blue-green", "canary", "feature-flag")


@app.command()
def demo(
    broken_fix: Annotated[
        bool, typer.Option("--broken-fix", help="Deploy a fix with a regression only load reveals.")
    ] = False,
    port: Annotated[int, typer.Option("--port", help="Production port of the demo.")] = 8080,
    strategy: Annotated[
        str | None,
        typer.Option(
            "--strategy",
            help="blue-green, canary or feature-flag (default: the demo config's blue-green).",
        ),
    ] = None,
    keep_running: Annotated[
        bool, typer.Option("--keep-running", help="Leave the local environment running afterwards.")
    ] = False,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir", help="Where to create the demo repository (default: a new temp dir)."
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Model id, display name, runbook, or scripted:FILE."),
    ] = None,
    approve: Annotated[
        str | None,
        typer.Option(
            "--approve", help="ask, deny or policy:FILE (default: the demo's own policy file)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Deploy a fix of a sample shop to a local production, end to end."""
    from agent.demo import DemoError, DemoOptions, run_demo
    from agent.graceful_stop import GracefulStop, RunInterrupted
    from agent.safe_stop import session_config
    from tools.deploy.targets.local import shutdown_environment

    console = Console(stderr=True)
    if strategy is not None and strategy not in DEMO_STRATEGIES:
        raise _fail(
            f"--strategy must be one of {', '.join(DEMO_STRATEGIES)}, not {strategy!r}", as_json
        )
    # Chosen here, not in run_demo, so that an interrupted demo's environment can be found.
    workspace = directory or Path(tempfile.mkdtemp(prefix="hotfix-demo-")) / "shop"
    stop = GracefulStop()
    with stop.installed(), exit_on_bad_input(as_json, DemoError):
        options = DemoOptions(
            port=port, broken_fix=broken_fix, strategy=strategy, keep_running=keep_running,
            directory=workspace, model=model,
            approver=None if approve is None else make_approver(approve, console),
            on_event=LiveView(console), journal_listeners=[stop.on_record],
            progress=lambda message: console.print(f"[dim]demo[/]   {escape(message)}"),
        )  # fmt: skip
        try:
            result = asyncio.run(stop.guard(run_demo(options)))
        except RunInterrupted as interrupted:
            run_config = partial(session_config, strategy=strategy)
            exit_now = stopped(stop, interrupted, run_config, console, as_json)
            if not keep_running and (workspace / "hotfix.toml").exists():
                shutdown_environment(_state_dir(workspace, None))
                console.print("[dim]demo[/]   stopped the local environment")
            raise exit_now from None
    document = result.to_json()
    if as_json:
        _emit_json(document)
    else:
        _print_demo(Console(), document, result.succeeded)
    raise typer.Exit(EXIT_OK if result.succeeded else EXIT_FAILED)


def stopped(
    stop: GracefulStop,
    interrupted: RunInterrupted,
    config: Callable[[Path], HotfixConfig],
    console: Console,
    as_json: bool,
) -> typer.Exit:
    """After SIGINT / SIGTERM: settle production, write the report, say what was done.

    Returns the `typer.Exit` to raise: 130 after SIGINT, 143 after SIGTERM.
    """
    document = asyncio.run(stop.settle(config))
    if document.get("run_dir"):
        from handoffs.report import write_outputs

        with contextlib.suppress(Exception):  # the journal says it all; the report is derived
            document["report"] = str(write_outputs(Path(document["run_dir"])).markdown)
    if as_json:
        _emit_json(document)
    else:
        run = f" · run {document['run_id']}" if document.get("run_id") else ""
        console.print(
            f"\n[bold yellow]stopped[/] ({document['interrupted']}){run}: {document['settled']}",
            highlight=False,
        )
        if document.get("report"):
            console.print(f"report: {document['report']}")
    return typer.Exit(interrupted.exit_code)


def _print_demo(console: Console, doc: dict[str, Any], succeeded: bool) -> None:
    colour = "green" if succeeded else "red"
    console.print(
        f"\n[bold {colour}]{doc['status']}[/] · {doc['strategy']} · "
        f"{doc['version']} (previous {doc['previous_version']}) · run {doc['run_id']}"
    )
    if doc["time_to_rollback_s"] is not None:
        console.print(
            f"traffic restored {doc['time_to_rollback_s']:.3f} s after the first failed signal"
        )
    probe = doc["prober"]
    console.print(
        f"prober: {probe['total']} requests, {probe['failed']} failed "
        f"(longest outage: {probe['max_consecutive_failures']} probes)"
    )
    console.print(f"report: {doc['report']}\nhandoff: {doc['handoff']}\njournal: {doc['journal']}")
    if doc["kept_running"]:
        console.print(
            f"production still runs on {doc['production_url']}; stop it with "
            f"`hotfix local down --workspace {doc['workspace']}`"
        )


def _state_dir(workspace: Path, config: Path | None) -> Path:
    from agent.config import load_config

    root = workspace.resolve()
    return load_config(root, config).deploy.local.state_path(root)


@local_app.command("status")
def local_status(
    workspace: WorkspaceOpt = Path("."), config: ConfigOpt = None, as_json: JsonOpt = False
) -> None:
    """Show the local environment: router port, versions, traffic weights."""
    from tools.deploy.targets.local import environment_status

    with exit_on_bad_input(as_json):
        state_dir = _state_dir(workspace, config)
    status = environment_status(state_dir)
    if as_json:
        _emit_json(
            {"running": status is not None, "state_dir": str(state_dir), "environment": status}
        )
        return
    console = Console()
    if status is None:
        console.print(f"not running ({state_dir})")
        return
    port = status["production_port"]
    console.print(f"running: production http://127.0.0.1:{port} · daemon pid {status['pid']}")
    for label, version in status["versions"].items():
        weight = status["weights"].get(label, 0)
        console.print(
            f"  {label}: {weight}% · port {version.get('port')} · "
            f"{version.get('status')} · ref {version.get('ref')}"
        )
    console.print(f"stats: http://127.0.0.1:{port}/_hotfix/stats")


@local_app.command("down")
def local_down(
    workspace: WorkspaceOpt = Path("."), config: ConfigOpt = None, as_json: JsonOpt = False
) -> None:
    """Stop the local environment: every version, the router and the daemon."""
    from tools.deploy.targets.local import shutdown_environment

    with exit_on_bad_input(as_json):
        state_dir = _state_dir(workspace, config)
    outcome = shutdown_environment(state_dir)
    if as_json:
        _emit_json({"state_dir": str(state_dir), **outcome})
    elif outcome.get("stopped"):
        Console().print(f"stopped the local environment in {state_dir}")
    else:
        Console().print(f"not running ({state_dir})")


@app.command("rollback")
def rollback_command(
    run_id: Annotated[str, typer.Argument(help="The run to roll back (id or prefix).")],
    workspace: WorkspaceOpt = Path("."),
    approve: ApproveOpt = "ask",
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Restore production to what it was before a run, from the run's journal."""
    _recover("rollback", run_id, workspace, approve, config, as_json)


@app.command("resume")
def resume_command(
    run_id: Annotated[str, typer.Argument(help="The run to resume (id or prefix).")],
    workspace: WorkspaceOpt = Path("."),
    approve: ApproveOpt = "ask",
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Finish an interrupted deployment or rollback from the run's journal."""
    _recover("resume", run_id, workspace, approve, config, as_json)


def _recover(
    command: Literal["rollback", "resume"],
    run_id: str,
    workspace: Path,
    approve: str,
    config: Path | None,
    as_json: bool,
) -> None:
    from agent.graceful_stop import GracefulStop, RunInterrupted
    from agent.recovery import RecoveryError, recover_run
    from agent.runs import find_run
    from agent.safe_stop import session_config
    from handoffs.report import write_report

    console = Console(stderr=as_json)
    # A rollback is itself the settling: a signal must not cut it short. A resumed rollout
    # is stopped like `hotfix run`: cancelled, then production settled from the journal.
    protect = (f"production is being rolled back — it finishes first, please wait (kill -9 "
               f"would abandon it half-way; `hotfix rollback {run_id}` then finishes it)")
    stop = GracefulStop(protect=protect if command == "rollback" else None)
    with stop.installed(), exit_on_bad_input(as_json, RecoveryError):
        with contextlib.suppress(LookupError):  # recover_run says so, as bad input
            root = workspace.resolve()
            stop.run_id, stop.workspace = find_run(root, run_id).name, root
        try:
            result = asyncio.run(stop.guard(recover_run(
                command, run_id, workspace=workspace, approver=make_approver(approve, console),
                config_path=config, journal_listeners=[stop.on_record],
            )))  # fmt: skip
        except RunInterrupted as interrupted:
            run_config = partial(session_config, config_path=config)
            raise stopped(stop, interrupted, run_config, console, as_json) from None
        report = write_report(result.run_dir)
    if as_json:
        _emit_json({**result.to_json(), "report": str(report)})
    else:
        prod = result.production
        console.print(f"[bold]{result.status}[/] · run {result.run_id}: {escape(result.summary)}")
        console.print(
            f"production {prod['url']}: weights {prod['weights']}, "
            f"{'healthy' if prod['healthy'] else '[red]NOT healthy[/]'}"
        )
        console.print(f"report: {report}")
    raise typer.Exit(result.exit_code)
