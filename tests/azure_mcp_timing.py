"""Time the real Azure MCP server through our bridge: spawn → initialize, and tools/list.

Run: `.venv/bin/python tests/azure_mcp_timing.py [ROUNDS]` (after `npm ci`). The first
round unpacks the server into a fresh HOME and is reported apart; the others reuse it.
Prints one JSON object: seconds per round, medians, and the number of tools.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from azure_mcp_cloud import FakeCloud
from azure_mcp_real import NAMESPACES, ROOT

from tools.mcp_bridge import McpBridge, azure_server


async def _round(binary: Path, home: Path, env: dict[str, str]) -> tuple[float, float, int]:
    config = azure_server(NAMESPACES, command=[str(binary)])
    config = config.model_copy(update={"home": str(home), "env": {**config.env, **env}})
    bridge = McpBridge(config)
    started = time.perf_counter()
    await bridge.connection.start()
    initialized = time.perf_counter()
    tools = await bridge.connection.list_tools()
    listed = time.perf_counter()
    await bridge.aclose()
    return initialized - started, listed - initialized, len(tools)


def main(rounds: int) -> None:
    binary = ROOT / "node_modules" / "@azure" / "mcp-linux-x64" / "dist" / "azmcp"
    with tempfile.TemporaryDirectory() as scratch:
        cloud = FakeCloud(Path(scratch) / "cloud", token="unused")
        env = {**cloud.env(), "AZURE_CONFIG_DIR": scratch}
        try:
            results = [
                asyncio.run(_round(binary, Path(scratch) / "home", env)) for _ in range(rounds)
            ]
        finally:
            cloud.close()
    warm = results[1:] or results
    print(
        json.dumps(
            {
                "namespaces": NAMESPACES,
                "tools": results[0][2],
                "first_start_s": round(results[0][0], 2),
                "initialize_s": [round(r[0], 2) for r in warm],
                "tools_list_s": [round(r[1], 3) for r in warm],
                "median_initialize_s": round(statistics.median(r[0] for r in warm), 2),
                "median_tools_list_s": round(statistics.median(r[1] for r in warm), 3),
            }
        )
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 6)
