"""Run the pre-deployment steps in order on a worktree of the fix, journaling each.

Order: tests, build, security, config, backup, migrate, tag. Each step is written to the
journal as a `StepEvent` (`kind = predeploy-<step>`) before it runs and after it ends
(`finished`, `failed` or `skipped`), with its evidence and how to undo it. The first failure
stops the run; the rollback plan lists the undo of every step that ran, last first.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from agent.journal import StepEvent
from tools.base import ToolContext, ToolError
from tools.deploy.predeploy.approval import migration_approval
from tools.deploy.predeploy.build import run_build
from tools.deploy.predeploy.config_check import check_config
from tools.deploy.predeploy.context import PredeployContext, StepOutcome
from tools.deploy.predeploy.database import backup_database, migrate_database
from tools.deploy.predeploy.security import run_security
from tools.deploy.predeploy.settings import PredeploySettings, predeploy_settings
from tools.deploy.predeploy.tag import create_tag
from tools.deploy.predeploy.testing import run_tests
from tools.deploy.target import TargetError
from tools.deploy.targets.local.worktrees import check_label, ensure_worktree, repo_root

Step = Callable[[PredeployContext], Awaitable[StepOutcome]]
STEPS: tuple[tuple[str, Step], ...] = (
    ("tests", run_tests),
    ("build", run_build),
    ("security", run_security),
    ("config", check_config),
    ("backup", backup_database),
    ("migrate", migrate_database),
    ("tag", create_tag),
)
_NUMERIC_LABEL = re.compile(r"v\d")
_PHASES: dict[str, Literal["finished", "failed", "skipped"]] = {
    "passed": "finished",
    "failed": "failed",
    "skipped": "skipped",
}


@dataclass
class PredeployReport:
    """What the pre-deployment did, step by step, and how to undo it."""

    label: str
    version: str
    ref: str
    commit: str
    worktree: str
    steps: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    failed_step: str | None = None
    reason: str | None = None
    not_run: list[str] = field(default_factory=list[str])

    @property
    def passed(self) -> bool:
        return self.failed_step is None

    def rollback_plan(self) -> list[dict[str, str]]:
        """How to undo each step that ran, in reverse order."""
        return [
            {"step": s["step"], "undo": s["undo"]} for s in reversed(self.steps) if s.get("undo")
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "label": self.label,
            "version": self.version,
            "ref": self.ref,
            "commit": self.commit,
            "worktree": self.worktree,
            "steps": self.steps,
            "failed_step": self.failed_step,
            "reason": self.reason,
            "not_run": self.not_run,
            "rollback_plan": self.rollback_plan(),
        }

    def text(self) -> str:
        head = f"pre-deployment of {self.label} ({self.commit[:12]}): "
        head += "PASSED" if self.passed else f"FAILED at {self.failed_step}: {self.reason}"
        lines = [head]
        lines += [f"- {s['step']}: {s['status']} — {s['summary']}" for s in self.steps]
        if self.not_run:
            lines.append(f"- not run: {', '.join(self.not_run)}")
        plan = self.rollback_plan()
        if plan:
            lines.append("Undo, last step first:")
            lines += [f"  {p['step']}: {p['undo']}" for p in plan]
        return "\n".join(lines)


def version_of(label: str) -> str:
    """`v1.4.3` -> `1.4.3`; other labels stay as they are."""
    return label[1:] if _NUMERIC_LABEL.match(label) else label


async def run_predeploy(
    ctx: ToolContext,
    version_ref: str,
    *,
    label: str | None = None,
    base_ref: str | None = None,
    settings: PredeploySettings | None = None,
) -> PredeployReport:
    """Check out `version_ref` under `.hotfix/predeploy/<label>` and run every step on it.

    Raises:
        ToolError: The ref or the repository cannot be used (no step ran).
    """
    from tools.deploy.tools import label_from_ref

    settings = settings or predeploy_settings(ctx.config)
    label = label or label_from_ref(version_ref)
    hotfix_dir = ctx.workspace / ".hotfix"
    try:
        check_label(label)
        repo = repo_root(ctx.workspace)
        tree = ensure_worktree(repo, hotfix_dir / "predeploy", label, version_ref)
    except TargetError as exc:
        raise ToolError(f"hotfix_predeploy: {exc}") from exc
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    p = PredeployContext(
        workspace=ctx.workspace,
        repo=repo,
        worktree=tree.path,
        ref=version_ref,
        commit=tree.commit,
        label=label,
        version=version_of(label),
        base_ref=base_ref or settings.security.base_ref,
        settings=settings,
        config=ctx.config,
        redactor=ctx.redactor,
        artifact_dir=hotfix_dir / "artifacts" / label,
        backup_dir=hotfix_dir / "backups" / label / stamp,
        approve_migration=migration_approval(ctx),
    )
    report = PredeployReport(label, p.version, version_ref, tree.commit, str(tree.path))
    for index, (name, step) in enumerate(STEPS):
        outcome = await _run_step(ctx, p, name, step)
        report.steps.append(
            {
                "step": name,
                "status": outcome.status,
                "summary": outcome.summary,
                "evidence": outcome.evidence,
                "undo": outcome.undo,
            }
        )
        if outcome.status == "failed":
            report.failed_step, report.reason = name, outcome.summary
            report.not_run = [later for later, _ in STEPS[index + 1 :]]
            break
    return report


async def _run_step(ctx: ToolContext, p: PredeployContext, name: str, step: Step) -> StepOutcome:
    step_id, kind = f"predeploy-{name}:{p.label}", f"predeploy-{name}"
    base: dict[str, Any] = {"label": p.label, "ref": p.ref, "commit": p.commit}
    _write(ctx, step_id, kind, "started", base)
    try:
        outcome = await step(p)
    except Exception as exc:  # an unexpected crash of a step is that step's failure
        outcome = StepOutcome("failed", f"{name} step crashed: {type(exc).__name__}: {exc}")
    outcome.summary = ctx.redactor.text(outcome.summary)
    details = {**base, "summary": outcome.summary, "evidence": outcome.evidence}
    if outcome.undo:
        details["undo"] = outcome.undo
    phase = _PHASES[outcome.status]
    if outcome.status != "passed":
        details["reason"] = outcome.summary
    _write(ctx, step_id, kind, phase, details)
    return outcome


def _write(
    ctx: ToolContext,
    step_id: str,
    kind: str,
    phase: Literal["started", "finished", "failed", "skipped"],
    details: dict[str, Any],
) -> None:
    if ctx.journal is not None:
        ctx.journal.write(StepEvent(step_id=step_id, kind=kind, phase=phase, details=details))
