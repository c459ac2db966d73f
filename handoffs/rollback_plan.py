"""The rollback plan of a run: the exact operations (and commands) that undo it on its target.

Derived from the engine state the journal rebuilds: what production ran before (the recorded
baseline weights or flag values), whether that version still runs, whether the run already
rolled back, and whether a database migration ran (then the code rollback alone is not
enough). The operations are what `monitor_rollback` carries out; the commands are for people.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from handoffs._evidence import MIGRATION_APPLIED
from handoffs.facts import RunFacts, iso, resolve_ref
from handoffs.report_model import DeploymentSummary, RollbackOperation, RollbackPlan

_DOWN_MIGRATIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\balembic upgrade\b"), "alembic downgrade -1"),
    (re.compile(r"\bmanage\.py migrate\b"), "python manage.py migrate <app> <previous migration>"),
    (re.compile(r"\bdotnet ef database update\b"), "dotnet ef database update <PreviousMigration>"),
    (re.compile(r"\brails db:migrate\b"), "rails db:rollback"),
    (re.compile(r"\bknex migrate:latest\b"), "knex migrate:rollback"),
    (re.compile(r"\bsequelize(-cli)? db:migrate\b"), "sequelize db:migrate:undo"),
    (re.compile(r"\bliquibase update\b"), "liquibase rollback-count 1"),
    (re.compile(r"\bflyway migrate\b"), "flyway undo"),
)


def build_rollback_plan(
    facts: RunFacts,
    deployment: DeploymentSummary | None,
    production_url: str | None,
    target: str | None,
) -> RollbackPlan:
    """The rollback plan for the run `facts` describes."""
    st = facts.state
    database = _database(facts)
    if deployment is None or (st.baseline is None and not st.flags_before and not st.records):
        return RollbackPlan(
            state="not_needed",
            summary="Nothing to roll back: this run did not change production traffic.",
            database=database,
        )
    ws = shlex.quote(str(facts.workspace))
    health = RollbackOperation(
        op="health_check_production",
        description=f"health check production ({production_url or 'the production URL'})",
        args={"url": production_url},
    )
    previous = deployment.previous or "the previous version"
    ops: list[RollbackOperation] = []
    if deployment.status == "rolled_back":
        verified = {True: "verified healthy", False: "NOT healthy afterwards", None: "unverified"}
        summary = (
            f"Already rolled back at {deployment.traffic_restored_at}: production traffic was "
            f"restored to {previous} ({verified[deployment.rollback_verified]})."
        )
        state = "done" if deployment.rollback_verified is not False else "manual"
        return RollbackPlan(state=state, summary=summary, database=database)
    if st.flags_before:
        flags = dict(st.flags_before)
        ops = [
            RollbackOperation(
                op="restore_flags", description=f"set flags back to {flags}", args={"flags": flags}
            ),
            health,
        ]
        return _available(facts, ops, f"Switch the flags back to {flags}", ws, database)
    if any(r["kind"] == "rolling" for r in st.records):
        ops = [
            RollbackOperation(op="undo_rolling_update", description="undo the rolling update"),
            health,
        ]
        return _available(facts, ops, "Undo the rolling update", ws, database, target)
    baseline = dict(st.baseline or {})
    if baseline and not set(baseline) <= st.retired:
        ops = [
            RollbackOperation(
                op="set_weights",
                description=f"route traffic back to {_weights(baseline)} in one atomic update",
                args={"weights": baseline},
            ),
            health,
            RollbackOperation(
                op="retire",
                description=f"retire {deployment.version}",
                args={"label": deployment.version},
            ),
        ]
        summary = f"Restore the recorded weights ({_weights(baseline)}); {previous} still runs"
        return _available(facts, ops, summary, ws, database, target)
    return _redeploy(facts, deployment, health, ws, database, target)


def _available(
    facts: RunFacts,
    ops: list[RollbackOperation],
    summary: str,
    ws: str,
    database: str | None,
    target: str | None = None,
) -> RollbackPlan:
    commands = [f"hotfix rollback {facts.run_id} --workspace {ws} --approve ask"]
    commands += _target_commands(facts, target)
    text = (
        f"{summary}, verify production health, then retire the new version: "
        f"`{commands[0]}` does exactly that (a production change: it asks for approval)."
    )
    return RollbackPlan(
        state="available",
        summary=text,
        operations=_with_db(ops, database),
        commands=commands,
        database=database,
    )


def _redeploy(
    facts: RunFacts,
    deployment: DeploymentSummary,
    health: RollbackOperation,
    ws: str,
    database: str | None,
    target: str | None,
) -> RollbackPlan:
    previous = deployment.previous or "the previous version"
    ref = deployment.previous_ref
    commit = resolve_ref(facts.workspace, ref) if ref else None
    at = f"ref {ref}" + (f" (commit {commit[:12]})" if commit else "") if ref else "its ref"
    ops = [
        RollbackOperation(
            op="stage_previous",
            description=f"start {previous} again from {at}, without traffic",
            args={"label": deployment.previous, "ref": ref, "commit": commit},
        ),
        RollbackOperation(
            op="health_check_staged",
            description=f"health check {previous} on its own URL (it must pass before traffic)",
            args={"label": deployment.previous},
        ),
        RollbackOperation(
            op="set_weights",
            description=f"route 100% of production traffic to {previous} in one atomic update",
            args={"weights": {deployment.previous: 100}},
        ),
        health,
        RollbackOperation(
            op="retire",
            description=f"retire {deployment.version}",
            args={"label": deployment.version},
        ),
    ]
    commands = [f"hotfix monitor {facts.run_id} --workspace {ws} --rollback 'REASON' --approve ask"]
    commands += _target_commands(facts, target)
    summary = (
        f"{deployment.version} is promoted and {previous} was retired after the promotion, so "
        f"rolling back means starting {previous} again from {at}, checking its health, then "
        f"switching all traffic to it. The post-fix-monitoring agent does this with its gated "
        f"`monitor_rollback` tool when a regression shows; `{commands[0]}` does it at once."
    )
    if ref is None:
        summary += f" The ref of {previous} is not recorded: pass it when redeploying."
    return RollbackPlan(
        state="redeploy",
        summary=summary,
        operations=_with_db(ops, database),
        commands=commands,
        database=database,
    )


def _with_db(ops: list[RollbackOperation], database: str | None) -> list[RollbackOperation]:
    if database is None:
        return ops
    restore = RollbackOperation(op="database_restore", description=database)
    return [*ops, restore]


def _database(facts: RunFacts) -> str | None:
    """How to undo the database change, when a migration ran in this run."""
    applied = [u for u in facts.commands(MIGRATION_APPLIED) if u.succeeded]
    steps = facts.steps("migration", "finished")
    if not applied and not steps:
        return None
    what = (
        f"`{applied[-1].command}` at {iso(applied[-1].finished_ts)}"
        if applied
        else (f"{steps[-1].get('step_id')} at {iso(steps[-1].get('ts'))}")
    )
    down = next(
        (cmd for p, cmd in _DOWN_MIGRATIONS if applied and p.search(applied[-1].command)), None
    )
    from handoffs.checklists import build_checklists

    backup = next(i for i in build_checklists(facts, None).before if i.id == "backup-created")
    restore = (
        f"restore the backup ({backup.evidence})"
        if backup.done
        else ("restore the latest database backup (none was recorded in this run)")
    )
    text = f"A database migration ran ({what}); rolling the code back does not undo it: {restore}"
    return text + (f", or run the down migration `{down}`." if down else ".")


def _target_commands(facts: RunFacts, target: str | None) -> list[str]:
    """Native commands for the target, from its configuration (when it names the resources)."""
    settings = target_settings(facts, target)
    if not settings:
        return []
    group = settings.get("resource_group")
    app = settings.get("app_name") or settings.get("app") or settings.get("name")
    slot = settings.get("slot") or settings.get("staging_slot") or "staging"
    if group and app:  # after a swap the previous build sits in the slot: swap again
        return [
            f"az webapp deployment slot swap --resource-group {group} --name {app} "
            f"--slot {slot} --target-slot production"
        ]
    deployment = settings.get("deployment")
    if deployment:
        namespace = settings.get("namespace") or "default"
        return [f"kubectl rollout undo deployment/{deployment} --namespace {namespace}"]
    return []


def target_settings(facts: RunFacts, target: str | None) -> dict[str, Any]:
    """The `[deploy.<target>]` settings as a dict (empty when the config has none)."""
    if facts.config is None or not target:
        return {}
    deploy = facts.config.deploy.model_dump(mode="json")
    for key in (target, target.replace("-", "_"), "appservice", "app_service", "kubernetes"):
        section = deploy.get(key)
        if isinstance(section, dict) and key != "local":
            return dict(section)  # pyright: ignore[reportUnknownArgumentType]
    return {}


def _weights(weights: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}%" for k, v in sorted(weights.items()))
