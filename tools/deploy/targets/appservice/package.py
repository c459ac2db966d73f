"""Finding the package a version deploys: the zip predeploy built, by path or glob."""

from __future__ import annotations

import glob
from pathlib import Path

from tools.deploy.target import TargetError


def resolve_package(pattern: str, workspace: Path, version: str) -> Path:
    """The newest file matching `pattern` (`{version}` replaced), relative to `workspace`.

    Raises:
        TargetError: Nothing matches, or the match is not a zip file.
    """
    expanded = pattern.replace("{version}", version)
    base = Path(expanded).expanduser()
    full = base if base.is_absolute() else workspace / base
    matches = [Path(p) for p in glob.glob(str(full), recursive=True) if Path(p).is_file()]
    if not matches:
        raise TargetError(
            f"no package matches {expanded!r} under {workspace}; build it first (predeploy) "
            "or set [deploy.appservice] package"
        )
    newest = max(matches, key=lambda p: p.stat().st_mtime)
    with newest.open("rb") as handle:
        if handle.read(4) != b"PK\x03\x04":
            raise TargetError(f"{newest} is not a zip file; Kudu zip deploy needs a .zip")
    return newest
