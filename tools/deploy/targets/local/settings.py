"""Settings of the local target: the `[deploy.local]` table of hotfix.toml."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator


class LocalTargetConfig(BaseModel):
    """Where the local environment listens and how a version of the service is started.

    `start_command` is split like a shell command line (no shell runs it); each argument may
    use the placeholders `{port}`, `{version}` (the label), `{workdir}` (the version's git
    worktree) and `{python}` (the interpreter running hotfix). The command runs in the
    worktree with `PORT`, `HOTFIX_VERSION` and `HOTFIX_FLAGS_FILE` in its environment.
    """

    model_config = ConfigDict(extra="forbid")

    production_port: int = Field(default=8080, ge=1, le=65535)
    start_command: str = Field(default="{python} app.py --port {port}", min_length=1)
    state_dir: str = ".hotfix/local"
    startup_timeout_s: float = Field(default=20.0, gt=0)
    # How long a version leaving the router may take to finish its in-flight requests.
    drain_timeout_s: float = Field(default=10.0, ge=0)
    # Grace between SIGTERM and SIGKILL when a version process is stopped.
    stop_timeout_s: float = Field(default=5.0, ge=0)
    # Extra environment of every version; a VersionSpec's own env wins over it.
    env: dict[str, str] = Field(default_factory=dict[str, str])

    @field_validator("start_command")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        from tools.deploy.target import TargetError
        from tools.deploy.targets.local.supervisor import render_command

        try:
            render_command(value, port=1, version="v", workdir=Path("w"), python="python")
        except TargetError as exc:
            raise ValueError(str(exc)) from None
        return value

    def state_path(self, workspace: Path) -> Path:
        """The state directory, resolved against `workspace` when relative."""
        path = Path(self.state_dir).expanduser()
        return path if path.is_absolute() else (workspace / path).resolve()
