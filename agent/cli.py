"""The `hotfix` command line.

Exit codes: 0 the run did its job (the fix is deployed, or the agent had no deployment
tools); 4 `run` completed but the fix is not in production (its deployment failed or was
rolled back, or none was made); 1 the run ended without completing (limit hit, model or
tool failure); 2 bad input (usage, config, agent definition, arguments); 3 a required
approval was denied; 130 interrupted by SIGINT (Ctrl-C),
143 by SIGTERM — `run`, `demo` and `resume` first settle production (roll back an
unpromoted candidate that has traffic) and journal what they did; `rollback` is never
interrupted (a signal only says to wait).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Generator
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from agent.approvers import Approver, DenyAllApprover, PolicyFileApprover, TerminalApprover
from agent.cli_view import LiveView

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_DENIED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_NOT_DEPLOYED = 4  # the run completed, but its deployment did not end deployed

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Deploy bug fixes and hotfixes to production with minimal risk.")
policy_app = typer.Typer(no_args_is_help=True, help="Inspect the gate's rules.")
app.add_typer(policy_app, name="policy")

WorkspaceOpt = Annotated[Path, typer.Option("--workspace", "-w", help="Repository to work on.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
ApproveOpt = Annotated[str, typer.Option(
    "--approve", help="Who approves gated calls: ask (terminal), deny, or policy:FILE.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Config file (hotfix.toml).")]


class CliError(Exception):
    """Bad input: printed as one line, exit code 2."""


def make_approver(spec: str, console: Console) -> Approver:
    """Build the approver named on the command line."""
    if spec == "ask":
        return TerminalApprover(console)
    if spec == "deny":
        return DenyAllApprover()
    if spec.startswith("policy:"):
        return PolicyFileApprover(Path(spec.removeprefix("policy:")))
    raise CliError(f"--approve must be ask, deny or policy:FILE, not {spec!r}")


@contextlib.contextmanager
def exit_on_bad_input(as_json: bool, *also: type[Exception]) -> Generator[None]:
    """Report bad input (and the `also` errors) as one line, exit 2; Ctrl-C as exit 130.

    Anything else is a bug and keeps its traceback.
    """
    try:
        yield
    except KeyboardInterrupt:
        raise _fail("interrupted", as_json, EXIT_INTERRUPTED) from None
    except Exception as exc:
        if isinstance(exc, also) or _is_input_error(exc):
            raise _fail(str(exc), as_json) from None
        raise


def parse_json_args(args: str) -> dict[str, Any]:
    """The JSON_ARGS argument of `hotfix tool` / `policy explain`, which must be an object."""
    try:
        parsed = json.loads(args)
    except json.JSONDecodeError as exc:
        raise CliError(f"JSON_ARGS is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise CliError("JSON_ARGS must be a JSON object")
    return parsed  # pyright: ignore[reportUnknownVariableType]


def _emit_json(document: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")


def _fail(message: str, as_json: bool, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    if as_json:
        _emit_json({"error": message, "exit_code": code})
    else:
        Console(stderr=True).print(f"[red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


@app.command()
def run(
    description: Annotated[str, typer.Argument(
        help="The hotfix: what is broken, where the fix is.")],
    workspace: WorkspaceOpt = Path("."),
    model: Annotated[str | None, typer.Option(
        "--model", help="Model id, display name, runbook, or scripted:FILE.")] = None,
    approve: ApproveOpt = "ask",
    target: Annotated[str | None, typer.Option("--target", help="Deployment target.")] = None,
    strategy: Annotated[str | None, typer.Option("--strategy", help="Rollout strategy.")] = None,
    agent: Annotated[str, typer.Option("--agent", help="Agent definition.")] = "hotfix-deployment",
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the hotfix-deployment agent on a description."""
    from agent.cli_demo import stopped
    from agent.graceful_stop import GracefulStop, RunInterrupted
    from agent.safe_stop import session_config
    from agent.session import SessionOptions, run_session

    console = Console(stderr=as_json)
    view = LiveView(console)
    stop = GracefulStop()
    with stop.installed(), exit_on_bad_input(as_json):
        options = SessionOptions(
            description=description, workspace=workspace, model=model,
            approver=make_approver(approve, console), agent=agent, config_path=config,
            target=target, strategy=strategy, on_event=view,
            journal_listeners=[view.on_record, stop.on_record],
        )
        try:
            result = asyncio.run(stop.guard(run_session(options)))
        except RunInterrupted as interrupted:
            run_config = partial(session_config, config_path=config, target=target,
                                 strategy=strategy)  # fmt: skip
            raise stopped(stop, interrupted, run_config, console, as_json) from None
    from handoffs.report import write_outputs

    paths = write_outputs(result.run_dir)
    deployment = paths.deployment_status
    # A pipeline must not go green when the fix did not reach production, whether its
    # deployment ended badly or an agent that could deploy never made one.
    code = EXIT_OK if result.status == "completed" else EXIT_FAILED
    if code == EXIT_OK and deployment != "deployed" and (result.could_deploy or deployment):
        code = EXIT_NOT_DEPLOYED
    if as_json:
        _emit_json({**result.to_json(), "deployment_status": deployment,
                    "exit_code": code, "report": str(paths.markdown),
                    "report_html": str(paths.html),
                    "handoff": str(paths.handoff) if paths.handoff else None})
    else:
        console.print(f"\n[bold]{result.status}[/] ({result.stop_reason}) · run {result.run_id} "
                      f"· {result.turns} turns · {result.tool_calls} tool calls")
        if result.final_text:
            console.print(result.final_text, highlight=False, markup=False)
        if code == EXIT_NOT_DEPLOYED:
            ended = f"the deployment ended {deployment}" if deployment else "no deployment was made"
            console.print(f"[bold]not deployed[/]: {ended}")
        console.print(f"report: {paths.markdown}\njournal: {result.journal_path}")
        if result.handoffs:
            from agent.cli_monitor import monitor_after_run
            from handoffs.offer import offer_handoff

            # send: false — offered as a question, never started unasked.
            if offer_handoff(console, result):
                raise typer.Exit(monitor_after_run(console, result, approve))
    raise typer.Exit(code)


