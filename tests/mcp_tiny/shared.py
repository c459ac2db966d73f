"""One tiny MCP server behind a gate, shared by a module's tests on a background loop.

Spawning a server costs about a second (more on a loaded machine); tests that do not stop
or break the server share one. Its connection lives in an event loop on its own thread;
`SharedServer.run` executes a coroutine there and returns its result.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, TypeVar

from mcp_tiny import tiny_config
from mcp_tiny.harness import ApproveAll, Harness, bridged

T = TypeVar("T")


class SharedServer:
    """The server, its harness (gate + runner) and the approver the tests steer."""

    def __init__(self, tmp_path: Path, **config: Any) -> None:
        self.tmp_path = tmp_path
        self.approver = ApproveAll()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._context: AbstractAsyncContextManager[Harness] = bridged(
            tmp_path, tiny_config(tmp_path, **config), self.approver
        )
        self.harness = self.run(self._context.__aenter__())

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    def close(self) -> None:
        self.run(self._context.__aexit__(None, None, None))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
