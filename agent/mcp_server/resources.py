"""MCP resources: the runs of the workspace and each run's report, journal and handoff.

`hotfix://runs` lists the runs (JSON); `hotfix://runs/{run_id}/<file>` reads one file of a
run. A report that was not written yet is derived from the journal on first read; the
journal itself is served as written (already redacted).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

from agent.mcp_server.options import ServerOptions
from agent.mcp_server.outputs import RUN_FILES

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _run_dir(options: ServerOptions, run_id: str) -> Path:
    from agent.runs import find_run

    if not _RUN_ID.fullmatch(run_id):
        raise ResourceError(f"not a run id: {run_id!r}")
    try:
        return find_run(options.workspace.resolve(), run_id)
    except LookupError as exc:
        raise ResourceError(str(exc)) from None


def _read(options: ServerOptions, run_id: str, name: str) -> str:
    run_dir = _run_dir(options, run_id)
    path = run_dir / name
    if not path.is_file() and name != "journal.jsonl":
        from handoffs.report import write_outputs

        write_outputs(run_dir)  # derived from the journal alone; idempotent
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        raise ResourceError(f"run {run_dir.name} has no {name}") from None


def runs_document(options: ServerOptions) -> str:
    """The runs of the workspace, newest first, with the URIs of their files."""
    from agent.runs import list_runs

    runs = []
    for summary in list_runs(options.workspace.resolve()):
        entry = summary.to_json()
        entry["resources"] = {
            name: f"hotfix://runs/{summary.run_id}/{name}"
            for name in RUN_FILES
            if name == "journal.jsonl" or (summary.run_dir / name).is_file()
        }
        runs.append(entry)
    return json.dumps({"workspace": str(options.workspace.resolve()), "runs": runs}, indent=2)


def register_resources(server: MCPServer, options: ServerOptions) -> None:
    """Add the runs list and the per-run templates to `server`."""

    @server.resource(
        "hotfix://runs",
        name="runs",
        title="Hotfix runs",
        description="Every run in this workspace, newest first, with its status and files.",
        mime_type="application/json",
    )
    def runs() -> str:
        return runs_document(options)

    def template(name: str, title: str, description: str) -> None:
        def read(run_id: str) -> str:
            return _read(options, run_id, name)

        server.resource(
            f"hotfix://runs/{{run_id}}/{name}",
            name=name,
            title=title,
            description=description,
            mime_type=RUN_FILES[name],
        )(read)

    template("report.md", "Run report (Markdown)", "The deployment report of a run.")
    template("report.html", "Run report (HTML)", "The report with the rollout timeline chart.")
    template("report.json", "Run report (JSON)", "The report as data (report.schema.json).")
    template("journal.jsonl", "Run journal", "The append-only, redacted journal of a run.")
    template("handoff.json", "Handoff packet", "What the post-fix-monitoring agent starts from.")
