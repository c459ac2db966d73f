"""The seed's before / during / after deployment checklists, ticked only on journal evidence.

Each item has one rule that looks for a specific record: a step, a tool result, a terminal
command that succeeded. Without that record the item stays open and says what is missing;
an item that cannot apply to this run (no migration ran) is marked n/a, not ticked.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from handoffs._evidence import (
    BACKUP,
    MIGRATION_APPLIED,
    MIGRATION_PREPARED,
    REVIEW,
    SECURITY,
    TESTS,
    VAULT,
    commands_run,
)
from handoffs.facts import Record, RunFacts, iso
from handoffs.report_model import ChecklistItem, Checklists, DeploymentSummary

Rule = Callable[[RunFacts, DeploymentSummary | None], tuple[str, str]]


def build_checklists(facts: RunFacts, deployment: DeploymentSummary | None) -> Checklists:
    """All three checklists for the run described by `facts`."""

    def items(section: list[tuple[str, str, Rule]]) -> list[ChecklistItem]:
        out: list[ChecklistItem] = []
        for item_id, text, rule in section:
            status, evidence = rule(facts, deployment)
            out.append(ChecklistItem(id=item_id, text=text, status=status, evidence=evidence))  # pyright: ignore[reportArgumentType]
        return out

    return Checklists(before=items(_BEFORE), during=items(_DURING), after=items(_AFTER))


def _done(evidence: str) -> tuple[str, str]:
    return "done", evidence


def _open(missing: str) -> tuple[str, str]:
    return "open", missing


def _command_rule(pattern: re.Pattern[str], what: str) -> Rule:
    def rule(facts: RunFacts, _: DeploymentSummary | None) -> tuple[str, str]:
        ran = commands_run(facts, pattern)
        ok = [use for use in ran if use.succeeded]
        if ok:
            return _done(f"`{ok[-1].command}` exited 0 at {iso(ok[-1].finished_ts)}")
        if ran:
            return _open(f"`{ran[-1].command}` did not succeed ({ran[-1].status})")
        return _open(f"no {what} is recorded in the journal")

    return rule


def _reviewed(facts: RunFacts, _: DeploymentSummary | None) -> tuple[str, str]:
    for use in facts.commands(REVIEW):
        if use.succeeded and "APPROVED" in use.summary:
            return _done(f"`{use.command}` reported the review decision APPROVED")
    return _open("no approved code review is recorded in the journal")


def _tests(facts: RunFacts, deployment: DeploymentSummary | None) -> tuple[str, str]:
    for use in reversed(facts.uses("problems")):
        commands: list[Record] = use.data.get("commands") or []
        if use.ok and commands and all(c.get("exit_code") == 0 for c in commands):
            names = ", ".join(str(c.get("name")) for c in commands)
            return _done(f"diagnostics ({names}) exited 0 at {iso(use.finished_ts)}")
    return _command_rule(TESTS, "passing test run")(facts, deployment)


def _config_updated(facts: RunFacts, _: DeploymentSummary | None) -> tuple[str, str]:
    if facts.config is not None and facts.config.source:
        return _done(f"settings validated from {facts.config.source} at run start")
    return _open(facts.config_error or "no configuration file: built-in defaults only")


def _rollback_documented(facts: RunFacts, _: DeploymentSummary | None) -> tuple[str, str]:
    first = facts.first_production_change_ts()
    plans = [u for u in facts.uses("hotfix_plan") if u.ok]
    if plans and (first is None or (plans[0].finished_ts or 0) <= first):
        return _done(f"hotfix_plan returned the rollback procedure at {iso(plans[0].finished_ts)}")
    return _open("no rollback plan was produced before production changed")


def _pre_health(facts: RunFacts, _: DeploymentSummary | None) -> tuple[str, str]:
    first = facts.first_production_change_ts()
    for e in facts.steps("baseline", "finished"):
        load: Record = (e.get("details") or {}).get("load") or {}
        if load.get("sent") and not load.get("failed") and (first is None or e["ts"] <= first):
            return _done(f"baseline window: {load['sent']} requests to production, 0 errors")
    for e in facts.verdicts("verify"):
        details: Record = e.get("details") or {}
        before = first is None or e["ts"] <= first
        if details.get("where") == "production" and details.get("passed") and before:
            return _done(f"production verified at {iso(e.get('ts'))} before any change")
    return _open("no health check of production before its first change is recorded")


def _migrations_applied(facts: RunFacts, _: DeploymentSummary | None) -> tuple[str, str]:
    ran = facts.commands(MIGRATION_APPLIED)
    steps = facts.steps("migration", "finished")
    if steps:
        return _done(f"{steps[-1].get('step_id')} finished at {iso(steps[-1].get('ts'))}")
    if not ran:
        return "n/a", "no database migration ran in this run"
    ok = [u for u in ran if u.succeeded]
    if ok:
        return _done(f"`{ok[-1].command}` exited 0 at {iso(ok[-1].finished_ts)}")
    return _open(f"`{ran[-1].command}` did not succeed")


def _migrations_prepared(facts: RunFacts, deployment: DeploymentSummary | None) -> tuple[str, str]:
    if not facts.commands(MIGRATION_APPLIED) and not facts.steps("migration"):
        return "n/a", "no database migration is part of this run"
    return _command_rule(MIGRATION_PREPARED, "migration dry run or check")(facts, deployment)


def _deployed(facts: RunFacts, _: DeploymentSummary | None) -> tuple[str, str]:
    for kind in ("stage", "rolling", "flag"):
        done = facts.steps(kind, "finished")
        if done:
            d: Record = done[-1].get("details") or {}
            return _done(
                f"{done[-1]['step_id']} finished at {iso(done[-1].get('ts'))} "
                f"({d.get('url') or d.get('weights') or d.get('name')})"
            )
    return _open("no version was started and no flag switched")


def _config_applied(facts: RunFacts, _: DeploymentSummary | None) -> tuple[str, str]:
    changes = [
        e for e in facts.steps(phase="finished") if e.get("kind") in ("shift", "flag", "rolling")
    ]
    if changes:
        d: Record = changes[-1].get("details") or {}
        what = d.get("weights") or f"{d.get('name')}={d.get('value')}"
        return _done(f"{changes[-1]['step_id']} applied {what} at {iso(changes[-1].get('ts'))}")
    return _open("no traffic or flag configuration was applied to production")


def _checks_of(facts: RunFacts, kind: str) -> list[tuple[Record, Record]]:
    out: list[tuple[Record, Record]] = []
    for e in facts.verdicts("verify"):
        for check in (e.get("details") or {}).get("checks") or []:
            if check.get("kind") == kind:
                out.append((e, check))
    return out


def _health(facts: RunFacts, _: DeploymentSummary | None) -> tuple[str, str]:
    checks = _checks_of(facts, "health")
    failed = [c for _, c in checks if not c.get("passed")]
    if checks and not failed:
        steps = ", ".join(str(e["step_id"]) for e, _ in checks)
        return _done(f"{len(checks)} health checks passed ({steps})")
    if failed:
        return _open(f"health check failed: {(failed[-1].get('details') or {}).get('message')}")
    return _open("no health check of the new version is recorded")


def _smoke(facts: RunFacts, _: DeploymentSummary | None) -> tuple[str, str]:
    checks = _checks_of(facts, "smoke")
    failed = sorted({str(c.get("name")) for _, c in checks if not c.get("passed")})
    if checks and not failed:
        return _done(f"{len(checks)} smoke test results, all passed")
    if failed:
        return _open(f"smoke tests failed: {', '.join(failed)}")
    return _open("no smoke test is recorded")


def _monitoring(facts: RunFacts, _: DeploymentSummary | None) -> tuple[str, str]:
    windows = [e for e in facts.verdicts("analysis")]
    if windows:
        seconds = sum(float((e.get("details") or {}).get("window_s") or 0) for e in windows)
        return _done(f"traffic observed in {len(windows)} analysis window(s), {seconds:g}s total")
    bakes = [e for e in facts.verdicts("verify") if (e.get("details") or {}).get("where") == "bake"]
    if bakes:
        return _done(f"production health watched during the bake ({bakes[-1]['step_id']})")
    return _open("no traffic analysis or bake watched production during the rollout")


def _services_running(facts: RunFacts, d: DeploymentSummary | None) -> tuple[str, str]:
    final = [
        e
        for e in facts.verdicts("verify", "rollback-verify")
        if e.get("kind") == "rollback-verify"
        or (e.get("details") or {}).get("where") in ("production", "bake")
    ]
    if d is None or not final:
        return _open("no production health check after the change is recorded")
    last = final[-1]
    if (last.get("details") or {}).get("passed"):
        return _done(f"{last['step_id']} passed at {iso(last.get('ts'))} ({d.status})")
    return _open(f"{last['step_id']} failed: {(last.get('details') or {}).get('reason')}")


def _last_analysis(facts: RunFacts, d: DeploymentSummary | None) -> Record | None:
    if d is None or d.status != "deployed":
        return None
    windows = facts.verdicts("analysis")
    return (windows[-1].get("details") or {}).get("analysis") if windows else None


def _metric_rule(names: tuple[str, ...], what: str) -> Rule:
    def rule(facts: RunFacts, d: DeploymentSummary | None) -> tuple[str, str]:
        analysis = _last_analysis(facts, d)
        if analysis is None:
            why = (
                "the fix is not deployed"
                if d is None or d.status != "deployed"
                else ("no traffic analysis after the switch")
            )
            return _open(f"no evidence of {what}: {why}")
        checks: list[Record] = (analysis.get("statistics") or {}).get("checks") or []
        relevant = [c for c in checks if c.get("name") in names]
        if relevant and all(c.get("passed") for c in relevant):
            return _done("; ".join(str(c.get("reason")) for c in relevant))
        bad = [str(c.get("reason")) for c in relevant if not c.get("passed")]
        return _open("; ".join(bad) or f"{what} was not evaluated (too few requests)")

    return rule


def _workflows(facts: RunFacts, d: DeploymentSummary | None) -> tuple[str, str]:
    prod = [
        (e, c)
        for e, c in _checks_of(facts, "smoke")
        if (e.get("details") or {}).get("where") == "production"
    ]
    if d is not None and d.status == "deployed" and prod and all(c.get("passed") for _, c in prod):
        return _done(f"{len(prod)} smoke tests passed through the production URL")
    return _open("no passing smoke tests through production for a deployed fix")


def _documented(facts: RunFacts, _: DeploymentSummary | None) -> tuple[str, str]:
    if facts.finished is not None:
        return _done(
            f"journal complete: {len(facts.events)} events, run finished at "
            f"{iso(facts.finished.get('ts'))}"
        )
    return _open("the run has not finished: its journal is incomplete")


def _postmortem(facts: RunFacts, _: DeploymentSummary | None) -> tuple[str, str]:
    failures = [e for e in facts.steps(phase="failed")] + facts.steps("rollback", "started")
    if not failures:
        return "n/a", "no failure or rollback occurred"
    return _open(f"{len(failures)} failure/rollback event(s): write a post-mortem")


def _never(what: str) -> Rule:
    def rule(_: RunFacts, __: DeploymentSummary | None) -> tuple[str, str]:
        return _open(f"not recorded: {what}")

    return rule


_BEFORE: list[tuple[str, str, Rule]] = [
    ("code-reviewed", "Code reviewed and approved", _reviewed),
    ("tests-passing", "All tests passing", _tests),
    ("security-scan", "Security scan completed", _command_rule(SECURITY, "security scan")),
    ("migrations-prepared", "Database migrations prepared", _migrations_prepared),
    ("config-updated", "Configuration updated for production", _config_updated),
    ("secrets-in-vault", "Secrets stored in secure vault", _command_rule(VAULT, "vault access")),
    ("backup-created", "Backup created", _command_rule(BACKUP, "backup")),
    ("rollback-plan", "Rollback plan documented", _rollback_documented),
    ("stakeholders-before", "Stakeholders notified", _never("this product sends no notices")),
]
_DURING: list[tuple[str, str, Rule]] = [
    ("pre-health", "Pre-deployment health check passed", _pre_health),
    ("migrations-applied", "Database migrations applied", _migrations_applied),
    ("app-deployed", "Application deployed", _deployed),
    ("config-applied", "Configuration applied", _config_applied),
    ("health-passing", "Health checks passing", _health),
    ("smoke-completed", "Smoke tests completed", _smoke),
    ("monitoring-active", "Monitoring active", _monitoring),
]
_AFTER: list[tuple[str, str, Rule]] = [
    ("services-running", "All services running", _services_running),
    (
        "error-rates",
        "Error rates normal",
        _metric_rule(("error_rate", "error_rate_delta"), "normal error rates"),
    ),
    (
        "performance",
        "Performance metrics acceptable",
        _metric_rule(("latency_shift", "latency_p95"), "acceptable latency"),
    ),
    ("workflows", "User workflows validated", _workflows),
    ("documentation", "Documentation updated", _documented),
    ("stakeholders-after", "Stakeholders notified", _never("this product sends no notices")),
    ("post-mortem", "Post-mortem (if issues occurred)", _postmortem),
]
