"""One git worktree per version, checked out (detached) at the version's ref.

Worktrees live under `<state_dir>/worktrees/<label>`. A worktree already at the wanted
commit is reused as it is; one at another commit is replaced.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tools.deploy.target import TargetError

_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Worktree:
    """A checked-out version: where it is, which commit, and whether it was already there."""

    path: Path
    commit: str
    reused: bool


def check_label(label: str) -> str:
    """Return `label` if it is usable as a directory and process name, else raise."""
    if not _LABEL.fullmatch(label) or label.endswith((".", ".lock")):
        raise TargetError(
            f"bad version label {label!r}: use letters, digits, '.', '_' or '-' (at most 64)"
        )
    return label


def git(repo: Path, *args: str, timeout_s: float = 60.0) -> str:
    """Run git in `repo`; stdout on success, TargetError with git's message otherwise."""
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TargetError(f"git {' '.join(args)} failed: {exc}") from exc
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise TargetError(f"git {' '.join(args)}: {detail[-1] if detail else 'failed'}")
    return done.stdout.strip()


def repo_root(path: Path) -> Path:
    """The top directory of the git repository containing `path`."""
    return Path(git(path, "rev-parse", "--show-toplevel"))


def resolve_commit(repo: Path, ref: str) -> str:
    """The commit id `ref` (branch, tag or sha) names in `repo`."""
    if ref.startswith("-"):
        raise TargetError(f"bad git ref {ref!r}")
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except TargetError:
        raise TargetError(f"git ref {ref!r} does not name a commit in {repo}") from None


def ensure_worktree(repo: Path, root: Path, label: str, ref: str) -> Worktree:
    """Check `ref` out into `root/label`, reusing a worktree already at that commit."""
    check_label(label)
    commit = resolve_commit(repo, ref)
    path = (root / label).resolve()
    if (path / ".git").exists():
        try:
            if git(path, "rev-parse", "HEAD") == commit:
                return Worktree(path, commit, reused=True)
        except TargetError:
            pass  # broken worktree: replace it below
    remove_worktree(repo, path)
    root.mkdir(parents=True, exist_ok=True)
    git(repo, "worktree", "add", "--detach", "--force", str(path), commit)
    return Worktree(path, commit, reused=False)


def remove_worktree(repo: Path, path: Path) -> None:
    """Remove the worktree at `path` (and any leftover directory there)."""
    if path.exists():
        try:
            git(repo, "worktree", "remove", "--force", "--force", str(path))
        except TargetError:
            shutil.rmtree(path, ignore_errors=True)
    git(repo, "worktree", "prune")
