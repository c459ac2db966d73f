"""Running ripgrep: finding the binary and streaming its output without a second pass.

Both search tools ask rg for `--null --line-number` output, the cheapest format to split in
Python: much smaller than `--json` and unambiguous even when paths contain colons.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tools.base import ToolError
from tools.workspace._paths import SKIPPED_DIRS

_READ_CHUNK = 1 << 20
# rg prints at most this many columns of a matching line; minified files would otherwise
# flood the output with megabyte-long lines.
MAX_COLUMNS = 300
MAX_FILESIZE = "2M"


@dataclass(frozen=True)
class RgOutcome:
    """How an rg run ended."""

    exit_code: int | None
    stderr: str
    stopped_early: bool


def find_rg() -> str:
    """Locate the `rg` binary: beside the running interpreter first, then on PATH.

    Raises:
        ToolError: When no rg binary can be found.
    """
    names = ("rg.exe", "rg") if sys.platform == "win32" else ("rg",)
    # Not resolved: in a venv, sys.executable is a symlink whose directory holds rg.
    folders = [Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))]
    for folder in folders:
        for name in names:
            candidate = folder / name
            if candidate.is_file():
                return str(candidate)
    found = shutil.which("rg")
    if found is None:
        raise ToolError(
            "ripgrep (rg) is not installed: install the `ripgrep` package from PyPI into the "
            "agent's environment or put rg on PATH"
        )
    return found


def base_command(rg: str) -> list[str]:
    """rg flags shared by the workspace tools (output format, ignores, size limits)."""
    command = [
        rg,
        "--no-config",
        "--with-filename",
        "--line-number",
        "--null",
        "--no-messages",
        "--color",
        "never",
        "--hidden",
        "--no-require-git",
        "--max-columns",
        str(MAX_COLUMNS),
        "--max-columns-preview",
        "--max-filesize",
        MAX_FILESIZE,
    ]
    for name in SKIPPED_DIRS:
        command += ["--glob", f"!{name}/"]
    return command


def split_record(record: str) -> tuple[str, int, str] | None:
    """Split one `path NUL lineno:text` output line; None for anything else."""
    path, sep, rest = record.partition("\0")
    if not sep:
        return None
    number, sep, text = rest.partition(":")
    if not sep or not number.isdigit():
        return None
    return clean_path(path), int(number), text.rstrip("\r")


def clean_path(path: str) -> str:
    """rg's path for a match found under `.`, without the leading `./`."""
    return path[2:] if path.startswith("./") else path


async def stream_rg(
    command: list[str], cwd: Path, sink: Callable[[str], bool], separator: bytes = b"\n"
) -> RgOutcome:
    """Run rg in `cwd` and feed its stdout to `sink` in chunks cut after `separator`.

    With `--no-heading` the separator is a newline (whole lines); with `--heading` it is a
    blank line, so that each chunk holds whole files. `sink` returns True to stop early (rg
    is then killed). The process never outlives the call, even when the caller is cancelled.
    """
    proc = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        limit=_READ_CHUNK,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    stderr_task = asyncio.ensure_future(proc.stderr.read())
    stopped = False
    pending = b""
    try:
        while True:
            chunk = await proc.stdout.read(_READ_CHUNK)
            if not chunk:
                break
            buffer = pending + chunk if pending else chunk
            cut = buffer.rfind(separator)
            if cut < 0:
                pending = buffer
                continue
            # Cutting at a separator also keeps UTF-8 sequences whole within one decode.
            end = cut + len(separator)
            block, pending = buffer[:end], buffer[end:]
            if sink(block.decode("utf-8", "replace")):
                stopped = True
                break
        if pending and not stopped:
            stopped = sink(pending.decode("utf-8", "replace"))
    finally:
        if proc.returncode is None:
            if stopped or not proc.stdout.at_eof():
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            await proc.wait()
        stderr = (await stderr_task).decode("utf-8", "replace")
    return RgOutcome(proc.returncode, stderr.strip(), stopped)


def check_outcome(outcome: RgOutcome) -> None:
    """Raise a ToolError when rg failed without producing anything usable."""
    # 0 = matches, 1 = no match, 2 = error (also when some files were unreadable).
    if outcome.exit_code in (0, 1) or outcome.stopped_early:
        return
    if outcome.exit_code == 2 and not outcome.stderr:
        return
    raise ToolError(f"ripgrep failed (exit {outcome.exit_code}): {outcome.stderr[:500]}")
