"""`hotfix_predeploy` on a real tiny git repository: order, evidence, build, tag, undo."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agent.approvers import ApprovalRequest, ToolApproved, ToolDenied
from agent.config import HotfixConfig, ProblemCommand, ProblemsConfig
from agent.gate import Gate
from agent.journal import Journal, read_journal
from agent.policy import Policy
from agent.redaction import Redactor
from tools.base import Effect, ToolContext
from tools.deploy.config import DeployConfig
from tools.deploy.predeploy.runner import PredeployReport, run_predeploy
from tools.deploy.predeploy.settings import BuildSettings, PredeploySettings, TagSettings
from tools.deploy.predeploy.tool import HotfixPredeploy, PredeployArgs
from tools.mcp_bridge.tools import GATE_KEY

FIX = "hotfix/1.4.3"
PASSING_TESTS = ProblemCommand(name="unit", command="{python} -c \"print('3 passed')\"")
BUILD = BuildSettings(command="{python} build.py", artifact_glob="dist/*.tar")

_BUILD_SCRIPT = """\
import os, pathlib, tarfile
pathlib.Path("dist").mkdir(exist_ok=True)
with tarfile.open(f"dist/shop-{os.environ['HOTFIX_VERSION']}.tar", "w") as tar:
    tar.add("app.py")
print("built")
"""


class GitRepo:
    """A throw-away repository: `main` plus a fix branch `hotfix/1.4.3`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        for key, value in (
            ("user.name", "Test"),
            ("user.email", "test@example.invalid"),
            ("commit.gpgsign", "false"),
            ("tag.gpgsign", "false"),
        ):
            self.git("config", key, value)
        self.write(".gitignore", ".hotfix/\n")
        self.write("app.py", "def total(cart):\n    return sum(cart)\n")
        self.write("build.py", _BUILD_SCRIPT)
        self.write("appsettings.json", json.dumps({"Api": {"Url": "https://shop.invalid"}}))
        self.commit("initial")
        self.git("checkout", "-q", "-b", FIX)
        self.write("app.py", "def total(cart):\n    return sum(cart or [])\n")
        self.commit("fix: empty cart")
        self.git("checkout", "-q", "main")

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(self.root), *args], capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    def write(self, name: str, text: str) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def commit_on_fix(self, name: str, text: str, message: str = "more fix") -> None:
        self.git("checkout", "-q", FIX)
        self.write(name, text)
        self.commit(message)
        self.git("checkout", "-q", "main")

    def commit(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "shop")


class ReleaseManager:
    """Answers the gate's questions with `answer` and remembers them."""

    name = "release-manager"

    def __init__(self, answer: str = "approve") -> None:
        self.answer = answer
        self.requests: list[ApprovalRequest] = []

    async def request(self, req: ApprovalRequest) -> ToolApproved | ToolDenied:
        self.requests.append(req)
        if self.answer == "approve":
            return req.approve(self.name)
        return req.deny(self.name, "not during business hours")


def make_ctx(
    repo: GitRepo, config: HotfixConfig | None = None, approver: ReleaseManager | None = None
) -> ToolContext:
    """A context like a session's: a journal and a gate (approving unless told otherwise)."""
    redactor = Redactor()
    config = config or HotfixConfig(problems=ProblemsConfig(commands=[PASSING_TESTS]))
    journal = Journal.create(repo.root, redactor, "run-1")
    gate = Gate(Policy(config.gate), approver or ReleaseManager(), journal, redactor)
    return ToolContext(repo.root, config, redactor, journal, "run-1", {GATE_KEY: gate})


def predeploy(ctx: ToolContext, settings: PredeploySettings, **kwargs: Any) -> PredeployReport:
    return asyncio.run(run_predeploy(ctx, FIX, settings=settings, **kwargs))


def step_events(ctx: ToolContext) -> list[tuple[str, str]]:
    assert ctx.journal is not None
    return [(r["kind"], r["phase"]) for r in read_journal(ctx.journal.path) if r["type"] == "step"]


def by_step(report: PredeployReport) -> dict[str, dict[str, Any]]:
    return {s["step"]: s for s in report.steps}


def test_predeploy_runs_every_step_in_order_and_journals_each_before_and_after(
    repo: GitRepo,
) -> None:
    ctx = make_ctx(repo)

    report = predeploy(ctx, PredeploySettings(build=BUILD))

    assert report.passed, report.text()
    assert [(s["step"], s["status"]) for s in report.steps] == [
        ("tests", "passed"),
        ("build", "passed"),
        ("security", "passed"),
        ("config", "skipped"),
        ("backup", "skipped"),
        ("migrate", "skipped"),
        ("tag", "passed"),
    ]
    expected: list[tuple[str, str]] = []
    for step in report.steps:
        phase = {"passed": "finished", "skipped": "skipped"}[step["status"]]
        expected += [(f"predeploy-{step['step']}", "started"), (f"predeploy-{step['step']}", phase)]
    assert step_events(ctx) == expected
    # It ran on the fix's commit, not on what the workspace has checked out.
    assert report.commit == repo.git("rev-parse", FIX)
    assert "sum(cart or [])" in (Path(report.worktree) / "app.py").read_text()


