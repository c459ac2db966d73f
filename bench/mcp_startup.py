"""Spawn -> initialize result of `hotfix mcp`, side by side with a trivial MCPServer.

VS Code starts `hotfix mcp` often, so its start-up is measured against the floor: a server
that only imports the MCP SDK. Runs alternate between the two so machine noise hits both.

    .venv/bin/python bench/mcp_startup.py --runs 7
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HANDSHAKE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {"elicitation": {}},
               "clientInfo": {"name": "bench", "version": "0"}},
}
TRIVIAL_SERVER = """
from mcp.server import MCPServer
server = MCPServer("trivial")

@server.tool()
def ping() -> str:
    return "pong"

server.run()
"""


def time_initialize(argv: list[str], cwd: Path) -> float:
    """Seconds from spawn until the initialize result arrives on stdout."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write((json.dumps(HANDSHAKE) + "\n").encode())
    process.stdin.flush()
    while True:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"{argv[0]} exited before answering initialize")
        if b'"id":1' in line.replace(b" ", b""):
            elapsed = time.perf_counter() - started
            break
    process.stdin.close()
    process.wait(timeout=10)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    hotfix = str(Path(sys.executable).parent / "hotfix")
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp)
        (workspace / "trivial.py").write_text(TRIVIAL_SERVER)
        subjects = {"trivial MCPServer": [sys.executable, "trivial.py"],
                    "hotfix mcp": [hotfix, "mcp"]}
        samples: dict[str, list[float]] = {name: [] for name in subjects}
        for run in range(args.runs + 1):
            order = list(subjects) if run % 2 == 0 else list(reversed(subjects))
            for name in order:
                elapsed = time_initialize(subjects[name], workspace)
                if run > 0:  # the first round warms the file cache
                    samples[name].append(elapsed)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, values in samples.items():
        print(f"{name:18} median {medians[name] * 1000:7.1f} ms   runs "
              + ", ".join(f"{v * 1000:.0f}" for v in values))
    ratio = medians["hotfix mcp"] / medians["trivial MCPServer"]
    print(f"ratio hotfix mcp / trivial = {ratio:.2f}")


if __name__ == "__main__":
    main()
