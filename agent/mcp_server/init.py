"""`hotfix init`: set a repository up for VS Code chat.

Writes `.vscode/mcp.json` (the `hotfix` server, and the Azure MCP server with `azure`),
`.github/agents/hotfix-deployment.agent.md`, `.github/agents/post-fix-monitoring.agent.md`
and a starter `hotfix.toml`. Idempotent: a file identical to what init would write is left
alone; a file init wrote earlier and nobody edited since (its content hash is recorded in
`.hotfix/init.json`) is updated; any other existing file is the user's and is kept unless
`force`. An existing `mcp.json` gets our missing servers added and its other servers kept
(`force` replaces only our own entries in it).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agent.mcp_server.init_templates import (
    STARTER_CONFIG,
    deployment_agent,
    mcp_servers,
    monitoring_agent,
)

Action = Literal["created", "updated", "unchanged", "kept", "merged", "overwritten"]
RECORD = Path(".hotfix") / "init.json"
MCP_JSON = Path(".vscode") / "mcp.json"
AGENTS = Path(".github") / "agents"


@dataclass
class InitResult:
    """What init did to each file (paths relative to the workspace)."""

    workspace: Path
    files: dict[str, Action] = field(default_factory=dict[str, Action])
    notes: list[str] = field(default_factory=list[str])

    @property
    def kept(self) -> list[str]:
        """Files left as they were because someone edited them."""
        return [name for name, action in self.files.items() if action == "kept"]

    def to_json(self) -> dict[str, Any]:
        return {"workspace": str(self.workspace), "files": self.files, "notes": self.notes}


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _Writer:
    """Writes files under the workspace, honouring edits, and records what it wrote."""

    def __init__(self, root: Path, force: bool) -> None:
        self.root = root
        self.force = force
        self.result = InitResult(root)
        self.azure = False
        try:
            record = json.loads((root / RECORD).read_text(encoding="utf-8"))
            self.hashes: dict[str, str] = dict(record.get("files", {}))
            self.azure = record.get("azure") is True
        except (OSError, ValueError, AttributeError):
            self.hashes = {}

    def write(self, rel: Path, text: str) -> None:
        path, key = self.root / rel, rel.as_posix()
        current = _read(path)
        if current == text:
            action: Action = "unchanged"
        elif current is None:
            action = "created"
        elif self.hashes.get(key) == digest(current):
            action = "updated"  # ours, unedited: safe to bring up to date
        elif self.force:
            action = "overwritten"
        else:
            self.result.files[key] = "kept"
            return
        if action != "unchanged":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        self.hashes[key] = digest(text)
        self.result.files[key] = action

    def merge_mcp_json(self, servers: dict[str, Any]) -> None:
        """Add our servers to the user's `mcp.json`, keeping everything else in it."""
        path, key = self.root / MCP_JSON, MCP_JSON.as_posix()
        current = _read(path)
        if current is None or self.hashes.get(key) == digest(current):
            self.write(MCP_JSON, _json({"servers": servers}))
            return
        try:
            document: Any = json.loads(current)
            existing: dict[str, Any] = document["servers"]
            existing.get("hotfix")
        except (ValueError, KeyError, TypeError, AttributeError):
            if self.force:
                self.write(MCP_JSON, _json({"servers": servers}))
                return
            self.result.files[key] = "kept"
            self.result.notes.append(f"{key} is not plain JSON with a 'servers' object; add "
                                     "the hotfix server by hand or use --force")  # fmt: skip
            return
        differing = [name for name, entry in servers.items() if existing.get(name, entry) != entry]
        replace = differing if self.force else []
        if differing and not self.force:
            self.result.notes.append(
                f"{key}: kept your own definition of {', '.join(differing)} (--force replaces it)"
            )
        changes = {name: entry for name, entry in servers.items()
                   if name not in existing or name in replace}  # fmt: skip
        if not changes:
            self.result.files[key] = "kept" if differing else "unchanged"
            return
        existing.update(changes)
        path.write_text(_json(document), encoding="utf-8")
        self.result.files[key] = "overwritten" if replace else "merged"

    def save_record(self) -> None:
        path = self.root / RECORD
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {"version": 1, "azure": self.azure, "files": self.hashes}
        path.write_text(_json(document), encoding="utf-8")


def init_workspace(
    workspace: Path, *, azure: bool | None = None, force: bool = False
) -> InitResult:
    """Write the VS Code setup into `workspace`; what happened to each file.

    Args:
        workspace: the repository.
        azure: configure the Azure MCP server too; None keeps the choice of the last init.
        force: overwrite files even if they were edited since init wrote them.
    """
    root = workspace.resolve()
    writer = _Writer(root, force)
    azure = writer.azure = writer.azure if azure is None else azure
    writer.merge_mcp_json(mcp_servers(azure))
    writer.write(AGENTS / "hotfix-deployment.agent.md", deployment_agent(azure))
    writer.write(AGENTS / "post-fix-monitoring.agent.md", monitoring_agent(azure))
    if _has_pyproject_config(root):
        writer.result.notes.append("hotfix.toml not written: pyproject.toml has [tool.hotfix]")
    else:
        writer.write(Path("hotfix.toml"), STARTER_CONFIG)
    writer.save_record()
    result = writer.result
    if result.kept:
        result.notes.append("edited files were kept: " + ", ".join(result.kept)
                            + " (hotfix init --force overwrites them)")  # fmt: skip
    return result


def _has_pyproject_config(root: Path) -> bool:
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return isinstance(data.get("tool", {}).get("hotfix"), dict)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _json(document: Any) -> str:
    return json.dumps(document, indent=2) + "\n"
