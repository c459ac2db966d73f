"""Structured outputs of the MCP tools, and the resource URIs they link to."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from mcp_types import CallToolResult, ContentBlock, ResourceLink, TextContent
from pydantic import BaseModel, Field

RUN_FILES: dict[str, str] = {
    "report.md": "text/markdown",
    "report.html": "text/html",
    "report.json": "application/json",
    "journal.jsonl": "application/x-ndjson",
    "handoff.json": "application/json",
}


def run_uri(run_id: str, name: str) -> str:
    """`hotfix://runs/<run_id>/<name>`: one file of a run, as an MCP resource."""
    return f"hotfix://runs/{run_id}/{name}"


class HandoffSuggestion(BaseModel):
    """The next agent, offered and never started: `send` is always false."""

    label: str
    agent: str
    prompt: str
    send: Literal[False] = False
    packet_uri: str | None = Field(default=None, description="The handoff packet resource.")


class DeployOutput(BaseModel):
    """What `hotfix_deploy` returns."""

    run_id: str
    status: str = Field(description="deployed, rolled_back, failed, needs_rollback, or the run's")
    run_status: str = Field(description="completed, stopped, failed or cancelled")
    stop_reason: str
    summary: str
    model: str
    version: str | None = None
    previous_version: str | None = None
    strategy: str | None = None
    report_uri: str
    journal_uri: str
    handoff: HandoffSuggestion | None = None


class ToolOutcome(BaseModel):
    """What a granular tool returns: the gate's decision and the tool's own result."""

    tool: str
    status: str = Field(description="ok, error, denied or invalid")
    text: str
    run_id: str | None = None
    decision: str | None = Field(default=None, description="The gate: allow, ask or deny.")
    data: dict[str, Any] | None = None


def tool_result(
    output: BaseModel, text: str, links: list[ResourceLink] | None = None
) -> CallToolResult:
    """A result with `output` as structured content, `text` for the model, and `links`."""
    content: list[ContentBlock] = [TextContent(type="text", text=text)]
    content.extend(links or [])
    is_error = isinstance(output, ToolOutcome) and output.status != "ok"
    return CallToolResult(
        content=content, structured_content=output.model_dump(mode="json"), is_error=is_error
    )


def run_links(run_dir: Path) -> list[ResourceLink]:
    """Resource links to the files a run has (report, journal, handoff)."""
    links: list[ResourceLink] = []
    for name, mime in RUN_FILES.items():
        if (run_dir / name).is_file():
            links.append(
                ResourceLink(
                    type="resource_link",
                    uri=run_uri(run_dir.name, name),
                    name=f"{run_dir.name}/{name}",
                    mime_type=mime,
                )
            )
    return links


def handoff_suggestion(run_dir: Path) -> HandoffSuggestion | None:
    """The handoff offered by the run's packet, with `send` forced off."""
    path = run_dir / "handoff.json"
    try:
        packet: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    nxt: dict[str, Any] = packet.get("next_agent") or {}
    return HandoffSuggestion(
        label=str(nxt.get("label") or "Monitor Post-Fix"),
        agent=str(nxt.get("agent") or "post-fix-monitoring"),
        prompt=str(packet.get("suggested_prompt") or nxt.get("prompt") or ""),
        packet_uri=run_uri(run_dir.name, "handoff.json"),
    )
