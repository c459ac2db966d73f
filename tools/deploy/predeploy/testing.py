"""Tests step: the `problems` diagnostics (configured or detected), run on the fix's tree."""

from __future__ import annotations

from typing import Any

from tools.deploy.predeploy.context import PredeployContext, StepOutcome, failed, passed, skipped
from tools.workspace.problems import (
    CommandRun,
    detect_commands,
    run_command,
    scrubbed_environment,
)

_SHOWN_ERRORS = 10


async def run_tests(p: PredeployContext) -> StepOutcome:
    """Run every diagnostics command in the worktree; any failure or error fails the step."""
    if not p.settings.run_tests:
        return skipped("tests are off ([deploy.predeploy] run_tests = false)")
    commands = list(p.config.problems.commands) or detect_commands(p.worktree)
    if not commands:
        return skipped("no diagnostics commands are configured ([problems]) or detected")
    env = scrubbed_environment(p.config.secrets.env_names)
    runs = [await run_command(command, p.worktree, env) for command in commands]
    evidence: dict[str, Any] = {
        "commands": [_command_evidence(run) for run in runs],
        "errors": [
            p.redactor.text(f"{e.file or '-'}:{e.line or 0}: {e.message} ({e.source})")
            for run in runs
            for e in run.problems
            if e.severity == "error"
        ][:_SHOWN_ERRORS],
    }
    bad = [run for run in runs if _failed(run)]
    if bad:
        reasons = "; ".join(f"{run.name}: {_why(run)}" for run in bad)
        return failed(p.redactor.text(f"tests failed on {p.commit[:12]} — {reasons}"), evidence)
    names = ", ".join(f"{run.name} ({run.duration_s:g} s)" for run in runs)
    summary = f"{len(runs)} diagnostics command(s) passed: {names}"
    return passed(summary, evidence, undo="nothing to undo (read-only)")


def _failed(run: CommandRun) -> bool:
    return bool(run.error or run.timed_out or run.exit_code != 0 or run.counts()["error"])


def _why(run: CommandRun) -> str:
    if run.error:
        return run.error
    if run.timed_out:
        return f"timed out after {run.duration_s:g} s"
    errors = run.counts()["error"]
    last = next((ln.strip() for ln in reversed(run.output.splitlines()) if ln.strip()), "")
    detail = f"{errors} error(s)" if errors else f'"{last[:160]}"'
    return f"exit {run.exit_code}, {detail}"


def _command_evidence(run: CommandRun) -> dict[str, Any]:
    return {
        "name": run.name,
        "command": run.command,
        "exit_code": run.exit_code,
        "timed_out": run.timed_out,
        "duration_s": run.duration_s,
        "error": run.error,
        "counts": run.counts(),
    }
