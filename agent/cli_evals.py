"""`hotfix evals run|list`: the scripted eval suite (see evals/README.md).

Registered on `agent.cli.app` when `agent.cli` imports this module. Offline by default:
the runbook planner, scripted and adversarial transcripts, and cassette replays drive the
real session loop against simulated targets. `--model <id>` drives the model-driven
scenarios with Claude instead (credentials required) and records a cassette of each.
Exit codes: 0 every scenario passed and no unsafe action executed; 1 otherwise; 2 bad input.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from agent.cli import EXIT_FAILED, EXIT_OK, JsonOpt, _emit_json, _fail, app  # pyright: ignore[reportPrivateUsage]

if TYPE_CHECKING:
    from evals.runner import ScenarioResult

evals_app = typer.Typer(no_args_is_help=True, help="The scripted eval suite.")
app.add_typer(evals_app, name="evals")

SuiteOpt = Annotated[str, typer.Option("--suite", help="Suite tag to run (default: all).")]
DirOpt = Annotated[
    Path | None,
    typer.Option("--scenarios", help="Directory of scenario files (default: the bundled ones)."),
]


@evals_app.command("run")
def evals_run(
    suite: SuiteOpt = "all",
    model: Annotated[
        str | None,
        typer.Option("--model", help="Drive model-driven scenarios with this Claude model (live)."),
    ] = None,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Runs per scenario (k).")] = 1,
    scenario: Annotated[
        list[str] | None, typer.Option("--scenario", help="Only this scenario (repeatable).")
    ] = None,
    scenarios_dir: DirOpt = None,
    record: Annotated[
        Path | None,
        typer.Option(
            "--record",
            help="Where live runs save cassettes (default .hotfix/evals/cassettes/MODEL).",
        ),
    ] = None,
    replay: Annotated[
        Path | None,
        typer.Option(
            "--replay", help="Replay recorded cassettes (NAME.json) for model-driven scenarios."
        ),
    ] = None,
    keep: Annotated[
        Path | None, typer.Option("--keep", help="Keep every workspace and run directory here.")
    ] = None,
    markdown: Annotated[
        Path | None, typer.Option("--markdown", help="Also write the Markdown table to this file.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the eval scenarios and grade them; print metrics as a table or JSON."""
    from evals.metrics import summarize, to_markdown
    from evals.runner import RunOptions, run_suite
    from evals.scenario import SCENARIOS_DIR, ScenarioError, load_scenarios

    console = Console(stderr=True)
    try:
        scenarios = load_scenarios(scenarios_dir or SCENARIOS_DIR, suite, scenario)
    except (ScenarioError, OSError) as exc:
        raise _fail(str(exc), as_json) from None
    if not scenarios:
        raise _fail(f"no scenarios in suite {suite!r}", as_json)
    live = _live_model(model, as_json)
    if live is not None and record is None:
        record = Path(".hotfix") / "evals" / "cassettes" / live
    options = RunOptions(
        live_model=live,
        record_dir=record,
        replay_dir=replay,
        keep_dir=keep,
        on_result=lambda r: _progress(console, r),
    )
    started = time.monotonic()
    results = asyncio.run(run_suite(scenarios, epochs, options))
    document = summarize(results, epochs, time.monotonic() - started)
    table = to_markdown(document)
    if markdown is not None:
        markdown.write_text(table, encoding="utf-8")
    if as_json:
        _emit_json(document)
    else:
        sys.stdout.write(table)  # plain: rich would wrap the Markdown table's rows
    summary = document["summary"]
    ok = not summary["failed"] and summary["unsafe_executed"] == 0
    raise typer.Exit(EXIT_OK if ok else EXIT_FAILED)


@evals_app.command("list")
def evals_list(
    suite: SuiteOpt = "all", scenarios_dir: DirOpt = None, as_json: JsonOpt = False
) -> None:
    """List the scenarios: name, target, driver, suites and what each one checks."""
    from evals.scenario import SCENARIOS_DIR, ScenarioError, load_scenarios

    try:
        scenarios = load_scenarios(scenarios_dir or SCENARIOS_DIR, suite)
    except (ScenarioError, OSError) as exc:
        raise _fail(str(exc), as_json) from None
    rows = [
        {
            "name": s.name,
            "target": s.target,
            "driver": s.driver,
            "suites": s.suites,
            "summary": s.summary,
        }
        for s in scenarios
    ]
    if as_json:
        _emit_json({"scenarios": rows})
        return
    console = Console()
    for row in rows:
        console.print(
            f"[bold]{row['name']}[/] [dim]{row['target']} · {row['driver']} · "
            f"{', '.join(row['suites'])}[/]\n  {escape(str(row['summary']))}"
        )


def _live_model(model: str | None, as_json: bool) -> str | None:
    """The API id to run live with, or None for offline drivers."""
    if model is None or model.strip() in ("", "runbook"):
        return None
    from agent.models.catalog import resolve_model
    from agent.models.factory import has_model_credentials

    if not has_model_credentials():
        raise _fail(
            f"--model {model}: live evals need Claude credentials (ANTHROPIC_API_KEY, "
            "Foundry, Bedrock or Vertex); without them run offline, or --replay "
            "recorded cassettes",
            as_json,
        )
    return resolve_model(model).api_id


def _progress(console: Console, result: ScenarioResult) -> None:
    t = result.trajectory
    mark = "[green]pass[/]" if result.passed else "[red]FAIL[/]"
    console.print(f"{mark} {escape(t.scenario.name)} [dim](epoch {t.epoch}, {t.wall_s:.2f}s)[/]")
