"""The environment's persistent state: `state.json`, the control token, file locations.

`state.json` is how another process (`hotfix rollback`, `hotfix resume`, `hotfix local
status`) finds a running environment: the daemon rewrites it atomically after every change.
The control token sits beside it, readable by the owner only.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

VersionStatus = Literal["running", "exited"]

# Set by the launcher when it extends PYTHONPATH to start the daemon; versions get the original.
ORIGINAL_PYTHONPATH = "HOTFIX_LOCAL_ORIGINAL_PYTHONPATH"


class VersionRecord(BaseModel):
    """One version process the environment runs."""

    model_config = ConfigDict(extra="ignore")

    label: str
    ref: str
    commit: str
    port: int
    pid: int
    argv: list[str]
    workdir: str
    log: str
    status: VersionStatus = "running"
    exit_code: int | None = None
    started_at: float

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class EnvironmentRecord(BaseModel):
    """The whole environment as last written by its daemon."""

    model_config = ConfigDict(extra="ignore")

    pid: int
    production_port: int
    control_port: int
    repo: str
    started_at: float
    updated_at: float
    weights: dict[str, int] = Field(default_factory=dict[str, int])
    versions: dict[str, VersionRecord] = Field(default_factory=dict[str, VersionRecord])

    @property
    def production_url(self) -> str:
        return f"http://127.0.0.1:{self.production_port}"


@dataclass(frozen=True)
class StatePaths:
    """Where the environment keeps its files inside the state directory."""

    root: Path

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def token(self) -> Path:
        return self.root / "control.token"

    @property
    def log(self) -> Path:
        return self.root / "environment.log"

    @property
    def lock(self) -> Path:
        return self.root / "environment.lock"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def worktrees(self) -> Path:
        return self.root / "worktrees"

    @property
    def flags(self) -> Path:
        return self.root / "flags.json"


def write_atomic(path: Path, data: str, mode: int = 0o644) -> None:
    """Replace `path` with `data` so readers see the old or the new file, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_state(paths: StatePaths, record: EnvironmentRecord) -> None:
    """Persist `record` as state.json."""
    write_atomic(paths.state, record.model_dump_json(indent=2) + "\n")


def read_state(paths: StatePaths) -> EnvironmentRecord | None:
    """The last state written, or None when there is none (or it is unreadable)."""
    try:
        return EnvironmentRecord.model_validate_json(paths.state.read_bytes())
    except (OSError, ValidationError):
        return None


def new_token(paths: StatePaths) -> str:
    """Create a fresh random control token, stored with owner-only permissions."""
    token = secrets.token_urlsafe(32)
    write_atomic(paths.token, token + "\n", mode=0o600)
    return token


def read_token(paths: StatePaths) -> str | None:
    try:
        return paths.token.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
