"""Workspace confinement: every path a workspace tool touches must stay inside the workspace.

A path is checked after `Path.resolve()`, so `..` segments and symlinks are judged by where
they really lead, not by how they are spelled.
"""

from __future__ import annotations

from pathlib import Path

from tools.base import ToolError

# Directories no workspace search descends into: our own run data and git internals, plus
# dependency trees that are never the code under investigation.
SKIPPED_DIRS: tuple[str, ...] = (".git", ".hotfix", ".venv", "node_modules", "__pycache__")


def workspace_root(workspace: Path) -> Path:
    """The workspace as an absolute path with symlinks resolved."""
    return workspace.resolve()


def resolve_in_workspace(workspace: Path, raw: str) -> Path:
    """Resolve `raw` (relative to the workspace, or absolute inside it) to a real path.

    Args:
        workspace: The workspace root.
        raw: The path as the model wrote it.

    Returns:
        The resolved absolute path; it may not exist.

    Raises:
        ToolError: When the path is empty or leads outside the workspace, whether by `..`,
            an absolute path elsewhere, or a symlink pointing out; or when it is a symlink
            loop.
    """
    text = raw.strip()
    if not text or "\0" in text:
        raise ToolError("path is empty or contains a NUL character")
    root = workspace_root(workspace)
    candidate = Path(text)
    if not candidate.is_absolute():
        candidate = root / candidate
    try:
        resolved = candidate.resolve()
    except (RuntimeError, OSError) as exc:  # a symlink loop (RuntimeError before 3.13)
        raise ToolError(f"{raw!r} cannot be resolved: {exc}") from None
    if not resolved.is_relative_to(root):
        raise ToolError(
            f"{raw!r} resolves to {resolved}, which is outside the workspace {root}; "
            "only files inside the workspace can be read"
        )
    return resolved


def display_path(workspace: Path, path: Path | str) -> str:
    """`path` relative to the workspace in POSIX form when inside it, else unchanged."""
    candidate = Path(path)
    root = workspace_root(workspace)
    if candidate.is_absolute():
        try:
            return candidate.relative_to(root).as_posix()
        except ValueError:
            try:
                return candidate.relative_to(workspace).as_posix()
            except ValueError:
                return str(path)
    return candidate.as_posix()
