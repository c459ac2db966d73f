"""Benchmark: the `codebase` tool against the raw rg command it wraps.

Both run on the same tree in the same process, interleaved, so disk cache and machine load
affect them alike. The raw command's output is captured through a pipe, as the tool does:
rg searches faster when it can tell its stdout is /dev/null.

    python bench/codebase_vs_ripgrep.py [--tree DIR] [--repeat N] [--query Q ...]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sysconfig
import time
from pathlib import Path

from agent.config import HotfixConfig
from agent.redaction import Redactor
from tools.base import ToolContext
from tools.workspace._ripgrep import find_rg
from tools.workspace.codebase import CodebaseArgs, CodebaseTool, build_command, extract_terms

DEFAULT_QUERIES = (
    "retry backoff when the server is overloaded",
    "checkout returns 500 on empty cart",
    "parse json response headers",
)


def _raw_rg(command: list[str], tree: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=tree, capture_output=True, check=False)
    return time.perf_counter() - start


async def _tool(tool: CodebaseTool, args: CodebaseArgs, ctx: ToolContext) -> float:
    start = time.perf_counter()
    await tool.run(args, ctx)
    return time.perf_counter() - start


async def _bench(tree: Path, queries: list[str], repeat: int) -> list[tuple[str, float, float]]:
    rg = find_rg()
    tool = CodebaseTool()
    ctx = ToolContext(workspace=tree, config=HotfixConfig(), redactor=Redactor())
    rows: list[tuple[str, float, float]] = []
    for query in queries:
        command = build_command(rg, extract_terms(query))
        args = CodebaseArgs(query=query)
        # One untimed round of each warms the page cache and Python's imports.
        _raw_rg(command, tree)
        await _tool(tool, args, ctx)
        raw: list[float] = []
        wrapped: list[float] = []
        for index in range(repeat):
            # Alternate which goes first so neither always benefits from the other's warm-up.
            if index % 2 == 0:
                raw.append(_raw_rg(command, tree))
                wrapped.append(await _tool(tool, args, ctx))
            else:
                wrapped.append(await _tool(tool, args, ctx))
                raw.append(_raw_rg(command, tree))
        rows.append((query, statistics.median(raw), statistics.median(wrapped)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="Time `codebase` against the raw rg it runs.")
    parser.add_argument("--tree", type=Path, default=Path(sysconfig.get_paths()["purelib"]))
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--query", action="append", help="repeatable; defaults to three queries")
    options = parser.parse_args()
    tree: Path = options.tree.resolve()
    queries: list[str] = options.query or list(DEFAULT_QUERIES)
    files = sum(1 for p in tree.rglob("*") if p.is_file())
    print(f"tree: {tree} ({files} files), {options.repeat} interleaved runs per query")
    rows = asyncio.run(_bench(tree, queries, options.repeat))
    print(f"{'query':48} {'rg median':>10} {'tool median':>12} {'ratio':>6}")
    for query, raw, wrapped in rows:
        print(f"{query[:48]:48} {raw * 1000:8.1f}ms {wrapped * 1000:10.1f}ms {wrapped / raw:6.2f}")
    total_raw = sum(r for _, r, _ in rows)
    total_tool = sum(w for _, _, w in rows)
    print(
        f"{'all queries (sum of medians)':48} {total_raw * 1000:8.1f}ms "
        f"{total_tool * 1000:10.1f}ms {total_tool / total_raw:6.2f}"
    )


if __name__ == "__main__":
    main()
