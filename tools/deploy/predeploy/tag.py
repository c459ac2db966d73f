"""Tag step: an annotated git tag naming the release, on the fix's exact commit.

The tag is created locally, never pushed (that would change a shared repository).
"""

from __future__ import annotations

import asyncio
import shlex

from tools.deploy.predeploy.context import PredeployContext, StepOutcome, failed, passed, skipped
from tools.deploy.target import TargetError
from tools.deploy.targets.local.worktrees import git

# Used only when the repository has no identity of its own: `git tag -a` needs one.
_FALLBACK_IDENTITY = ("-c", "user.name=hotfix-agent", "-c", "user.email=hotfix-agent@localhost")


def tag_name(p: PredeployContext) -> str:
    """The tag name from `name_template`."""
    name = p.settings.tag.name_template
    for key in ("version", "label", "short", "commit"):
        name = name.replace("{" + key + "}", p.placeholders()[key])
    return name


async def create_tag(p: PredeployContext) -> StepOutcome:
    """Create the annotated tag, or accept one already on this commit."""
    if not p.settings.tag.enabled:
        return skipped("tagging is off ([deploy.predeploy.tag] enabled = false)")
    name = tag_name(p)
    try:
        return await asyncio.to_thread(_tag, p, name)
    except TargetError as exc:
        return failed(f"cannot create tag {name!r}: {exc}", {"tag": name})


def _tag(p: PredeployContext, name: str) -> StepOutcome:
    git(p.repo, "check-ref-format", f"refs/tags/{name}")
    existing = _existing(p, name)
    evidence = {"tag": name, "commit": p.commit}
    if existing is not None:
        if existing != p.commit:
            return failed(
                f"tag {name} already exists on {existing[:12]}, not on {p.commit[:12]}",
                {**evidence, "existing_commit": existing},
            )
        kind = git(p.repo, "cat-file", "-t", f"refs/tags/{name}")
        evidence |= {"created": False, "annotated": kind == "tag"}
        return passed(
            f"tag {name} already marks {p.commit[:12]}",
            evidence,
            undo=f"nothing to undo: tag {name} existed before this run",
        )
    message = f"Hotfix {p.version} ({p.ref} at {p.commit[:12]})"
    identity = () if _has_identity(p) else _FALLBACK_IDENTITY
    git(p.repo, *identity, "tag", "-a", name, "-m", message, p.commit)
    kind = git(p.repo, "cat-file", "-t", f"refs/tags/{name}")
    delete = shlex.join(["git", "-C", str(p.repo), "tag", "-d", name])
    evidence |= {
        "created": True,
        "annotated": kind == "tag",
        "message": message,
        "undo_command": delete,
    }
    return passed(
        f"annotated tag {name} created on {p.commit[:12]}",
        evidence,
        undo=f"{delete} (and `git push --delete origin {name}` if it was pushed since)",
    )


def _existing(p: PredeployContext, name: str) -> str | None:
    try:
        return git(p.repo, "rev-parse", "--verify", "--quiet", f"refs/tags/{name}^{{commit}}")
    except TargetError:
        return None


def _has_identity(p: PredeployContext) -> bool:
    try:
        return bool(git(p.repo, "config", "user.email"))
    except TargetError:
        return False
