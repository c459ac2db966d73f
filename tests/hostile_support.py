"""Helpers for the hostile-input catalogue (`tests/test_hostile_inputs.py`).

Public interfaces only: the `hotfix` CLI (typer's in-process runner), the single-call API
behind `hotfix tool`, `run_session` with a scripted model, and `Gate`/`Tool.run`.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from pydantic import Field
from typer.testing import CliRunner

from agent.approvers import DenyAllApprover
from agent.cli import app
from agent.journal import read_journal
from agent.models.scripted import ScriptedModel
from agent.session import RunResult, SessionOptions, run_session
from agent.single_call import CallOutcome, call_tool
from handoffs.report import write_outputs
from tools.base import Effect, Tool, ToolArgs, ToolContext, ToolResult


def cli(*args: str) -> tuple[int, dict[str, Any]]:
    """Run `hotfix ARGS --json` in process; the exit code and the JSON document printed."""
    result = CliRunner().invoke(app, [*args, "--json"])
    text = result.stdout
    return result.exit_code, json.loads(text[text.index("{") :]) if "{" in text else {}


def gated_call(workspace: Path, tool: str, args: dict[str, Any]) -> CallOutcome:
    """One call through registry, gate (deny-all approver) and runner, as `hotfix tool` makes it."""
    return asyncio.run(call_tool(tool, args, workspace=workspace, approver=DenyAllApprover()))


class EchoArgs(ToolArgs):
    payload: Any = Field(default=None, description="Anything; echoed back.")


class AzureEcho(Tool):
    """Stands in for an MCP-bridged Azure tool: its output is whatever it was built with."""

    name: ClassVar[str] = "azure_echo"
    description: ClassVar[str] = "Echo (test double of a bridged MCP tool)."
    args_model: ClassVar[type[ToolArgs]] = EchoArgs
    effect: ClassVar[Effect] = Effect.READ
    source: ClassVar[str] = "azure"

    def __init__(self, text: str = "", data: dict[str, Any] | None = None) -> None:
        self.text, self.data = text, data

    async def run(self, args: EchoArgs, ctx: ToolContext) -> ToolResult:
        text = self.text or json.dumps(args.payload)
        return ToolResult(text, self.data)


@dataclass
class Session:
    """A finished scripted run: its result, the model's requests and the run's files."""

    result: RunResult
    model: ScriptedModel
    requests: str = ""
    journal: str = ""
    outputs: str = ""

    def tool_results(self) -> list[dict[str, Any]]:
        blocks = [
            block
            for call in self.model.calls
            for message in call.messages
            if message["role"] == "user"
            for block in message["content"]
            if block.get("type") == "tool_result"
        ]
        unique = {str(b["tool_use_id"]): b for b in blocks}
        return list(unique.values())

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in read_journal(self.result.journal_path) if e["type"] == kind]


def scripted_run(
    workspace: Path,
    turns: list[Any],
    *,
    extra_tools: list[Tool] | None = None,
    description: str = "investigate the checkout failure",
    report: bool = False,
) -> Session:
    """Run the hotfix agent with a scripted model (deny-all approver) and collect its traces."""
    model = ScriptedModel.from_data({"turns": turns})
    options = SessionOptions(
        description=description,
        workspace=workspace,
        approver=DenyAllApprover(),
        model_client=model,
        extra_tools=extra_tools or [],
    )
    result = asyncio.run(run_session(options))
    session = Session(result, model)
    session.requests = json.dumps(
        [{"system": c.system, "messages": c.messages} for c in model.calls], ensure_ascii=False
    )
    session.journal = result.journal_path.read_text(encoding="utf-8")
    if report:
        paths = write_outputs(result.run_dir)
        files = [paths.markdown, paths.json, paths.html, paths.handoff]
        session.outputs = "".join(p.read_text(encoding="utf-8") for p in files if p)
    return session


@dataclass
class Site:
    """Two loopback HTTP servers: `port` (allow-listed in tests) and `other_port` (never)."""

    port: int
    other_port: int
    pages: dict[str, bytes] = field(default_factory=dict[str, bytes])
    hits: list[tuple[int, str]] = field(default_factory=list[tuple[int, str]])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits_on(self, port: int) -> int:
        return sum(1 for p, _ in self.hits if p == port)


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            del format, args

        def do_GET(self) -> None:
            port: int = self.connection.getsockname()[1]
            site.hits.append((port, self.path))
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            if parts.path == "/hop":  # `/hop?n=3&to=URL`: n redirects, then to URL
                left = int(query.get("n", ["1"])[0])
                target = query["to"][0]
                nxt = f"/hop?n={left - 1}&to={target}" if left > 1 else target
                self.send_response(302)
                self.send_header("Location", nxt)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if parts.path == "/stream":  # `/stream?mb=50`: a large body, sent in chunks
                size = int(query["mb"][0]) << 20
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                chunk = b"z" * (1 << 16)
                try:
                    for _ in range(size // len(chunk)):
                        self.wfile.write(chunk)
                except OSError:
                    pass  # the client stopped reading at its cap
                return
            body = site.pages.get(parts.path, b"not here")
            self.send_response(200 if parts.path in site.pages else 404)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def serve(pages: Mapping[str, bytes] | None = None) -> Generator[Site]:
    """Two loopback servers sharing one handler, for the duration of the block."""
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) for _ in range(2)]
    site = Site(servers[0].server_address[1], servers[1].server_address[1], dict(pages or {}))
    for server in servers:
        server.daemon_threads = True
        server.RequestHandlerClass = _handler(site)
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    try:
        yield site
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
