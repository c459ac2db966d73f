"""The engine's verdict steps: verification (health + smoke) and traffic analysis.

A verdict is final for the run: it is journaled once (`verify:<label>`,
`verify-prod:<label>`, `analysis:<label>:<percent>`) and a failure triggers the engine's
failure handling at once — rollback when the version had traffic, clean-up when it never did.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.deploy.steps import Details, EngineRefusal, analysis_id, verify_id

if TYPE_CHECKING:
    from tools.deploy.engine import DeploymentEngine, Where


async def run_verify(engine: DeploymentEngine, label: str, where: Where) -> Details:
    """Health check, then smoke tests, on `label`'s own URL or through production."""
    engine.require_open("verify")
    sid = verify_id(label, where)
    if (done := engine.state.completed.get(sid)) is not None:
        return done
    now = await engine.target.state()
    workdir: Path | None = None
    if where == "staged":
        version = now.versions.get(label)
        if version is None:
            raise EngineRefusal(f"{label} is not running on {engine.target.name}; stage it")
        url, workdir = version.url, _workdir(version.details)
    else:
        url = now.production_url

    async def action() -> Details:
        checks = [await engine.verifier.health(url)]
        if checks[0].get("passed"):  # smoke tests against a dead service are noise
            checks += await engine.verifier.smoke(url, workdir)
        failures = [_describe(check) for check in checks if not check.get("passed")]
        if not failures:
            return {"passed": True, "checks": checks}
        reason = f"{where} verification of {label} failed: " + "; ".join(failures)
        return {"passed": False, "checks": checks, "ts": engine.clock(), "reason": reason}

    started = {"label": label, "where": where, "url": url}
    result = await engine.steps.run(sid, "verify", started, action)
    if not result.get("passed"):
        await engine.handle_failure(label)
    return result


async def run_observe(
    engine: DeploymentEngine,
    label: str,
    percent: int,
    step_id: str | None,
    duration_s: float | None,
    baseline_since: float | None,
) -> Details:
    """Drive (or wait for) traffic for a window, then analyse candidate against baseline."""
    engine.require_open("observe traffic")
    sid = step_id or analysis_id(label, percent)
    if (done := engine.state.completed.get(sid)) is not None:
        return done
    previous = engine.state.previous
    if engine.state.weights.get(label, 0) != percent or previous is None:
        raise EngineRefusal(f"{label} does not have {percent}% of traffic to observe")
    settings = engine.settings
    window = duration_s or max(settings.canary.bake_s or 0.0, engine.verifier.window_for(percent))

    async def action() -> Details:
        url = (await engine.target.state()).production_url
        since = engine.clock()
        load = await engine.verifier.drive_load(url, window)
        baseline = await engine.target.metrics(previous, baseline_since or since)
        candidate = await engine.target.metrics(label, since)
        analysis = engine.verifier.analyze(baseline, candidate)
        outcome = analysis.get("outcome")
        ok = outcome == "pass" or (outcome == "marginal" and settings.allow_marginal)
        result = {"passed": ok, "analysis": analysis, "load": load, "window_s": window}
        if not ok:
            # Inconclusive fails too: a version is promoted on evidence, not on silence.
            reasons = "; ".join(str(reason) for reason in analysis.get("reasons", [])[:3])
            result["reason"] = f"analysis of {label} at {percent}% was {outcome}: {reasons}"
            result["ts"] = engine.clock()
        return result

    started = {"label": label, "percent": percent, "baseline_label": previous}
    result = await engine.steps.run(sid, "analysis", started, action)
    if not result.get("passed"):
        await engine.handle_failure(label)
    return result


def _describe(check: Details) -> str:
    details = check.get("details")
    message = details.get("message") if isinstance(details, dict) else None
    return f"{check.get('kind', 'check')} {check.get('name', '')}: {message or 'failed'}"


def _workdir(details: dict[str, Any]) -> Path | None:
    for key in ("worktree", "workdir", "path"):
        value = details.get(key)
        if isinstance(value, str) and value:
            return Path(value)
    return None