@app.command("tool")
def tool_command(
    name: Annotated[str, typer.Argument(help="Tool name (or alias).")],
    args: Annotated[str, typer.Argument(help="Arguments as a JSON object.")] = "{}",
    workspace: WorkspaceOpt = Path("."),
    approve: ApproveOpt = "ask",
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make one tool call through the gate (for debugging and scripts)."""
    from agent.single_call import call_tool
    from tools.mcp_bridge import BridgeError

    console = Console(stderr=as_json)
    with exit_on_bad_input(as_json, BridgeError):
        outcome = asyncio.run(call_tool(name, parse_json_args(args), workspace=workspace,
                                        config_path=config,
                                        approver=make_approver(approve, console)))
    if as_json:
        _emit_json(outcome.to_json())
    else:
        console.print(outcome.text, highlight=False, markup=False)
        if outcome.status != "ok":
            Console(stderr=True).print(f"[red]{outcome.status}[/]")
    raise typer.Exit(outcome.exit_code)


@app.command("tools")
def tools_command(
    agent: Annotated[str, typer.Option("--agent", help="Agent definition.")] = "hotfix-deployment",
    workspace: WorkspaceOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """List every tool an agent definition gets, with its effect and source."""
    from agent.config import load_config
    from agent.definitions import find_definition
    from tools.mcp_bridge import BridgeError, discover_tools
    from tools.mcp_bridge.settings import server_aliases
    from tools.registry import default_registry

    with exit_on_bad_input(as_json, BridgeError):
        root = workspace.resolve()
        definition = find_definition(agent, [root / ".github" / "agents"])
        # Tools of the MCP servers in hotfix.toml (the Azure MCP server) are listed too.
        servers = load_config(root).mcp.servers
        bridged = asyncio.run(discover_tools(servers, cwd=root)) if servers else []
        registry = default_registry(bridged, server_aliases(servers))
        selected, notices = registry.select(definition.tools)
    rows: list[dict[str, Any]] = [
        {"name": t.name, "aliases": list(t.aliases), "effect": t.effect.value,
         "source": t.source, "description": t.description.strip().splitlines()[0]}
        for t in selected]
    if as_json:
        _emit_json({"agent": definition.slug, "tools": rows, "notices": notices})
        return
    table = Table("tool", "effect", "source", "aliases", "description")
    for row in rows:
        table.add_row(str(row["name"]), str(row["effect"]), str(row["source"]),
                      ", ".join(row["aliases"]), str(row["description"]))
    console = Console()
    console.print(table)
    for notice in notices:
        console.print(f"[yellow]note:[/] {notice}")


@policy_app.command("explain")
def policy_explain(
    tool: Annotated[str, typer.Argument(help="Tool name (or alias).")],
    args: Annotated[str, typer.Argument(help="Arguments as a JSON object.")] = "{}",
    workspace: WorkspaceOpt = Path("."),
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Say whether the gate would allow, ask about, or deny a call, and which rule decided."""
    from agent.single_call import explain_call
    from tools.mcp_bridge import BridgeError

    with exit_on_bad_input(as_json, BridgeError):
        verdict = asyncio.run(explain_call(tool, parse_json_args(args), workspace=workspace,
                                           config_path=config))
    if as_json:
        _emit_json({"decision": verdict.decision.value, "rule": verdict.rule,
                    "reason": verdict.reason})
    else:
        Console().print(f"{verdict.decision.value}  [dim]rule: {verdict.rule or '(default)'}"
                        f" — {verdict.reason}[/]", highlight=False)


@app.command("runs")
def runs_command(
    run_id: Annotated[str | None, typer.Argument(help="Show one run (id or prefix).")] = None,
    workspace: WorkspaceOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """List runs, or show one run's journal summary."""
    from agent.runs import find_run, list_runs, summarise_run

    root = workspace.resolve()
    if run_id is not None:
        try:
            summary = summarise_run(find_run(root, run_id))
        except LookupError as exc:
            raise _fail(str(exc), as_json) from None
        if as_json:
            _emit_json(summary.to_json())
        else:
            for key, value in summary.to_json().items():
                Console().print(f"[bold]{key}[/]: {value}", highlight=False)
        return
    runs = list_runs(root)
    if as_json:
        _emit_json({"runs": [r.to_json() for r in runs]})
        return
    table = Table("run", "status", "agent", "model", "calls", "description")
    for r in runs:
        table.add_row(r.run_id, r.status, r.agent, r.model, str(r.tool_calls),
                      r.description[:60])
    Console().print(table)


def _is_input_error(exc: Exception) -> bool:
    from agent.config import ConfigError
    from agent.definitions import DefinitionError
    from agent.models.base import ModelError
    from agent.policy import PolicyError
    from tools.registry import UnknownToolError

    return isinstance(exc, CliError | ConfigError | DefinitionError | PolicyError
                      | UnknownToolError | ModelError | FileNotFoundError)


def main() -> None:
    """Console-script entry point."""
    app()


# Registers `demo`, `local`, `rollback` and `resume` on `app`.
from agent import cli_demo as _cli_demo  # noqa: E402,F401  # pyright: ignore[reportUnusedImport]

# Registers `evals run` and `evals list` (the scripted eval suite).
from agent import cli_evals as _cli_evals  # noqa: E402,F401  # pyright: ignore[reportUnusedImport]

# Registers `mcp` and `init` on `app`.
from agent import cli_mcp as _cli_mcp  # noqa: E402,F401  # pyright: ignore[reportUnusedImport]

# Registers `monitor` (post-fix monitoring from a run's handoff packet).
from agent import cli_monitor as _cli_monitor  # noqa: E402,F401  # pyright: ignore[reportUnusedImport]
