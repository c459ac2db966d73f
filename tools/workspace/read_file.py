"""`readFile`: numbered lines of one workspace file, never anything outside the workspace."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any, TextIO

from pydantic import Field, model_validator

from tools.base import Effect, Tool, ToolArgs, ToolContext, ToolError, ToolResult
from tools.workspace._paths import display_path, resolve_in_workspace

BINARY_SNIFF_BYTES = 8192
LARGE_FILE_BYTES = 2_000_000
MAX_LINES = 2000
_MAX_LINE_CHARS = 2000
_DIRECTORY_ENTRIES = 100
_CHUNK_CHARS = 1 << 20


class ReadFileArgs(ToolArgs):
    path: str = Field(
        min_length=1,
        max_length=4096,
        description="File path relative to the workspace root (an absolute path must lie "
        "inside the workspace).",
    )
    start_line: int | None = Field(default=None, ge=1, description="First line, 1-based.")
    end_line: int | None = Field(default=None, ge=1, description="Last line, inclusive.")

    @model_validator(mode="after")
    def _ordered(self) -> ReadFileArgs:
        if self.start_line and self.end_line and self.end_line < self.start_line:
            raise ValueError("end_line must not be before start_line")
        return self


class ReadFileTool(Tool):
    """Read a text file of the workspace with line numbers."""

    name = "readFile"
    aliases = ("read/readFile",)
    effect = Effect.READ
    args_model = ReadFileArgs
    description = (
        "Read a text file from the workspace, with line numbers (`  12\\tcode`). Give a line "
        "range (1-based, inclusive) to read part of a file: after `codebase` or `usages` "
        "point at a line, read some 40 lines around it rather than the whole file. Without a "
        f"range it returns the first {MAX_LINES} lines and says how many there are. Only "
        "files inside the workspace can be read (paths that escape it, also through "
        "symlinks, are refused); binary files are refused; files over 2 MB must be read by "
        "line range. Secrets found in the text are masked. A directory path lists its entries."
    )

    async def run(self, args: ReadFileArgs, ctx: ToolContext) -> ToolResult:
        path = resolve_in_workspace(ctx.workspace, args.path)
        shown = display_path(ctx.workspace, path)
        if not path.exists():
            raise ToolError(f"{shown} does not exist (paths are relative to the workspace root)")
        if path.is_dir():
            return _list_directory(path, shown)
        if not path.is_file():
            raise ToolError(f"{shown} is not a regular file")
        size = path.stat().st_size
        if size > LARGE_FILE_BYTES and args.start_line is None and args.end_line is None:
            raise ToolError(
                f"{shown} is {size:,} bytes, over the {LARGE_FILE_BYTES:,}-byte limit for a "
                "whole read; pass start_line and end_line (at most "
                f"{MAX_LINES} lines at a time), or find the place with `codebase` first"
            )
        text, data = await asyncio.to_thread(_read, path, shown, args, size)
        budget = ctx.config.limits.tool_output_chars
        if len(text) > budget:
            cut = text.rfind("\n", 0, max(budget - 200, 1))
            cut = cut if cut > 0 else text.find("\n")
            last = data["start_line"] + text.count("\n", 0, cut) - 1
            data["end_line"], data["truncated"] = last, True
            text = text[:cut] + (
                f"\n[output cut at line {last} to stay within {budget} characters; "
                f"continue with start_line={last + 1}]"
            )
        return ToolResult(ctx.redactor.text(text), data)


def _read(path: Path, shown: str, args: ReadFileArgs, size: int) -> tuple[str, dict[str, Any]]:
    with path.open("rb") as handle:
        if b"\0" in handle.read(BINARY_SNIFF_BYTES):
            raise ToolError(f"{shown} is a binary file ({size:,} bytes); only text can be read")
    start = args.start_line or 1
    end = min(args.end_line or start + MAX_LINES - 1, start + MAX_LINES - 1)
    with path.open("r", encoding="utf-8", errors="replace", newline=None) as handle:
        lines, total = _read_lines(handle, start, end)
    if total == 0:
        return f"{shown} is empty.", _data(shown, 0, 0, 0, False)
    if start > total:
        raise ToolError(f"start_line {start} is beyond the end of {shown}, which has {total} lines")
    last = start + len(lines) - 1
    width = len(str(last))
    body = "".join(f"{n:>{width}}\t{line}\n" for n, line in enumerate(lines, start))
    notes: list[str] = []
    if args.end_line is not None and args.end_line > total:
        notes.append(f"end_line {args.end_line} is past the end; the file has {total} lines")
    # Cut short: lines were asked for (explicitly, or implicitly by giving no end) but left out.
    truncated = last < total and (args.end_line is None or last < args.end_line)
    if last < total:
        more = f"lines {last + 1}-{total} not shown; continue with start_line={last + 1}"
        notes.append(more if truncated else f"{total} lines in all")
    header = f"{shown} (lines {start}-{last} of {total})\n"
    footer = "".join(f"[{note}]\n" for note in notes)
    return header + body + footer, _data(shown, start, last, total, truncated)


def _data(shown: str, start: int, end: int, total: int, truncated: bool) -> dict[str, Any]:
    return {
        "path": shown,
        "start_line": start,
        "end_line": end,
        "total_lines": total,
        "truncated": truncated,
    }


def _read_lines(handle: TextIO, start: int, end: int) -> tuple[list[str], int]:
    """Lines `start`..`end` (1-based, clipped) and the file's line count.

    Memory stays bounded whatever the file holds: lines before `start` are skipped in
    chunks, and of a 50 MB line only the first `_MAX_LINE_CHARS` characters are kept.
    """
    skipped, rest = _skip_lines(handle, start - 1)
    if skipped < start - 1:
        return [], skipped
    reader = _Joined(rest, handle)
    lines: list[str] = []
    while len(lines) < end - skipped and (line := _next_line(reader)) is not None:
        lines.append(line)
    if len(lines) < end - skipped:
        return lines, skipped + len(lines)
    return lines, skipped + len(lines) + _count_rest(reader)


def _skip_lines(handle: TextIO, count: int) -> tuple[int, str]:
    """Skip `count` lines; returns how many there were and the text read past them."""
    skipped, last = 0, "\n"
    while skipped < count:
        chunk = handle.read(_CHUNK_CHARS)
        if not chunk:
            return skipped + (last != "\n"), ""
        found = chunk.count("\n")
        if skipped + found < count:
            skipped, last = skipped + found, chunk[-1]
            continue
        position = -1
        for _ in range(count - skipped):
            position = chunk.index("\n", position + 1)
        return count, chunk[position + 1 :]
    return skipped, ""


class _Joined:
    """Text already read, then the rest of the file, behind `readline` and `read`."""

    def __init__(self, head: str, handle: TextIO) -> None:
        self._head = io.StringIO(head)
        self._handle = handle

    def readline(self, limit: int) -> str:
        part = self._head.readline(limit)
        if part.endswith("\n") or len(part) == limit:
            return part
        return part + self._handle.readline(limit - len(part))

    def read(self, size: int) -> str:
        return self._head.read(size) or self._handle.read(size)


def _next_line(reader: _Joined) -> str | None:
    """The next line without its newline, clipped; None at the end of the file."""
    head = reader.readline(_MAX_LINE_CHARS + 1)
    if not head:
        return None
    if head.endswith("\n"):
        return head[:-1]
    extra = 0
    if len(head) > _MAX_LINE_CHARS:  # skip the rest of an overlong line without keeping it
        while more := reader.readline(_CHUNK_CHARS):
            if more.endswith("\n"):
                extra += len(more) - 1
                break
            extra += len(more)
    cut = len(head) - _MAX_LINE_CHARS + extra
    return head if cut <= 0 else f"{head[:_MAX_LINE_CHARS]}… [{cut} more characters]"


def _count_rest(reader: _Joined) -> int:
    count, last = 0, "\n"
    while chunk := reader.read(_CHUNK_CHARS):
        count += chunk.count("\n")
        last = chunk[-1]
    return count + (last != "\n")


def _list_directory(path: Path, shown: str) -> ToolResult:
    entries = sorted(path.iterdir(), key=lambda p: (not p.is_dir(), p.name))
    names = [f"{p.name}/" if p.is_dir() else p.name for p in entries[:_DIRECTORY_ENTRIES]]
    more = len(entries) - len(names)
    listing = "\n".join(names) + (f"\n… {more} more" if more > 0 else "")
    text = f"{shown or '.'} is a directory; pass a file path. Entries:\n{listing}"
    return ToolResult(text, {"path": shown, "entries": names}, is_error=True)
