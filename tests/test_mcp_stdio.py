"""`hotfix mcp` as VS Code starts it (stdio), over HTTP on loopback, and under the real MCP
Inspector CLI from npm (`npm ci` installs it into node_modules; CI runs it)."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

ROOT = Path(__file__).resolve().parent.parent
HOTFIX = str(Path(sys.executable).parent / "hotfix")
INSPECTOR = ROOT / "node_modules" / ".bin" / "mcp-inspector"
VSCODE_INIT = {
    "protocolVersion": "2025-11-25",
    "capabilities": {"elicitation": {"form": {}}, "roots": {"listChanged": True}},
    "clientInfo": {"name": "Visual Studio Code", "version": "1.107.0"},
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _request(rid: int, method: str, params: dict[str, Any] | None = None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params is not None:
        message["params"] = params
    return (json.dumps(message) + "\n").encode()


@pytest.mark.slow
def test_hotfix_mcp_on_stdio_answers_vscodes_handshake_and_prints_only_json_rpc(
    tmp_path: Path,
) -> None:
    process = subprocess.Popen(
        [HOTFIX, "mcp", "--workspace", str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(_request(1, "initialize", VSCODE_INIT))
    process.stdin.flush()
    first = json.loads(process.stdout.readline())
    process.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
    for rid, method, params in (
        (2, "tools/list", None),
        (3, "prompts/get", {"name": "deploy", "arguments": {"description": "x on hotfix/9"}}),
        (4, "resources/read", {"uri": "hotfix://runs"}),
        # No local environment runs here: the tool must refuse, not start one.
        (5, "tools/call", {"name": "hotfix_status", "arguments": {}}),
    ):
        process.stdin.write(_request(rid, method, params))
    process.stdin.flush()
    lines: list[dict[str, Any]] = []
    while {2, 3, 4, 5} - {m.get("id") for m in lines}:
        line = process.stdout.readline()  # every line must be one JSON-RPC message
        assert line, "the server closed stdout early"
        lines.append(json.loads(line))
    process.stdin.close()  # what VS Code does when it stops the server
    assert process.wait(timeout=60) == 0
    assert process.stderr is not None
    err = process.stderr.read()
    lines += [json.loads(line) for line in process.stdout.read().splitlines() if line.strip()]

    assert b"Traceback" not in err, err.decode()[-2000:]
    assert first["id"] == 1 and first["result"]["protocolVersion"] == "2025-11-25"
    assert first["result"]["serverInfo"]["name"] == "hotfix"
    assert all(m.get("jsonrpc") == "2.0" and ("id" in m or "method" in m) for m in lines)
    answers = {m["id"]: m for m in lines if "id" in m}
    assert set(answers) == {2, 3, 4, 5}
    assert "hotfix_deploy" in {t["name"] for t in answers[2]["result"]["tools"]}
    refusal = answers[5]["result"]
    assert refusal["isError"] is True and "not running" in refusal["content"][0]["text"]
    assert not (tmp_path / ".hotfix" / "local").exists()


def _http(port: int, host: str, origin: str | None = None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Host": host, "Content-Type": "application/json",
               "Accept": "application/json, text/event-stream"}  # fmt: skip
    if origin is not None:
        headers["Origin"] = origin
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": VSCODE_INIT})
    connection.request("POST", "/mcp", body=body, headers=headers)
    status = connection.getresponse().status
    connection.close()
    return status


@pytest.mark.slow
def test_hotfix_mcp_over_http_listens_on_loopback_and_refuses_foreign_hosts(
    tmp_path: Path,
) -> None:
    from mcp import Client

    port = _free_port()
    process = subprocess.Popen(
        [HOTFIX, "mcp", "--transport", "http", "--port", str(port), "--workspace", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not _listening(port):
            assert process.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        rebinding = _http(port, f"attacker.example:{port}")
        foreign_origin = _http(port, f"127.0.0.1:{port}", origin="http://attacker.example")

        async def names() -> set[str]:
            async with Client(f"http://127.0.0.1:{port}/mcp", mode="legacy") as client:
                return {tool.name for tool in (await client.list_tools()).tools}

        tools = anyio.run(names)
    finally:
        process.terminate()
        process.wait(timeout=20)

    assert rebinding in (400, 403, 421) and foreign_origin in (400, 403)
    assert {"hotfix_deploy", "hotfix_plan"} <= tools


def _inspector(*args: str) -> Any:
    npx = shutil.which("npx") or "npx"
    done = subprocess.run(
        [npx, "--no-install", "@modelcontextprotocol/inspector", "--cli", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.slow
def test_the_mcp_inspector_cli_lists_prompts_and_annotated_tools_and_plans(
    tmp_path: Path,
) -> None:
    # A real check, never skipped: without the Inspector it fails and says how to get it.
    assert INSPECTOR.exists(), "MCP Inspector not installed: run `npm ci` at the repo root"
    from agent.config import load_config
    from agent.demo import DemoOptions, prepare_workspace, start_production
    from tools.deploy.targets.local import LocalTarget, shutdown_environment

    repo = prepare_workspace(DemoOptions(port=_free_port(), directory=tmp_path / "shop"))
    target = LocalTarget(load_config(repo.path).deploy.local, workspace=repo.path)
    server = [HOTFIX, "mcp", "--workspace", str(repo.path)]
    try:
        anyio.run(start_production, target, repo)
        prompts = _inspector(*server, "--method", "prompts/list")
        tools = _inspector(*server, "--method", "tools/list")
        plan = _inspector(*server, "--method", "tools/call", "--tool-name", "hotfix_plan",
                          "--tool-arg", "version_ref=hotfix/1.4.3")  # fmt: skip
    finally:
        shutdown_environment(target.state_dir)

    assert {p["name"] for p in prompts["prompts"]} == {"deploy", "monitor"}
    hints = {t["name"]: t["annotations"] for t in tools["tools"]}
    assert hints["hotfix_plan"]["readOnlyHint"] is True
    assert hints["hotfix_shift_traffic"]["destructiveHint"] is True
    assert plan.get("isError") is not True, plan
    assert plan["structuredContent"]["data"]["version"] == "v1.4.3"
