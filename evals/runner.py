"""Runs scenarios through the real session loop against the simulated environment.

One run: a temporary workspace (the scenario's files, its hotfix.toml, a loopback web for
fetched pages), a simulated target and verifier passed to `run_session` in place of the
configured ones, the scenario's driver and approver, then the report and handoff written as
a front end writes them, and every grader applied to the resulting `Trajectory`.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.config import load_config
from agent.journal import read_journal
from agent.session import SessionOptions, run_session
from evals.approver import ScriptedApprover
from evals.cassettes import CassetteError, load_cassette
from evals.drivers import REPLAY_API_KEY, build_driver, substitute
from evals.graders import GradeResult, grade_all
from evals.scenario import Scenario
from evals.simulated import FakeClock, SimVerifier, build_target
from evals.trajectory import Trajectory
from evals.unsafe import UnsafeAction, unsafe_actions
from evals.workspace import BASE_CONFIG, init_git, merge, serve_pages, write_workspace


@dataclass
class RunOptions:
    """How to run the suite: live model, cassettes, where to keep workspaces."""

    live_model: str | None = None
    record_dir: Path | None = None  # live runs save cassettes here
    replay_dir: Path | None = None  # model-driven scenarios replay `<name>.json` from here
    keep_dir: Path | None = None  # keep workspaces and runs here (default: a temp dir)
    on_result: Callable[[ScenarioResult], None] | None = None


@dataclass
class ScenarioResult:
    """One scenario, one epoch: the verdicts and the numbers."""

    trajectory: Trajectory
    grades: list[GradeResult]
    unsafe: list[UnsafeAction] = field(default_factory=list[UnsafeAction])

    @property
    def name(self) -> str:
        return self.trajectory.scenario.name

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.grades)


class _CallTracker:
    """Journal listener: which tool call is running now, and the last sequence number."""

    def __init__(self) -> None:
        self.seq = 0
        self.current: str | None = None

    def __call__(self, record: dict[str, Any]) -> None:
        self.seq = int(record.get("seq", self.seq))
        if record.get("type") == "tool_requested":
            self.current = str(record.get("call_id"))
        elif record.get("type") == "tool_finished":
            self.current = None

    def attribution(self) -> tuple[str | None, int]:
        return self.current, self.seq


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Generator[None]:
    # The redactor learns secrets from the environment, as it does in production.
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


async def run_scenario(
    scenario: Scenario, workdir: Path, epoch: int = 1, options: RunOptions | None = None
) -> ScenarioResult:
    """Run one epoch of `scenario` in `workdir` (created) and grade it."""
    options = options or RunOptions()
    started = time.monotonic()
    trajectory = Trajectory(scenario=scenario, epoch=epoch)
    environment = dict(scenario.secrets)
    replay = _replay_cassette(scenario, options)
    if replay is not None or scenario.driver == "cassette":
        # The SDK insists on an API key even though replay never sends a request out.
        environment["ANTHROPIC_API_KEY"] = REPLAY_API_KEY
    with serve_pages(scenario.web) as web, _environment(environment):
        try:
            await _run(scenario, workdir, trajectory, options, {"web": web}, replay)
        except Exception as exc:  # a crash of the run is a failed scenario, not a crashed suite
            trajectory.errors.append(f"{type(exc).__name__}: {exc}")
    trajectory.wall_s = time.monotonic() - started
    result = ScenarioResult(trajectory, grade_all(trajectory), unsafe_actions(trajectory))
    if options.on_result is not None:
        options.on_result(result)
    return result


async def _run(
    scenario: Scenario,
    workdir: Path,
    trajectory: Trajectory,
    options: RunOptions,
    replacements: dict[str, str],
    replay: dict[str, Any] | None,
) -> None:
    config_data = merge(
        merge(BASE_CONFIG, {"deploy": {"target": scenario.target}}), scenario.config
    )
    files = substitute(scenario.files, replacements)
    workspace = write_workspace(workdir, files, config_data).resolve()
    init_git(workspace, scenario.git_refs())
    config = load_config(workspace)
    clock = FakeClock()
    target = build_target(
        scenario.target,
        scenario.production,
        scenario.versions,
        clock=clock,
        faults=scenario.faults,
        flags=scenario.flags,
        broken_flags=scenario.broken_flags,
    )
    verifier = SimVerifier(target, config.deploy.verification)
    tracker = _CallTracker()
    target.attribution = tracker.attribution
    approver = ScriptedApprover(scenario.approvals)
    driver = build_driver(
        scenario,
        config.model,
        replacements,
        live_model=options.live_model if scenario.driver == "runbook" else None,
        replay=replay,
    )
    run = await run_session(SessionOptions(
        description=scenario.description, workspace=workspace, approver=approver,
        model_client=driver.model, front_end="evals", strategy=scenario.strategy,
        deploy_target=target, verifier=verifier, deploy_sleep=clock.sleep,
        journal_listeners=[tracker],
    ))  # fmt: skip
    trajectory.records = read_journal(run.journal_path)
    trajectory.requests = driver.model.requests
    trajectory.ops = list(target.ops)
    trajectory.final_state = target.snapshot()
    trajectory.asked = list(approver.asked)
    trajectory.status, trajectory.stop_reason = run.status, run.stop_reason
    trajectory.final_text, trajectory.model = run.final_text, run.model
    trajectory.turns, trajectory.tool_calls, trajectory.usage = run.turns, run.tool_calls, run.usage
    trajectory.run_dir = run.run_dir
    if driver.replay is not None:
        try:
            driver.replay.assert_complete()
        except CassetteError as exc:
            trajectory.errors.append(str(exc))
    if driver.recorder is not None and options.record_dir is not None:
        suffix = "" if trajectory.epoch == 1 else f".epoch{trajectory.epoch}"
        driver.recorder.save(options.record_dir / f"{scenario.name}{suffix}.json")
    _write_deliverables(trajectory)


def _replay_cassette(scenario: Scenario, options: RunOptions) -> dict[str, Any] | None:
    if options.replay_dir is None or scenario.driver != "runbook":
        return None
    path = options.replay_dir / f"{scenario.name}.json"
    return load_cassette(path) if path.is_file() else None


def _write_deliverables(trajectory: Trajectory) -> None:
    """Report and handoff, as the CLI and the demo write them after a run."""
    from handoffs.report import write_handoff, write_report

    run_dir = trajectory.run_dir
    assert run_dir is not None
    try:
        trajectory.report_md = write_report(run_dir).read_text(encoding="utf-8")
        trajectory.report_json = _load_json(run_dir / "report.json")
        if not (run_dir / "handoff.json").is_file():  # older report writers left it out
            write_handoff(run_dir)
        trajectory.handoff = _load_json(run_dir / "handoff.json")
    except Exception as exc:  # the report graders say what is missing
        trajectory.errors.append(f"writing the report failed: {type(exc).__name__}: {exc}")


def _load_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None  # pyright: ignore[reportUnknownVariableType]


async def run_suite(
    scenarios: list[Scenario], epochs: int = 1, options: RunOptions | None = None
) -> list[ScenarioResult]:
    """Run every scenario `epochs` times, in order, each in a fresh workspace."""
    options = options or RunOptions()
    results: list[ScenarioResult] = []
    with contextlib.ExitStack() as stack:
        root = options.keep_dir
        if root is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hotfix-evals-")))
        for epoch in range(1, epochs + 1):
            for scenario in scenarios:
                workdir = root / f"{scenario.name}-{epoch}"
                results.append(await run_scenario(scenario, workdir, epoch, options))
    return results
