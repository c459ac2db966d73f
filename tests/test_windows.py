"""Change windows and freezes, and how the gate turns a closed window into an explicit override."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from agent.approvers import ApprovalRequest, PolicyFileApprover
from agent.config import GateConfig
from agent.gate import Gate
from agent.journal import Journal, read_journal
from agent.policy import Decision, Policy
from agent.redaction import Redactor
from tools.base import Effect, Tool, ToolArgs, ToolCall, ToolContext, ToolResult
from tools.deploy.windows import (
    ChangeWindowSettings,
    WindowGuard,
    window_guard_from_config,
    window_status,
)

OFFICE_HOURS = {"days": ["mon", "tue", "wed", "thu"], "start": "09:00", "end": "16:00"}
PARIS = ZoneInfo("Europe/Paris")
# 2026-11-18 is a Wednesday.
WEDNESDAY_10_PARIS = datetime(2026, 11, 18, 10, 0, tzinfo=PARIS)
SATURDAY_10_PARIS = datetime(2026, 11, 21, 10, 0, tzinfo=PARIS)


def settings(**values: Any) -> ChangeWindowSettings:
    return ChangeWindowSettings.model_validate(values)


def test_inside_an_allowed_window_is_open() -> None:
    status = window_status(
        settings(allowed=[OFFICE_HOURS]), datetime(2026, 11, 18, 15, 59, tzinfo=UTC)
    )

    assert status.open
    assert "mon,tue,wed,thu 09:00-16:00" in status.reason


def test_outside_every_allowed_window_is_closed_with_the_local_time_in_the_reason() -> None:
    status = window_status(
        settings(allowed=[OFFICE_HOURS]), datetime(2026, 11, 18, 16, 0, tzinfo=UTC)
    )

    assert not status.open
    assert status.reason.startswith(
        "wed 2026-11-18 16:00 UTC is outside the allowed change windows"
    )


def test_windows_are_read_in_the_configured_timezone() -> None:
    paris = settings(allowed=[OFFICE_HOURS], timezone="Europe/Paris")

    # 08:30 UTC is 09:30 in Paris (UTC+1 in November): open there, not in UTC.
    morning = datetime(2026, 11, 18, 8, 30, tzinfo=UTC)
    assert window_status(paris, morning).open
    assert not window_status(settings(allowed=[OFFICE_HOURS]), morning).open
    assert not window_status(paris, SATURDAY_10_PARIS).open


def test_an_overnight_window_belongs_to_the_day_it_starts() -> None:
    night = settings(allowed=[{"days": ["fri"], "start": "22:00", "end": "02:00"}])

    assert window_status(night, datetime(2026, 11, 20, 23, 0, tzinfo=UTC)).open  # Friday
    assert window_status(night, datetime(2026, 11, 21, 1, 59, tzinfo=UTC)).open  # Sat early
    assert not window_status(night, datetime(2026, 11, 21, 2, 0, tzinfo=UTC)).open
    assert not window_status(night, datetime(2026, 11, 19, 23, 0, tzinfo=UTC)).open  # Thursday


def test_a_freeze_closes_the_window_even_inside_allowed_hours() -> None:
    freeze = {"start": "2026-11-16T00:00", "end": "2026-11-23T00:00", "reason": "Black Friday"}
    config = settings(allowed=[OFFICE_HOURS], freezes=[freeze], timezone="Europe/Paris")

    status = window_status(config, WEDNESDAY_10_PARIS)

    assert not status.open
    assert status.reason.startswith(
        "Black Friday (freeze from 2026-11-16 00:00 to 2026-11-23 00:00"
    )
    assert window_status(config, datetime(2026, 11, 24, 10, 0, tzinfo=PARIS)).open


def test_nothing_configured_means_always_open() -> None:
    assert window_status(settings(), SATURDAY_10_PARIS).open
    assert window_guard_from_config(object()) is None


def test_bad_times_and_zones_are_configuration_errors() -> None:
    with pytest.raises(ValidationError, match="HH:MM"):
        settings(allowed=[{"days": ["mon"], "start": "9am", "end": "17:00"}])
    with pytest.raises(ValidationError, match="unknown time zone"):
        settings(timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="end after it starts"):
        settings(freezes=[{"start": "2026-12-02T00:00", "end": "2026-12-01T00:00"}])


def test_the_guard_holds_only_production_calls_and_never_the_rollback() -> None:
    guard = WindowGuard(settings(allowed=[OFFICE_HOURS]), clock=lambda: SATURDAY_10_PARIS)

    assert guard.check(Effect.PRODUCTION, "hotfix_promote") is not None
    assert guard.check(Effect.REMOTE, "hotfix_stage") is None
    assert guard.check(Effect.PRODUCTION, "hotfix_rollback") is None


# -- the gate -------------------------------------------------------------------------------


class _Args(ToolArgs):
    label: str


class Promote(Tool):
    name: ClassVar[str] = "hotfix_promote"
    description: ClassVar[str] = "Promote."
    args_model: ClassVar[type[ToolArgs]] = _Args
    effect: ClassVar[Effect] = Effect.PRODUCTION

    async def run(self, args: Any, ctx: ToolContext) -> ToolResult:
        raise AssertionError("gate tests never run tools")


class Recording:
    name = "recording"

    def __init__(self) -> None:
        self.requests: list[ApprovalRequest] = []

    async def request(self, req: ApprovalRequest) -> Any:
        self.requests.append(req)
        return req.approve(self.name, "once", "looks fine")


CLOSED = WindowGuard(settings(allowed=[OFFICE_HOURS]), clock=lambda: SATURDAY_10_PARIS)
CALL = ToolCall(id="p1", tool="hotfix_promote", args={"label": "v1.4.3"})


def authorize(gate: Gate, call: ToolCall = CALL) -> Any:
    return asyncio.run(gate.authorize(Promote(), call, Effect.PRODUCTION))


def policy_file(tmp_path: Path, override: bool | None) -> Path:
    path = tmp_path / "approvals.toml"
    extra = "" if override is None else f"override_change_window = {str(override).lower()}\n"
    path.write_text(f'approve = ["hotfix_promote"]\n{extra}', encoding="utf-8")
    return path


def test_production_call_outside_the_window_asks_and_names_the_override(tmp_path: Path) -> None:
    approver = Recording()
    with Journal.create(tmp_path, Redactor(), run_id="r1") as journal:
        gate = Gate(Policy(GateConfig()), approver, journal, Redactor(), window_guard=CLOSED)
        result = authorize(gate)

    assert result.allowed
    assert result.verdict.decision is Decision.ASK and result.verdict.rule == "change-window"
    assert result.verdict.reason.startswith("outside the change window: sat 2026-11-21 09:00 UTC")
    assert result.verdict.reason.endswith("; approving overrides the window")
    [request] = approver.requests
    assert request.override is not None and "outside the allowed change windows" in request.override
    [approval] = [e for e in read_journal(journal.path) if e["type"] == "approval"]
    assert "overrides the change window" in approval["reason"]


def test_inside_the_window_the_request_carries_no_override() -> None:
    approver = Recording()
    open_guard = WindowGuard(settings(allowed=[OFFICE_HOURS]), clock=lambda: WEDNESDAY_10_PARIS)
    gate = Gate(Policy(GateConfig()), approver, window_guard=open_guard)

    result = authorize(gate)

    assert result.allowed and result.verdict.rule is None
    assert approver.requests[0].override is None


def test_a_deny_rule_still_denies_outside_the_window() -> None:
    approver = Recording()
    gate = Gate(Policy(GateConfig(deny=["hotfix_promote"])), approver, window_guard=CLOSED)

    result = authorize(gate)

    assert not result.allowed and result.verdict.decision is Decision.DENY
    assert approver.requests == []


def test_a_policy_file_without_override_change_window_denies_outside_the_window(
    tmp_path: Path,
) -> None:
    gate = Gate(
        Policy(GateConfig()), PolicyFileApprover(policy_file(tmp_path, None)), window_guard=CLOSED
    )

    result = authorize(gate)

    assert not result.allowed
    assert "does not set override_change_window = true" in result.reason


def test_a_policy_file_with_override_change_window_approves_and_says_so(tmp_path: Path) -> None:
    gate = Gate(
        Policy(GateConfig()), PolicyFileApprover(policy_file(tmp_path, True)), window_guard=CLOSED
    )

    result = authorize(gate)

    assert result.allowed
    assert "override_change_window = true" in result.reason
    assert "overrides the change window" in result.reason


def test_a_broken_window_guard_holds_the_call_instead_of_waving_it_through(
    tmp_path: Path,
) -> None:
    class Broken:
        def check(self, effect: Effect, tool: str | None = None) -> str | None:
            raise RuntimeError("tzdata missing")

    gate = Gate(
        Policy(GateConfig()),
        PolicyFileApprover(policy_file(tmp_path, False)),
        window_guard=Broken(),
    )

    result = authorize(gate)

    assert not result.allowed
    assert "could not be checked (RuntimeError: tzdata missing)" in result.verdict.reason
