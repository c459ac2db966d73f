"""The runbook planner: a deterministic, LLM-free driver of the same tools and gate.

It follows the release runbook step by step — investigate, check the fix is shippable, plan,
deploy, report — deciding from the tools' structured results. It writes no imitation of
model reasoning: its only text is the factual final summary. It is the offline default and
what pipelines that forbid an LLM use (`--model runbook`).
"""

from __future__ import annotations

import re
from enum import Enum, auto
from typing import Any

from agent.models.base import (
    ContentBlock,
    ModelRequest,
    ModelResponse,
    ToolObservation,
    final_turn,
    first_user_text,
    tool_use_turn,
)

RUNBOOK_MODEL_ID = "runbook"

# Refs named in a description: "branch hotfix/1.4.3", "tag v2.0.1", "commit 1a2b3c4".
_NAMED_REF = re.compile(
    r"\b(?:branch|ref|tag|commit|sha)\s+[`'\"]?([\w./@+-]+?)[`'\"]?(?=[\s,;)]|$)", re.I
)
_BARE_REF = re.compile(
    r"(?<![\w/])((?:hotfix|fix|bugfix|release)/[\w.+-]+|v\d+(?:\.\d+)+[\w.-]*)", re.I
)
_STOP_WORDS = frozenset(
    (
        "a an and are at be but by fix fixed fixes for from has have hotfix in is it its of "
        "on or please returns ship that the this to was when where which with deploy branch "
        "tag ref"
    ).split()
)


class _Phase(Enum):
    INVESTIGATE = auto()
    PREDEPLOY = auto()
    PLAN = auto()
    DEPLOY = auto()
    DONE = auto()


def find_version_ref(description: str) -> str | None:
    """The git ref a hotfix description names, if it names exactly one kind of thing."""
    named = _NAMED_REF.search(description)
    if named:
        return named.group(1).rstrip(".")
    bare = _BARE_REF.search(description)
    return bare.group(1).rstrip(".") if bare else None


def search_terms(description: str, limit: int = 6) -> str:
    """Keywords of the description for a code search (no refs, no filler words)."""
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_]{2,}", _BARE_REF.sub(" ", description))
    kept: list[str] = []
    for word in words:
        if word.lower() not in _STOP_WORDS and word.lower() not in (k.lower() for k in kept):
            kept.append(word)
    return " ".join(kept[:limit]) or description[:80]


class RunbookPlanner:
    """A `ModelClient` that drives the deployment runbook from tool results."""

    def __init__(self, strategy: str | None = None) -> None:
        self._strategy = strategy
        self._phase = _Phase.INVESTIGATE
        self._ref: str | None = None
        self._seen: list[ToolObservation] = []
        self._counter = 0

    @property
    def model_id(self) -> str:
        return RUNBOOK_MODEL_ID

    def observe_tool_results(self, observations: list[ToolObservation]) -> None:
        self._seen = observations

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if self._phase is _Phase.INVESTIGATE:
            return self._start(request)
        if self._phase in (_Phase.PREDEPLOY, _Phase.PLAN) and (
            unreachable := _unreadable_target(self._get("hotfix_status"))
        ):
            # Nothing later can succeed (and predeploy would build, back up and tag for
            # nothing) when the target's state cannot even be read.
            self._phase = _Phase.DONE
            return _final(f"Not deployed: {unreachable}. Production was not changed.")
        if self._phase is _Phase.PREDEPLOY:
            self._phase = _Phase.PLAN
            return _turn([self._use("hotfix_predeploy", {"version_ref": self._ref})])
        if self._phase is _Phase.PLAN:
            return self._after_investigation()
        if self._phase is _Phase.DEPLOY:
            return self._after_plan()
        return self._finish()

    async def aclose(self) -> None:
        return None

    def _start(self, request: ModelRequest) -> ModelResponse:
        description = first_user_text(request)
        self._ref = find_version_ref(description)
        if self._ref is None:
            self._phase = _Phase.DONE
            return _final("Not deployed: the request does not name the git ref that carries "
                          "the fix. Which branch, tag or commit should be deployed? "
                          "(for example: \"fix is on branch hotfix/1.4.3\")")
        available = {tool.name for tool in request.tools}
        calls = [self._use("codebase", {"query": search_terms(description)})]
        if "hotfix_predeploy" in available:
            # Pre-deployment runs the tests on the fix's own checkout, with the build, scan,
            # backup and tag; `problems` on the workspace would only repeat part of it.
            self._phase = _Phase.PREDEPLOY
        else:
            self._phase = _Phase.PLAN
            calls.append(self._use("problems", {}))
        if "hotfix_status" in available:
            calls.append(self._use("hotfix_status", {}))
        return _turn(calls)

    def _after_investigation(self) -> ModelResponse:
        blocking = _blocking_problems(self._get("problems")) or _failed_predeploy(
            self._get("hotfix_predeploy"))
        if blocking:
            self._phase = _Phase.DONE
            return _final(f"Not deployed: the fix on {self._ref} is not shippable — {blocking}. "
                          "Fix these and run again.")
        self._phase = _Phase.DEPLOY
        return _turn([self._use("hotfix_plan", self._version_args())])

    def _after_plan(self) -> ModelResponse:
        plan = self._get("hotfix_plan")
        if plan is None or plan.status != "ok":
            self._phase = _Phase.DONE
            reason = plan.text if plan else "the plan tool returned nothing"
            return _final(f"Not deployed: planning the rollout of {self._ref} failed: {reason}")
        self._phase = _Phase.DONE
        return _turn([self._use("hotfix_deploy", self._version_args())])

    def _finish(self) -> ModelResponse:
        deploy = self._get("hotfix_deploy")
        if deploy is None:
            return _final("Nothing further to do.")
        if deploy.status == "denied":
            return _final(f"Not deployed: the production change for {self._ref} was not "
                          "approved. Production was not changed.")
        if deploy.status != "ok" or not deploy.data:
            return _final(f"Deployment of {self._ref} did not complete: {deploy.text}")
        return _final(_outcome_summary(deploy.data))

    def _version_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"version_ref": self._ref}
        if self._strategy:
            args["strategy"] = self._strategy
        return args

    def _get(self, tool: str) -> ToolObservation | None:
        return next((o for o in self._seen if o.tool == tool), None)

    def _use(self, name: str, args: dict[str, Any]) -> ContentBlock:
        self._counter += 1
        return {"type": "tool_use", "id": f"toolu_runbook_{self._counter:03d}", "name": name,
                "input": args}


