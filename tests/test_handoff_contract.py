"""The handoff packet: versioned, schema'd, built from the journal, offered and never sent."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from report_runs import deployed_run, rolled_back_run
from rich.console import Console

from agent.definitions import Handoff
from agent.session import RunResult
from handoffs.contract import (
    SCHEMA_PATH,
    HandoffPacket,
    handoff_schema,
    load_handoff,
    packet_from_text,
    packet_message,
)
from handoffs.offer import auto_send, handoff_suggestion, offer_handoff, offers_for
from handoffs.report import write_outputs


def _result(run_dir: Path) -> RunResult:
    offered = Handoff(label="Monitor Post-Fix", agent="post-fix-monitoring", prompt="Watch it.")
    return RunResult(
        run_id=run_dir.name, run_dir=run_dir, status="completed", stop_reason="completed",
        final_text="", detail="", turns=1, tool_calls=1, model="scripted", usage={},
        notices=[], handoffs=[offered],
    )  # fmt: skip


def test_handoff_schema_file_is_in_sync_with_the_model() -> None:
    assert json.loads(SCHEMA_PATH.read_text()) == handoff_schema()
    assert handoff_schema()["properties"]["handoff_version"]["const"] == 1


def test_handoff_json_validates_and_round_trips_through_the_model(tmp_path: Path) -> None:
    run = deployed_run(tmp_path)
    path = write_outputs(run.run_dir).handoff
    assert path is not None

    packet = load_handoff(path)

    assert json.loads(packet.model_dump_json()) == json.loads(path.read_text())
    assert packet.run_id == "run-1" and packet.service == "shop"
    assert (packet.version, packet.previous_version, packet.previous_ref) == (
        "v1.4.3", "v1.0.0", "v1.0.0")  # fmt: skip
    assert packet.strategy == "blue-green" and packet.status == "deployed"
    assert packet.timestamps.promoted is not None
    assert packet.baseline is not None and packet.baseline.label == "v1.4.3"
    assert packet.baseline.source == "bake:v1.4.3" and packet.baseline.requests > 0
    assert packet.monitoring.thresholds.max_error_rate == 0.02
    assert packet.rollback.state == "redeploy"
    assert packet.health and packet.smoke
    assert packet.next_agent.agent == "post-fix-monitoring" and packet.next_agent.send is False
    assert "v1.4.3" in packet.suggested_prompt and "only with approval" in packet.suggested_prompt


def test_contract_rejects_unknown_fields_and_other_versions(tmp_path: Path) -> None:
    run = deployed_run(tmp_path)
    path = write_outputs(run.run_dir).handoff
    assert path is not None
    data = json.loads(path.read_text())

    with pytest.raises(ValidationError):
        HandoffPacket.model_validate({**data, "surprise": 1})
    with pytest.raises(ValidationError):
        HandoffPacket.model_validate({**data, "handoff_version": 2})


def test_a_rolled_back_run_hands_over_an_open_incident_and_nothing_to_roll_back(
    tmp_path: Path,
) -> None:
    run = rolled_back_run(tmp_path)
    path = write_outputs(run.run_dir).handoff
    assert path is not None

    packet = load_handoff(path)

    assert packet.status == "rolled_back" and packet.watched_version == "v1.0.0"
    assert packet.rollback.state == "done" and packet.rollback.operations == []
    assert packet.open_incidents[0].kind == "fix not deployed"


def test_packet_survives_the_trip_through_a_monitoring_request(tmp_path: Path) -> None:
    run = deployed_run(tmp_path)
    path = write_outputs(run.run_dir).handoff
    assert path is not None
    packet = load_handoff(path)

    message = packet_message(packet)

    assert message.startswith(packet.suggested_prompt)
    assert packet_from_text(message) == packet
    assert packet_from_text("no packet here") is None


def test_terminal_offer_starts_nothing_without_an_explicit_yes(tmp_path: Path) -> None:
    run = deployed_run(tmp_path)
    write_outputs(run.run_dir)
    out = io.StringIO()
    console = Console(file=out, width=200)

    unattended = offer_handoff(console, _result(run.run_dir), interactive=False)
    default_no = offer_handoff(
        console, _result(run.run_dir), interactive=True, stream=io.StringIO("\n")
    )
    said_yes = offer_handoff(
        console, _result(run.run_dir), interactive=True, stream=io.StringIO("y\n")
    )

    assert (unattended, default_no, said_yes) == (False, False, True)
    text = out.getvalue()
    assert "Handoff available: Monitor Post-Fix → post-fix-monitoring" in text
    assert f"hotfix monitor run-1 --workspace {run.workspace}" in text
    assert offers_for(_result(run.run_dir))[0].prompt == load_handoff(
        run.run_dir / "handoff.json").suggested_prompt  # fmt: skip


def test_mcp_suggestion_prefills_the_prompt_and_only_evals_may_auto_send(tmp_path: Path) -> None:
    run = deployed_run(tmp_path)
    write_outputs(run.run_dir)

    suggestion = handoff_suggestion(run.run_dir)

    assert suggestion is not None
    assert suggestion["send"] is False and suggestion["agent"] == "post-fix-monitoring"
    assert suggestion["prompt"] == load_handoff(run.run_dir / "handoff.json").suggested_prompt
    assert auto_send(suggestion, enabled=False) is False
    assert auto_send(suggestion, enabled=True) is True
