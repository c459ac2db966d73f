"""The basic deployment report and handoff packet, derived from a run's journal alone.

Nothing here reads what the model said: statuses, versions, checks and incidents come from
the step, tool, gate and notice events the harness wrote. The model's final text may be
wrong; the journal is the truth (DESIGN.md §2).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.journal import JOURNAL_NAME, read_journal
from tools.deploy.steps import EngineState
from tools.deploy.strategies.base import build_outcome

REPORT_TEMPLATE = Path(__file__).resolve().parent.parent / "prompts" / "report.md.j2"
_VERDICT_KINDS = ("verify", "rollback-verify")


def collect_report(run_dir: Path) -> dict[str, Any]:
    """Everything the report shows, as JSON-ready data, from `run_dir/journal.jsonl`."""
    events = read_journal(run_dir / JOURNAL_NAME)
    started = next((e for e in events if e.get("type") == "run_started"), {})
    finished = next((e for e in reversed(events) if e.get("type") == "run_finished"), None)
    state = EngineState()
    for event in events:
        state.apply(event)
    steps = [e for e in events if e.get("type") == "step"]
    deployment = _deployment(state)
    workspace = Path(str(started.get("workspace") or run_dir.parent.parent.parent))
    config = _config(workspace, started.get("config_source"))
    production_url = _production_url(events, config)
    run_id = run_dir.name
    status = (
        deployment["status"]
        if deployment
        else (str(finished.get("status")) if finished else "unfinished")
    )
    return {
        "run_id": run_id,
        "description": started.get("description", ""),
        "agent": started.get("agent", ""),
        "model": started.get("model", ""),
        "workspace": str(workspace),
        "status": status,
        "run_status": str(finished.get("status")) if finished else "unfinished",
        "started_at": _iso(started.get("ts")),
        "finished_at": _iso(finished.get("ts")) if finished else None,
        "target": _target(events, config),
        "production_url": production_url,
        "stats_url": f"{production_url}/_hotfix/stats" if production_url else None,
        "deployment": deployment,
        "steps": [_step(e) for e in steps],
        "checks": [
            _verdict(e)
            for e in steps
            if e.get("kind") in _VERDICT_KINDS and e.get("phase") != "started"
        ],
        "analysis": [
            _analysis(e)
            for e in steps
            if e.get("kind") == "analysis" and e.get("phase") != "started"
        ],
        "configuration": config,
        "rollback_plan": rollback_plan(run_id, workspace, state, deployment),
        "incidents": _incidents(events),
    }


def write_report(run_dir: Path) -> Path:
    """Render `report.md` (and `report.json`) for the run in `run_dir`; the markdown path."""
    import jinja2

    data = collect_report(run_dir)
    (run_dir / "report.json").write_text(
        json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8"
    )
    # Markdown, not HTML: escaping would mangle the text (the HTML report is another writer).
    env = jinja2.Environment(
        autoescape=False,  # noqa: S701
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    template = env.from_string(REPORT_TEMPLATE.read_text(encoding="utf-8"))
    path = run_dir / "report.md"
    config_json = json.dumps(data["configuration"].get("deploy", data["configuration"]), indent=2)
    path.write_text(template.render(**data, configuration_json=config_json), encoding="utf-8")
    return path


def write_handoff(run_dir: Path, report: dict[str, Any] | None = None) -> Path:
    """Write a plain `handoff.json` for the post-fix-monitoring agent; its path.

    This is the basic packet; the versioned, schema'd contract replaces it later.
    """
    data = report or collect_report(run_dir)
    deployment = data["deployment"] or {}
    checks = data["checks"]
    packet = {
        "run_id": data["run_id"], "service": Path(data["workspace"]).name,
        "target": data["target"], "strategy": deployment.get("strategy"),
        "version": deployment.get("version"), "previous_version": deployment.get("previous"),
        "production_url": data["production_url"], "status": data["status"],
        "checks": {"total": len(checks), "passed": sum(1 for c in checks if c["passed"]),
                   "failed": [c["step_id"] for c in checks if not c["passed"]]},
        "rollback_procedure": data["rollback_plan"], "monitoring": {"stats_url": data["stats_url"]},
        "incidents": data["incidents"],
        "suggested_prompt": (
            f"Watch {deployment.get('version') or 'the service'} on {data['production_url']} "
            f"(deployed by run {data['run_id']}, status {data['status']}): poll "
            f"{data['stats_url']} for error rate and latency; if it regresses, follow the "
            "rollback procedure of this packet."),
    }  # fmt: skip
    path = run_dir / "handoff.json"
    path.write_text(json.dumps(packet, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def rollback_plan(
    run_id: str, workspace: Path, state: EngineState, deployment: dict[str, Any] | None
) -> str:
    """The exact way back for this run, in words, as its journal allows it."""
    if deployment is None or state.baseline is None:
        return "Nothing to roll back: this run did not change production traffic."
    previous = deployment.get("previous") or "the previous version"
    if deployment["status"] == "rolled_back":
        return f"Already rolled back: production traffic was restored to {previous}."
    if set(state.baseline) <= state.retired:
        return (
            f"{previous} was retired after the promotion, so traffic cannot simply be "
            f"switched back: redeploy the ref of {previous} with `hotfix run` (blue-green "
            "keeps the current version on standby until it is verified)."
        )
    return (
        f"Run `hotfix rollback {run_id} --workspace {workspace}`: it restores the traffic "
        f"weights recorded before this run ({state.baseline}), verifies production health "
        f"and retires {deployment.get('version')}. It is a production change and asks for "
        "approval (--approve ask|policy:FILE)."
    )


def _deployment(state: EngineState) -> dict[str, Any] | None:
    if not state.deployments:
        return None
    label, details = list(state.deployments.items())[-1]
    outcome = build_outcome(state, label, str(details.get("strategy") or ""))
    return {
        "version": label,
        "ref": details.get("ref"),
        "strategy": outcome.strategy,
        "status": outcome.status,
        "previous": outcome.previous_version,
        "time_to_rollback_s": outcome.time_to_rollback_s,
        "rollback_verified": outcome.rollback_verified,
        "reason": outcome.reason,
    }


def _step(event: dict[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = event.get("details") or {}
    note = details.get("reason") or details.get("error") or ""
    if not note and "weights" in details:
        note = f"weights {details['weights']}"
    return {
        "step_id": event.get("step_id"),
        "kind": event.get("kind"),
        "phase": event.get("phase"),
        "time": _iso(event.get("ts")),
        "note": str(note),
    }


def _verdict(event: dict[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = event.get("details") or {}
    checks = [
        {
            "kind": c.get("kind"),
            "name": c.get("name"),
            "passed": bool(c.get("passed")),
            "message": (c.get("details") or {}).get("message", ""),
        }
        for c in details.get("checks") or []
    ]
    return {
        "step_id": event.get("step_id"),
        "where": details.get("where", "production"),
        "passed": details.get("passed") is True,
        "reason": details.get("reason"),
        "checks": checks,
    }


def _analysis(event: dict[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = event.get("details") or {}
    analysis: dict[str, Any] = details.get("analysis") or {}
    return {
        "step_id": event.get("step_id"),
        "percent": details.get("percent"),
        "passed": details.get("passed") is True,
        "outcome": analysis.get("outcome"),
        "score": analysis.get("score"),
        "reasons": list(analysis.get("reasons") or []),
    }


def _incidents(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for e in events:
        kind, when = e.get("type"), _iso(e.get("ts"))
        details: dict[str, Any] = e.get("details") or {}
        if kind == "step" and e.get("phase") == "failed":
            found.append(
                {
                    "time": when,
                    "kind": f"{e.get('kind')} failed",
                    "what": str(details.get("reason") or e.get("step_id")),
                }
            )
        elif kind == "step" and e.get("kind") == "rollback" and e.get("phase") == "started":
            found.append({"time": when, "kind": "rollback", "what": str(details.get("reason"))})
        elif kind == "approval" and not e.get("approved"):
            found.append({"time": when, "kind": "denied", "what": str(e.get("reason"))})
        elif kind == "tool_finished" and e.get("status") in ("error", "denied"):
            found.append(
                {
                    "time": when,
                    "kind": f"{e.get('tool')} {e.get('status')}",
                    "what": str(e.get("summary", ""))[:300],
                }
            )
        elif kind == "notice" and e.get("level") == "error":
            found.append({"time": when, "kind": str(e.get("level")), "what": str(e.get("message"))})
    return found


def _config(workspace: Path, source: Any) -> dict[str, Any]:
    """The `[deploy]` settings of the run's config file, secrets redacted."""
    from agent.config import ConfigError, load_config
    from agent.session import build_redactor

    path = Path(str(source)) if source and Path(str(source)).is_file() else None
    try:
        config = load_config(workspace, path)
    except ConfigError as exc:
        return {"error": str(exc)}
    return {
        "source": config.source,
        "deploy": build_redactor(config).value(config.deploy.model_dump(mode="json")),
    }


def _production_url(events: list[dict[str, Any]], config: dict[str, Any]) -> str | None:
    for e in events:
        data = e.get("data") if e.get("type") == "tool_finished" else None
        if isinstance(data, dict) and isinstance(data.get("production_url"), str):
            return str(data["production_url"])  # pyright: ignore[reportUnknownArgumentType]
    port = config.get("deploy", {}).get("local", {}).get("production_port")
    return f"http://127.0.0.1:{port}" if port else None


def _target(events: list[dict[str, Any]], config: dict[str, Any]) -> str | None:
    for e in events:
        data = e.get("data") if e.get("type") == "tool_finished" else None
        if isinstance(data, dict) and isinstance(data.get("target"), str):
            return str(data["target"])  # pyright: ignore[reportUnknownArgumentType]
    return config.get("deploy", {}).get("target")


def _iso(ts: Any) -> str | None:
    if not isinstance(ts, int | float):
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