def test_build_output_becomes_a_versioned_artifact_with_its_sha256_recorded(
    repo: GitRepo,
) -> None:
    ctx = make_ctx(repo)

    report = predeploy(ctx, PredeploySettings(build=BUILD))

    build = by_step(report)["build"]
    [artifact] = build["evidence"]["artifacts"]
    stored = Path(artifact["path"])
    assert stored == repo.root / ".hotfix" / "artifacts" / "v1.4.3" / "shop-1.4.3.tar"
    assert artifact["sha256"] == hashlib.sha256(stored.read_bytes()).hexdigest()
    sums = (stored.parent / "SHA256SUMS").read_text()
    assert sums == f"{artifact['sha256']}  shop-1.4.3.tar\n"
    assert "built" in build["evidence"]["build"]["output_excerpt"]
    assert str(stored.parent) in build["undo"]
    assert ctx.journal is not None
    finished = [
        r
        for r in read_journal(ctx.journal.path)
        if r.get("kind") == "predeploy-build" and r["phase"] == "finished"
    ]
    assert finished[0]["details"]["evidence"]["artifacts"][0]["sha256"] == artifact["sha256"]


def test_a_build_that_leaves_no_artifact_fails_and_stops_before_the_tag(repo: GitRepo) -> None:
    ctx = make_ctx(repo)
    settings = PredeploySettings(
        build=BuildSettings(command="{python} -c \"print('nothing')\"", artifact_glob="dist/*")
    )

    report = predeploy(ctx, settings)

    assert report.failed_step == "build"
    assert report.reason is not None and "nothing matching 'dist/*'" in report.reason
    assert report.not_run == ["security", "config", "backup", "migrate", "tag"]
    assert repo.git("tag", "-l") == ""
    assert step_events(ctx)[-1] == ("predeploy-build", "failed")


def test_failing_tests_stop_the_predeploy_before_anything_is_built(repo: GitRepo) -> None:
    failing = ProblemCommand(name="unit", command='{python} -c "raise SystemExit(1)"')
    ctx = make_ctx(repo, HotfixConfig(problems=ProblemsConfig(commands=[failing])))

    report = predeploy(ctx, PredeploySettings(build=BUILD))

    assert report.failed_step == "tests"
    assert report.reason is not None and "unit: exit 1" in report.reason
    assert not (repo.root / ".hotfix" / "artifacts").exists()


def test_annotated_tag_is_created_on_the_fix_and_its_recorded_undo_deletes_it(
    repo: GitRepo,
) -> None:
    ctx = make_ctx(repo)

    report = predeploy(ctx, PredeploySettings())

    tag = by_step(report)["tag"]
    assert tag["evidence"]["tag"] == "hotfix-1.4.3"
    assert repo.git("cat-file", "-t", "hotfix-1.4.3") == "tag"  # annotated, not lightweight
    assert repo.git("rev-parse", "hotfix-1.4.3^{commit}") == repo.git("rev-parse", FIX)
    assert report.rollback_plan()[0] == {"step": "tag", "undo": tag["undo"]}
    subprocess.run(shlex.split(tag["evidence"]["undo_command"]), check=True, capture_output=True)
    assert repo.git("tag", "-l") == ""


def test_a_tag_of_that_name_on_another_commit_fails_the_tag_step(repo: GitRepo) -> None:
    repo.git("tag", "-a", "release-v1.4.3", "-m", "old", "main")
    ctx = make_ctx(repo)

    report = predeploy(ctx, PredeploySettings(tag=TagSettings(name_template="release-{label}")))

    assert report.failed_step == "tag"
    assert report.reason is not None and "already exists" in report.reason
    assert repo.git("rev-parse", "release-v1.4.3^{commit}") == repo.git("rev-parse", "main")


def test_the_tool_reads_deploy_predeploy_from_the_config_and_reports_failure_as_an_error(
    repo: GitRepo,
) -> None:
    class _Deploy(DeployConfig):  # what `[deploy] predeploy` will look like once wired
        predeploy: PredeploySettings = PredeploySettings()

    settings = PredeploySettings(tag=TagSettings(enabled=False), build=BUILD)
    failing = ProblemCommand(name="lint", command='{python} -c "raise SystemExit(2)"')
    config = HotfixConfig(
        problems=ProblemsConfig(commands=[failing]), deploy=_Deploy(predeploy=settings)
    )
    ctx = make_ctx(repo, config)
    tool = HotfixPredeploy()

    result = asyncio.run(tool.run(PredeployArgs(version_ref=FIX), ctx))

    assert tool.effect is Effect.LOCAL and tool.source == "hotfix"
    assert result.is_error
    assert result.data is not None and result.data["failed_step"] == "tests"
    assert result.text.startswith("pre-deployment of v1.4.3")
    assert "FAILED at tests" in result.text
