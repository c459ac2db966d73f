"""The run journal: an append-only, fsync'd JSONL file that is the truth about a run.

Every event is redacted, serialised on one line, written and fsync'd before `write`
returns, so a crash right after loses nothing that was reported as done. Readers tolerate a
torn last line (the one a crash can leave behind).

One process at a time writes a run: the journal holds an exclusive `flock` on its file for
as long as it is open, so `hotfix resume RUN` cannot drive a deployment the original process
is still driving. The kernel drops the lock when its holder dies, even by SIGKILL.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.redaction import Redactor

SCHEMA_VERSION = 1
JOURNAL_NAME = "journal.jsonl"


class JournalBusy(Exception):
    """Another open journal (normally another process) is writing this run."""


class Event(BaseModel):
    """Base of every journal event. Subclasses declare a literal `type` field."""

    model_config = ConfigDict(extra="forbid")


class RunStarted(Event):
    type: Literal["run_started"] = "run_started"
    run_id: str
    description: str
    agent: str
    model: str
    workspace: str
    config_source: str | None = None
    front_end: str = "cli"


class ModelTurn(Event):
    type: Literal["model_turn"] = "model_turn"
    turn: int
    model: str
    stop_reason: str | None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    duration_ms: int = 0
    text: str = ""
    tool_uses: list[dict[str, Any]] = Field(default_factory=list[dict[str, Any]])


class ToolRequested(Event):
    type: Literal["tool_requested"] = "tool_requested"
    call_id: str
    tool: str
    args: dict[str, Any]
    fingerprint: str
    effect: str | None = None


class GateDecided(Event):
    type: Literal["gate_decision"] = "gate_decision"
    call_id: str
    tool: str
    fingerprint: str
    decision: Literal["allow", "ask", "deny"]
    rule: str | None
    reason: str


class ApprovalRecorded(Event):
    type: Literal["approval"] = "approval"
    call_id: str
    fingerprint: str
    approved: bool
    approver: str
    scope: Literal["once", "run"] = "once"
    reason: str = ""


class ToolFinished(Event):
    type: Literal["tool_finished"] = "tool_finished"
    call_id: str
    tool: str
    status: Literal["ok", "error", "denied", "invalid", "unknown_tool", "skipped"]
    duration_ms: int = 0
    output_chars: int = 0
    truncated: bool = False
    summary: str = ""
    data: dict[str, Any] | None = None


class StepEvent(Event):
    """A deployment step, written before (`started`) and after (`finished`/`failed`)."""

    type: Literal["step"] = "step"
    step_id: str
    kind: str
    phase: Literal["started", "finished", "failed", "skipped"]
    details: dict[str, Any] = Field(default_factory=dict[str, Any])


class Notice(Event):
    type: Literal["notice"] = "notice"
    level: Literal["info", "warning", "error"] = "info"
    message: str


class RunFinished(Event):
    type: Literal["run_finished"] = "run_finished"
    status: str
    stop_reason: str
    turns: int
    tool_calls: int
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    summary: str = ""


def new_run_id() -> str:
    """Sortable, unique run id: UTC timestamp plus random suffix."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}"


def runs_root(workspace: Path) -> Path:
    return workspace / ".hotfix" / "runs"


class Journal:
    """Appends events to one run's `journal.jsonl`."""

    def __init__(self, path: Path, redactor: Redactor, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self._redactor = redactor
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = _open_exclusively(path, run_id)
        _drop_torn_tail(path)  # only once the lock is ours: another writer's line may be mid-way
        self._seq = _last_seq(path)
        self._listeners: list[Callable[[dict[str, Any]], None]] = []

    @classmethod
    def create(cls, workspace: Path, redactor: Redactor, run_id: str | None = None) -> Journal:
        """Start the journal of a new run under `<workspace>/.hotfix/runs/<run-id>/`."""
        run_id = run_id or new_run_id()
        return cls(runs_root(workspace) / run_id / JOURNAL_NAME, redactor, run_id)

    def add_listener(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call `listener` with each record after it is durably written (e.g. telemetry)."""
        self._listeners.append(listener)

    @property
    def run_dir(self) -> Path:
        return self.path.parent

    def write(self, event: Event) -> dict[str, Any]:
        """Redact, append and fsync one event; returns the record as written."""
        body = self._redactor.value(event.model_dump(mode="json"))
        with self._lock:
            self._seq += 1
            record = {"v": SCHEMA_VERSION, "seq": self._seq, "ts": time.time(), **body}
            line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
            os.write(self._fd, line.encode())
            os.fsync(self._fd)
        for listener in self._listeners:
            listener(record)
        return record

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_exclusively(path: Path, run_id: str) -> int:
    """Open `path` for appending under an exclusive lock, or raise `JournalBusy`."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _lock_holder(fd)
        os.close(fd)
        who = f"process {holder}" if holder else "another process"
        raise JournalBusy(
            f"run {run_id} is still being driven by {who}; stop it first (Ctrl-C settles "
            "production) or wait for it to finish"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _lock_holder(fd: int) -> int | None:
    """The pid holding the flock on `fd`'s file, from /proc/locks (Linux); None if unknown."""
    stat = os.fstat(fd)
    inode = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 4242 08:01:131090 0 EOF" ("->" marks a waiter)
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == inode:
            return int(fields[4]) if fields[4].isdigit() else None
    return None


def read_journal(path: Path) -> list[dict[str, Any]]:
    """All complete events of a journal; a torn final line is skipped, not an error."""
    return list(iter_journal(path))


def iter_journal(path: Path) -> Iterator[dict[str, Any]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return
    lines = raw.split(b"\n")
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if index >= len(lines) - 2:
                return  # torn tail: the write a crash interrupted
            raise
        if isinstance(record, dict):
            yield record  # pyright: ignore[reportUnknownArgumentType]


def _last_seq(path: Path) -> int:
    last = 0
    for record in iter_journal(path):
        seq = record.get("seq")
        if isinstance(seq, int):
            last = max(last, seq)
    return last


def _drop_torn_tail(path: Path) -> None:
    # A line without its newline was never acknowledged as written: cut it before appending,
    # or the next event would be glued onto it.
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return
    if raw and not raw.endswith(b"\n"):
        with path.open("r+b") as handle:
            handle.truncate(raw.rfind(b"\n") + 1)
