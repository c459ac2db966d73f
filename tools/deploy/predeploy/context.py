"""What every pre-deployment step gets (`PredeployContext`) and returns (`StepOutcome`)."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tools._process import run_process, scrubbed_env

if TYPE_CHECKING:
    from agent.config import HotfixConfig
    from agent.redaction import Redactor
    from tools.deploy.predeploy.approval import MigrationApproval
    from tools.deploy.predeploy.settings import PredeploySettings

Status = Literal["passed", "failed", "skipped"]
_EXCERPT_LINES = 20
_EXCERPT_CHARS = 2_000
_OUTPUT_LIMIT = 1_000_000


@dataclass
class StepOutcome:
    """How one step ended, what proves it, and how to undo what it did."""

    status: Status
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict[str, Any])
    undo: str | None = None


def passed(summary: str, evidence: dict[str, Any], undo: str | None = None) -> StepOutcome:
    return StepOutcome("passed", summary, evidence, undo)


def failed(
    summary: str, evidence: dict[str, Any] | None = None, undo: str | None = None
) -> StepOutcome:
    return StepOutcome("failed", summary, evidence or {}, undo)


def skipped(summary: str) -> StepOutcome:
    return StepOutcome("skipped", summary)


@dataclass
class PredeployContext:
    """One pre-deployment of one version: where it is checked out and the settings."""

    workspace: Path
    repo: Path
    worktree: Path
    ref: str
    commit: str
    label: str
    version: str
    base_ref: str | None
    settings: PredeploySettings
    config: HotfixConfig
    redactor: Redactor
    artifact_dir: Path
    backup_dir: Path
    # Facts later steps need from earlier ones (backup file, restore instructions).
    state: dict[str, str] = field(default_factory=dict[str, str])
    # Asks the gate before migrations run (approval.py); None: nobody to ask, no migration.
    approve_migration: MigrationApproval | None = None

    def placeholders(self) -> dict[str, str]:
        """Values for `{name}` words in configured commands."""
        sqlite = self.settings.database.sqlite_path
        return {
            "python": _python_for(self.workspace),
            "version": self.version,
            "label": self.label,
            "ref": self.ref,
            "commit": self.commit,
            "short": self.commit[:12],
            "worktree": str(self.worktree),
            "workspace": str(self.workspace),
            "artifact_dir": str(self.artifact_dir),
            "backup_dir": str(self.backup_dir),
            "database": str(self.workspace / sqlite) if sqlite else "",
            "backup": self.state.get("backup", ""),
        }

    def expand(self, template: str) -> str:
        """`template` with the placeholders filled in (for recorded undo commands)."""
        for key, value in self.placeholders().items():
            template = template.replace("{" + key + "}", value)
        return template

    def env(self, passthrough: Iterable[str] = ()) -> dict[str, str]:
        """A scrubbed environment plus `HOTFIX_*` facts and the passed-through variables."""
        overrides = {
            "HOTFIX_VERSION": self.version,
            "HOTFIX_LABEL": self.label,
            "HOTFIX_COMMIT": self.commit,
            "HOTFIX_ARTIFACT_DIR": str(self.artifact_dir),
            "HOTFIX_BACKUP_DIR": str(self.backup_dir),
        }
        overrides |= {name: os.environ[name] for name in passthrough if name in os.environ}
        return scrubbed_env(extra_secret_names=self.config.secrets.env_names, overrides=overrides)

    async def run(
        self, command: str, *, timeout_s: float, passthrough: Iterable[str] = ()
    ) -> CommandOutcome:
        """Run a configured command in the worktree; never raises for a failing command."""
        shown = self.redactor.text(command)
        try:
            argv = [self.expand(word) for word in shlex.split(command)]
        except ValueError as exc:
            return CommandOutcome(shown, None, False, 0.0, "", f"cannot parse: {exc}")
        if not argv:
            return CommandOutcome(shown, None, False, 0.0, "", "the command is empty")
        try:
            result = await run_process(
                argv,
                cwd=self.worktree,
                timeout_s=timeout_s,
                env=self.env(passthrough),
                output_limit=_OUTPUT_LIMIT,
            )
        except OSError as exc:
            return CommandOutcome(shown, None, False, 0.0, "", f"cannot start {argv[0]!r}: {exc}")
        excerpt = self.redactor.text(tail(result.output))
        code = None if result.timed_out else result.exit_code
        return CommandOutcome(shown, code, result.timed_out, round(result.duration_s, 2), excerpt)


@dataclass(frozen=True)
class CommandOutcome:
    """A configured command's result, its output cut to a redacted excerpt."""

    command: str
    exit_code: int | None
    timed_out: bool
    duration_s: float
    output: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.timed_out and self.exit_code == 0

    def evidence(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "duration_s": self.duration_s,
            "error": self.error,
            "output_excerpt": self.output,
        }

    def failure(self) -> str:
        """Why it did not succeed, with the last output line."""
        if self.error:
            return self.error
        ended = "timed out" if self.timed_out else f"exited {self.exit_code}"
        last = next((ln for ln in reversed(self.output.splitlines()) if ln.strip()), "")
        return f"{ended}" + (f": {last.strip()[:200]}" if last else "")


def tail(text: str) -> str:
    """The last lines of some output, bounded in lines and characters."""
    lines = text.rstrip().splitlines()[-_EXCERPT_LINES:]
    return "\n".join(lines)[-_EXCERPT_CHARS:]


def _python_for(root: Path) -> str:
    for name in (".venv/bin/python", "venv/bin/python", ".venv/Scripts/python.exe"):
        if (root / name).is_file():
            return str(root / name)
    return sys.executable
