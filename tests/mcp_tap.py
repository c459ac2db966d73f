"""A stdio tap for MCP servers, for tests: `python mcp_tap.py LOG [--replies FILE] -- CMD...`.

Starts CMD and relays our stdin to its stdin and its stdout to our stdout, byte for byte
(stderr is inherited). Every line the client sends is appended to LOG *before* it is passed
on, so whatever reached the server is in LOG; with `--replies`, the server's lines are
logged too. The tap ends when the server does, with its exit status; the end of our stdin
is passed on, and SIGTERM is forwarded.

Standard library only, so it starts in a few milliseconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO


def _pump_requests(source: IO[bytes], server: IO[bytes], log: Path) -> None:
    with log.open("ab") as out:
        for line in iter(source.readline, b""):
            out.write(line if line.endswith(b"\n") else line + b"\n")
            out.flush()
            try:
                server.write(line)
                server.flush()
            except (BrokenPipeError, ValueError):
                return
    with contextlib.suppress(BrokenPipeError):
        server.close()  # our client hung up: so does the server's stdin


def _pump_replies(server: IO[bytes], replies: Path | None) -> None:
    log = replies.open("ab") if replies else None
    try:
        while chunk := os.read(server.fileno(), 65536):
            os.write(sys.stdout.fileno(), chunk)
            if log:
                log.write(chunk)
                log.flush()
    finally:
        if log:
            log.close()


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") < 1:
        print("usage: mcp_tap.py LOG [--replies FILE] -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1 :]
    log = Path(options[0])
    replies = Path(options[options.index("--replies") + 1]) if "--replies" in options else None
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    assert child.stdin is not None and child.stdout is not None
    signal.signal(signal.SIGTERM, lambda _signum, _frame: child.terminate())
    threading.Thread(
        target=_pump_requests, args=(sys.stdin.buffer, child.stdin, log), daemon=True
    ).start()
    _pump_replies(child.stdout, replies)
    return child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
