"""`readFile`: numbered lines of one workspace file, never anything outside the workspace."""

from __future__ import annotations

import asyncio
from itertools import islice
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from tools.base import Effect, Tool, ToolArgs, ToolContext, ToolError, ToolResult
from tools.workspace._paths import display_path, resolve_in_workspace

BINARY_SNIFF_BYTES = 8192
LARGE_FILE_BYTES = 2_000_000
MAX_LINES = 2000
_MAX_LINE_CHARS = 2000
_DIRECTORY_ENTRIES = 100


class ReadFileArgs(ToolArgs):
    path: str = Field(
        min_length=1,
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
        lines = list(islice(handle, start - 1, end))
        # Counting the rest streams through the file without keeping it in memory.
        total = start - 1 + len(lines) + sum(1 for _ in handle)
    if total == 0:
        return f"{shown} is empty.", _data(shown, 0, 0, 0, False)
    if start > total:
        raise ToolError(f"start_line {start} is beyond the end of {shown}, which has {total} lines")
    last = start + len(lines) - 1
    width = len(str(last))
    body = "".join(
        f"{n:>{width}}\t{_clip(line.rstrip(chr(10)))}\n" for n, line in enumerate(lines, start)
    )
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


def _clip(line: str) -> str:
    if len(line) <= _MAX_LINE_CHARS:
        return line
    return f"{line[:_MAX_LINE_CHARS]}… [{len(line) - _MAX_LINE_CHARS} more characters]"


def _list_directory(path: Path, shown: str) -> ToolResult:
    entries = sorted(path.iterdir(), key=lambda p: (not p.is_dir(), p.name))
    names = [f"{p.name}/" if p.is_dir() else p.name for p in entries[:_DIRECTORY_ENTRIES]]
    more = len(entries) - len(names)
    listing = "\n".join(names) + (f"\n… {more} more" if more > 0 else "")
    text = f"{shown or '.'} is a directory; pass a file path. Entries:\n{listing}"
    return ToolResult(text, {"path": shown, "entries": names}, is_error=True)