def _blocking_problems(observation: ToolObservation | None) -> str | None:
    if observation is None:
        return None
    if observation.status != "ok":
        return f"the diagnostics could not run ({observation.text[:200]})"
    failing = [c for c in (observation.data or {}).get("commands", [])
               if c.get("exit_code") not in (0, None) or c.get("timed_out") or c.get("error")]
    if not failing:
        return None
    return "failing checks: " + ", ".join(
        f"{c.get('name')} (exit {c.get('exit_code')})" for c in failing)


def _unreadable_target(observation: ToolObservation | None) -> str | None:
    if observation is None or observation.status == "ok":
        return None
    return f"the deployment target's state could not be read ({observation.text[:300]})"


def _failed_predeploy(observation: ToolObservation | None) -> str | None:
    if observation is None:
        return None
    data = observation.data or {}
    if observation.status == "ok" and data.get("passed"):
        return None
    if observation.status == "denied":
        return "the pre-deployment checks were not approved"
    step = data.get("failed_step") or "pre-deployment"
    reason = data.get("reason") or observation.text[:300]
    return f"pre-deployment failed at {step}: {reason}"


def _outcome_summary(outcome: dict[str, Any]) -> str:
    status = str(outcome.get("status"))
    lines = [f"Status: {status}. Strategy: {outcome.get('strategy')}. "
             f"Version: {outcome.get('version')} (previous: {outcome.get('previous_version')})."]
    checks = outcome.get("checks") or []
    passed = sum(1 for c in checks if c.get("passed"))
    lines.append(f"Health and smoke checks: {passed} of {len(checks)} passed.")
    analyses = outcome.get("analysis") or []
    if analyses:
        verdicts = ", ".join(str(a.get("outcome")) for a in analyses)
        lines.append(f"Traffic analysis: {verdicts}.")
    if outcome.get("time_to_rollback_s") is not None:
        lines.append(f"Traffic restored {outcome['time_to_rollback_s']:.2f} s after the first "
                     "failed signal.")
    for incident in outcome.get("incidents") or []:
        lines.append(f"Incident: {incident}")
    if status == "deployed":
        lines.append("Next: post-fix monitoring is available as a handoff (not started).")
    return "\n".join(lines)


def _turn(blocks: list[ContentBlock]) -> ModelResponse:
    return tool_use_turn(blocks, RUNBOOK_MODEL_ID)


def _final(text: str) -> ModelResponse:
    return final_turn(text, RUNBOOK_MODEL_ID)
