"""The MCP server in memory (`mcp.Client(server)`), in both protocol eras.

"legacy" is the initialize handshake VS Code uses (2025-11-25): approval forms arrive as
`elicitation/create` in the middle of a call. "2026-07-28" asks through `input_required`
rounds that the client answers by retrying. The granular tools run on an in-memory target.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from fakes import MemoryTarget, MemoryVerifier
from mcp import Client
from mcp.server import MCPServer
from mcp_types import CallToolResult, ElicitResult, PromptReference, TextContent

from agent.journal import Journal, RunStarted, read_journal, runs_root
from agent.mcp_server import ServerOptions, build_server
from agent.mcp_server.outputs import ToolOutcome
from agent.redaction import Redactor

MODES = ["legacy", "2026-07-28"]


class Forms:
    """The user in front of the client: answers each approval form with `action`."""

    def __init__(self, action: str = "accept", delay_s: float = 0.0) -> None:
        self.action = action
        self.delay_s = delay_s
        self.messages: list[str] = []

    async def __call__(self, context: Any, params: Any) -> ElicitResult:
        del context
        self.messages.append(params.message)
        await anyio.sleep(self.delay_s)
        if self.action == "accept":
            return ElicitResult(action="accept", content={"approve": True})
        return ElicitResult(action=self.action)  # pyright: ignore[reportArgumentType]


def server_on(
    tmp_path: Path, verifier: MemoryVerifier | None = None, **options: Any
) -> tuple[MCPServer, MemoryTarget]:
    target = verifier.target if verifier is not None else MemoryTarget("v1.4.2")
    server = build_server(
        ServerOptions(
            tmp_path,
            target_factory=lambda _config, _workspace: target,
            verifier=verifier or MemoryVerifier(target),
            heartbeat_s=0.2,
            **options,
        )
    )
    return server, target


def text_of(result: CallToolResult) -> str:
    first = result.content[0]
    return first.text if isinstance(first, TextContent) else ""


def journal_of(tmp_path: Path) -> list[dict[str, Any]]:
    (run_dir,) = [d for d in runs_root(tmp_path).iterdir() if d.is_dir()]
    return read_journal(run_dir / "journal.jsonl")


async def rollout(client: Client, until: str = "hotfix_promote") -> dict[str, CallToolResult]:
    steps: list[tuple[str, dict[str, Any]]] = [
        ("hotfix_plan", {"version_ref": "hotfix/1.4.3"}),
        ("hotfix_stage", {"version_ref": "hotfix/1.4.3"}),
        ("hotfix_verify", {"label": "v1.4.3"}),
        ("hotfix_shift_traffic", {"label": "v1.4.3", "percent": 100}),
        ("hotfix_promote", {"label": "v1.4.3"}),
    ]
    results: dict[str, CallToolResult] = {}
    for name, args in steps:
        results[name] = await client.call_tool(name, args)
        if name == until:
            break
    return results


@pytest.mark.parametrize("mode", MODES)
def test_prompts_deploy_and_monitor_are_listed_with_one_argument_each(
    tmp_path: Path, mode: str
) -> None:
    async def scenario() -> None:
        async with Client(server_on(tmp_path)[0], mode=mode) as client:
            prompts = {p.name: p for p in (await client.list_prompts()).prompts}
            deploy = await client.get_prompt("deploy", {"description": "fix on hotfix/1.4.3"})

        assert set(prompts) == {"deploy", "monitor"}
        assert [(a.name, a.required) for a in prompts["deploy"].arguments or []] == [
            ("description", True)
        ]
        assert [a.name for a in prompts["monitor"].arguments or []] == ["run_id"]
        message = deploy.messages[0].content
        assert isinstance(message, TextContent)
        assert "fix on hotfix/1.4.3" in message.text and "`hotfix_deploy`" in message.text

    anyio.run(scenario)


def test_run_id_completes_from_the_runs_of_the_workspace(tmp_path: Path) -> None:
    for run_id in ("20261101-090000-aaaaaa", "20261102-090000-bbbbbb", "20261202-090000-cccccc"):
        with Journal.create(tmp_path, Redactor(), run_id) as journal:
            journal.write(RunStarted(run_id=run_id, description="d", agent="a", model="m",
                                     workspace=str(tmp_path)))  # fmt: skip

    async def scenario() -> list[str]:
        async with Client(server_on(tmp_path)[0], mode="legacy") as client:
            done = await client.complete(
                PromptReference(type="ref/prompt", name="monitor"),
                {"name": "run_id", "value": "202611"},
            )
        return done.completion.values

    assert anyio.run(scenario) == ["20261102-090000-bbbbbb", "20261101-090000-aaaaaa"]


READ_ONLY = {"hotfix_status", "hotfix_plan", "hotfix_health_check", "hotfix_smoke_tests"}
# hotfix_predeploy may run database migrations.
DESTRUCTIVE = {"hotfix_deploy", "hotfix_shift_traffic", "hotfix_promote", "hotfix_rollback",
               "monitor", "hotfix_predeploy"}  # fmt: skip


@pytest.mark.parametrize("mode", MODES)
def test_tools_declare_honest_annotations_and_structured_output(tmp_path: Path, mode: str) -> None:
    async def scenario() -> dict[str, Any]:
        async with Client(server_on(tmp_path)[0], mode=mode) as client:
            return {tool.name: tool for tool in (await client.list_tools()).tools}

    tools = anyio.run(scenario)

    assert {"hotfix_deploy", "hotfix_stage", "hotfix_verify", "hotfix_write_report",
            "hotfix_handoff"} | READ_ONLY | DESTRUCTIVE <= set(tools)  # fmt: skip
    for name, tool in tools.items():
        hints = tool.annotations
        assert hints is not None and tool.output_schema is not None, name
        assert hints.read_only_hint is (name in READ_ONLY), name
        assert hints.destructive_hint is (name in DESTRUCTIVE), name
    assert tools["hotfix_deploy"].annotations.idempotent_hint is False


def test_granular_tools_take_exactly_the_arguments_of_the_tools_they_wrap(tmp_path: Path) -> None:
    from agent.mcp_server.chat_run import GRANULAR_TOOLS
    from agent.mcp_server.run_tools import RUN_TOOLS
    from tools.deploy.predeploy.tool import HotfixPredeploy
    from tools.deploy.tools import DEPLOY_TOOLS

    async def scenario() -> dict[str, Any]:
        async with Client(server_on(tmp_path)[0], mode="legacy") as client:
            return {tool.name: tool.input_schema for tool in (await client.list_tools()).tools}

    schemas = anyio.run(scenario)
    classes = (*DEPLOY_TOOLS, HotfixPredeploy, *RUN_TOOLS)
    wrapped = {cls.name: cls for cls in classes if cls.name in GRANULAR_TOOLS}
    assert set(wrapped) == set(GRANULAR_TOOLS)
    for name, cls in wrapped.items():
        model = cls.args_model.model_json_schema()
        assert set(schemas[name].get("properties", {})) == set(model.get("properties", {})), name
        assert set(schemas[name].get("required", [])) == set(model.get("required", [])), name


@pytest.mark.parametrize("mode", MODES)
def test_an_accepted_rollout_asks_for_each_change_and_deploys_with_progress(
    tmp_path: Path, mode: str
) -> None:
    server, target = server_on(tmp_path)
    forms = Forms("accept")
    messages: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        del progress, total
        messages.append(message or "")

    async def scenario() -> dict[str, CallToolResult]:
        async with Client(server, mode=mode, elicitation_callback=forms) as client:
            results = await rollout(client)
            results["status"] = await client.call_tool(
                "hotfix_status", {}, progress_callback=on_progress
            )
            results["health"] = await client.call_tool(
                "hotfix_health_check", {}, progress_callback=on_progress
            )
        return results

    results = anyio.run(scenario)

    assert all(not r.is_error for r in results.values()), {
        k: text_of(r) for k, r in results.items()
    }
    assert target.weights == {"v1.4.3": 100}
    asked = [message.splitlines()[1] for message in forms.messages]
    assert asked == ['hotfix_stage(version_ref="hotfix/1.4.3")',
                     'hotfix_verify(label="v1.4.3")',
                     'hotfix_shift_traffic(label="v1.4.3", percent=100)',
                     'hotfix_promote(label="v1.4.3")']  # fmt: skip
    outcome = ToolOutcome.model_validate(results["hotfix_promote"].structured_content)
    assert outcome.status == "ok" and outcome.decision == "ask" and outcome.run_id
    assert any(m.startswith("hotfix_status ok") for m in messages)
    assert any("health check of production passed" in m for m in messages)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("action", ["decline", "cancel"])
def test_a_declined_or_dismissed_form_changes_nothing(
    tmp_path: Path, mode: str, action: str
) -> None:
    server, target = server_on(tmp_path)

    async def scenario() -> CallToolResult:
        async with Client(server, mode=mode, elicitation_callback=Forms(action)) as client:
            return (await rollout(client, until="hotfix_stage"))["hotfix_stage"]

    result = anyio.run(scenario)

    assert result.is_error and "denied" in text_of(result)
    assert target.ops == [] and target.weights == {"v1.4.2": 100}
    approvals = [r for r in journal_of(tmp_path) if r["type"] == "approval"]
    assert [(a["approved"], a["approver"]) for a in approvals] == [(False, "mcp-elicitation")]


def test_an_unanswered_form_is_denied_when_it_times_out(tmp_path: Path) -> None:
    server, target = server_on(tmp_path, approval_timeout_s=0.3)

    async def scenario() -> CallToolResult:
        forms = Forms("accept", delay_s=5)
        async with Client(server, mode="legacy", elicitation_callback=forms) as client:
            with anyio.fail_after(4):
                return (await rollout(client, until="hotfix_stage"))["hotfix_stage"]

    result = anyio.run(scenario)

    assert result.is_error and "no answer within 0 s" in text_of(result)
    assert target.ops == []


def test_a_client_without_forms_is_denied_rather_than_left_waiting(tmp_path: Path) -> None:
    server, target = server_on(tmp_path)

    async def scenario() -> CallToolResult:
        async with Client(server, mode="legacy") as client:
            return (await rollout(client, until="hotfix_stage"))["hotfix_stage"]

    result = anyio.run(scenario)

    assert result.is_error and "does not support forms" in text_of(result)
    assert target.ops == []


class BlockingVerifier(MemoryVerifier):
    """Production health checks hang (once) until the call is cancelled."""

    def __init__(self, target: MemoryTarget) -> None:
        super().__init__(target)
        self.blocked = anyio.Event()
        self.hang_next_production_check = False

    async def health(self, base_url: str) -> dict[str, Any]:
        if self.hang_next_production_check and base_url == "memory://production":
            self.hang_next_production_check = False
            self.blocked.set()
            await anyio.sleep_forever()
        return await super().health(base_url)


@pytest.mark.parametrize("mode", MODES)
def test_cancelling_a_call_mid_shift_rolls_production_back_and_journals_it(
    tmp_path: Path, mode: str
) -> None:
    verifier = BlockingVerifier(MemoryTarget("v1.4.2"))
    server, target = server_on(tmp_path, verifier)

    async def scenario() -> None:
        async with Client(server, mode=mode, elicitation_callback=Forms("accept")) as client:
            await rollout(client, until="hotfix_verify")
            verifier.hang_next_production_check = True
            async with anyio.create_task_group() as group:
                group.start_soon(client.call_tool, "hotfix_shift_traffic",
                                 {"label": "v1.4.3", "percent": 100})  # fmt: skip
                await verifier.blocked.wait()
                assert target.weights == {"v1.4.3": 100}  # mid-shift: judging the new version
                group.cancel_scope.cancel()
            with anyio.fail_after(5):
                # The fake target has no event to wait on: poll its weights.
                while target.weights != {"v1.4.2": 100}:  # noqa: ASYNC110
                    await anyio.sleep(0.02)

    anyio.run(scenario)

    records = journal_of(tmp_path)
    notices = [r["message"] for r in records if r["type"] == "notice"]
    assert any("stopped safely" in n and "rolled back to v1.4.2" in n for n in notices), notices
    assert any(r["type"] == "step" and r["step_id"] == "rollback:1" and r["phase"] == "finished"
               for r in records)  # fmt: skip


def test_a_client_leaving_mid_rollout_leaves_production_on_the_previous_version(
    tmp_path: Path,
) -> None:
    server, target = server_on(tmp_path)

    async def scenario() -> None:
        async with Client(server, mode="legacy", elicitation_callback=Forms("accept")) as client:
            await rollout(client, until="hotfix_shift_traffic")
            assert target.weights == {"v1.4.3": 100}

    anyio.run(scenario)

    assert target.weights == {"v1.4.2": 100}
    records = journal_of(tmp_path)
    assert records[-1]["type"] == "run_finished" and records[-1]["status"] == "cancelled"
    assert (
        "client disconnected" in records[-1]["summary"] or "rolled back" in records[-1]["summary"]
    )


@pytest.mark.parametrize("mode", MODES)
def test_resources_list_the_runs_and_serve_report_journal_and_handoff(
    tmp_path: Path, mode: str
) -> None:
    server, _ = server_on(tmp_path)

    async def scenario() -> tuple[CallToolResult, dict[str, str]]:
        async with Client(server, mode=mode, elicitation_callback=Forms("accept")) as client:
            await rollout(client)
            handoff = await client.call_tool("hotfix_handoff", {})
            run_id = str((handoff.structured_content or {})["run_id"])
            texts: dict[str, str] = {}
            for name in ("", "/report.md", "/report.html", "/journal.jsonl", "/handoff.json"):
                uri = "hotfix://runs" + (f"/{run_id}{name}" if name else "")
                content = (await client.read_resource(uri)).contents[0]
                texts[name or "runs"] = getattr(content, "text", "")
            return handoff, texts

    handoff, texts = anyio.run(scenario)

    data = handoff.structured_content or {}
    assert data["status"] == "ok" and data["data"]["send"] is False
    assert data["data"]["agent"] == "post-fix-monitoring"
    assert any(getattr(c, "uri", "").endswith("/report.md") for c in handoff.content)
    run_id = data["run_id"]
    runs = json.loads(texts["runs"])["runs"]
    assert runs[0]["run_id"] == run_id and runs[0]["status"] == "completed"
    assert run_id in texts["/report.md"] and "<html" in texts["/report.html"].lower()
    assert all(json.loads(line)["seq"] for line in texts["/journal.jsonl"].splitlines())
    assert json.loads(texts["/handoff.json"])["next_agent"]["send"] is False


def test_reading_an_unknown_run_is_an_error(tmp_path: Path) -> None:
    from mcp import MCPError

    async def scenario() -> str:
        async with Client(server_on(tmp_path)[0], mode="legacy") as client:
            try:
                await client.read_resource("hotfix://runs/nope/report.md")
            except MCPError as exc:
                return str(exc)
        return "no error"

    assert "no run 'nope'" in anyio.run(scenario)


def test_monitor_starts_from_the_handoff_packet_and_only_suggests_what_comes_next(
    tmp_path: Path,
) -> None:
    server, _ = server_on(tmp_path)

    async def scenario() -> CallToolResult:
        async with Client(server, mode="legacy", elicitation_callback=Forms("accept")) as client:
            await rollout(client)
            handoff = await client.call_tool("hotfix_handoff", {})
            run_id = str((handoff.structured_content or {})["run_id"])
            return await client.call_tool("monitor", {"run_id": run_id, "duration": "1s"})

    result = anyio.run(scenario)

    out = result.structured_content or {}
    assert not result.is_error and out["status"] == "healthy" and out["samples"] >= 1
    assert out["next"]["send"] is False


def test_a_whole_rollout_is_refused_while_the_chat_run_is_mid_rollout(tmp_path: Path) -> None:
    server, target = server_on(tmp_path)

    async def scenario() -> CallToolResult:
        async with Client(server, mode="legacy", elicitation_callback=Forms("accept")) as client:
            await rollout(client, until="hotfix_shift_traffic")
            return await client.call_tool("hotfix_deploy", {"description": "fix on hotfix/2.0"})

    result = anyio.run(scenario)

    assert result.is_error and "mid-rollout" in text_of(result)
    assert len([d for d in runs_root(tmp_path).iterdir() if d.is_dir()]) == 1  # no second run
    assert target.ops.count(("stage", "v1.4.3")) == 1


def test_a_restarted_server_resumes_the_chat_rollout_its_predecessor_left_open(
    tmp_path: Path,
) -> None:
    from agent.mcp_server.approvals import FormAnswer
    from agent.mcp_server.chat_run import ChatRuns
    from agent.mcp_server.jobs import Job, Question

    target = MemoryTarget("v1.4.2")
    options = ServerOptions(tmp_path, target_factory=lambda _c, _w: target,
                            verifier=MemoryVerifier(target))  # fmt: skip

    async def crashed_server() -> None:
        # The first process stages, verifies and shifts, then dies without any clean-up.
        chat, job = ChatRuns(options), Job("j1", "hotfix")

        async def user() -> None:
            while True:
                event = await job.next_event(10)
                if isinstance(event, Question):
                    event.settle(FormAnswer("accept", {"approve": True}))

        async with anyio.create_task_group() as group:
            group.start_soon(user)
            await chat.call(job, "hotfix_stage", {"version_ref": "hotfix/1.4.3"})
            await chat.call(job, "hotfix_verify", {"label": "v1.4.3"})
            await chat.call(job, "hotfix_shift_traffic", {"label": "v1.4.3", "percent": 100})
            group.cancel_scope.cancel()
        # Its death released the journal's lock (the kernel does that for a real process).
        crashed = chat._run  # pyright: ignore[reportPrivateUsage]
        assert crashed is not None
        crashed.journal.close()

    async def next_server() -> CallToolResult:
        async with Client(build_server(options), mode="legacy",
                          elicitation_callback=Forms("accept")) as client:  # fmt: skip
            return await client.call_tool("hotfix_promote", {"label": "v1.4.3"})

    anyio.run(crashed_server)
    promoted = anyio.run(next_server)

    assert not promoted.is_error, text_of(promoted)  # the verification on record was replayed
    assert target.weights == {"v1.4.3": 100}
    assert len([d for d in runs_root(tmp_path).iterdir() if d.is_dir()]) == 1
