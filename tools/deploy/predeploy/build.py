"""Build step: run the build command, keep its artifacts by version, record their sha256."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from pathlib import Path
from typing import Any

from tools.deploy.predeploy.context import PredeployContext, StepOutcome, failed, passed, skipped

SUMS_FILE = "SHA256SUMS"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


async def run_build(p: PredeployContext) -> StepOutcome:
    """Build in the worktree; copy (or zip) what matches `artifact_glob` to the artifact dir."""
    settings = p.settings.build
    if not settings.command or not settings.artifact_glob:
        return skipped("no build command is configured ([deploy.predeploy.build] command)")
    glob = settings.artifact_glob
    # Earlier builds in a reused worktree must not pass for this one's output.
    await asyncio.to_thread(_clear, p.worktree, glob)
    await asyncio.to_thread(_clear_dir, p.artifact_dir)
    result = await p.run(settings.command, timeout_s=settings.timeout_s)
    evidence: dict[str, Any] = {"build": result.evidence(), "artifact_glob": glob}
    if not result.ok:
        return failed(f"build {result.failure()}", evidence)
    matches = _matches(p.worktree, glob)
    if not matches:
        return failed(f"the build produced nothing matching {glob!r}", evidence)
    artifacts = await asyncio.to_thread(_collect, matches, p)
    evidence["artifact_dir"] = str(p.artifact_dir)
    evidence["artifacts"] = artifacts
    shown = ", ".join(f"{Path(a['path']).name} sha256 {a['sha256'][:12]}…" for a in artifacts)
    return passed(
        f"built {len(artifacts)} artifact(s) for {p.version}: {shown}",
        evidence,
        undo=f"delete {p.artifact_dir} (local build output; nothing else was changed)",
    )


def _matches(root: Path, glob: str) -> list[Path]:
    top = root.resolve()
    found = [m for m in sorted(root.glob(glob)) if m.resolve().is_relative_to(top)]
    return [m for m in found if m.resolve() != top]


def _clear(root: Path, glob: str) -> None:
    for match in _matches(root, glob):
        if match.is_dir() and not match.is_symlink():
            shutil.rmtree(match)
        else:
            match.unlink(missing_ok=True)


def _clear_dir(folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def _collect(matches: list[Path], p: PredeployContext) -> list[dict[str, Any]]:
    artifacts: list[dict[str, Any]] = []
    for match in matches:
        if match.is_dir():
            base = p.artifact_dir / f"{match.name}-{p.version}"
            stored = Path(shutil.make_archive(str(base), "zip", root_dir=match))
        else:
            stored = p.artifact_dir / match.name
            shutil.copy2(match, stored)
        artifacts.append(
            {
                "path": str(stored),
                "source": match.relative_to(p.worktree).as_posix(),
                "sha256": sha256_file(stored),
                "size": stored.stat().st_size,
            }
        )
    sums = "".join(f"{a['sha256']}  {Path(a['path']).name}\n" for a in artifacts)
    (p.artifact_dir / SUMS_FILE).write_text(sums, encoding="utf-8")
    return artifacts
