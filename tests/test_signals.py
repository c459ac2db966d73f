"""Ctrl-C (SIGINT) and SIGTERM during `hotfix run` / `hotfix demo` stop the run gracefully.

The command stops the loop, settles production (rolls back a candidate that has traffic,
removes one that never had any), journals what it did, prints it and exits 130 (SIGINT) or
143 (SIGTERM). A second signal while it settles does not abandon production half-way.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from crash_matrix import Production

from agent.journal import read_journal
from tools.deploy.steps import EngineState
from tools.deploy.targets.local import environment_status, shutdown_environment

HOTFIX = str(Path(sys.executable).parent / "hotfix")
Record = dict[str, Any]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    """The demo shop in production (v1.4.2), with a bake long enough to interrupt."""
    root = tmp_path_factory.mktemp("signals")
    shop = Production(root, broken_fix=False, port=_free_port(), bake_s=30)
    try:
        yield shop
    finally:
        shop.shutdown()


@pytest.fixture
def prod(production: Production) -> Production:
    """The shared production, back on v1.4.2 alone (each test's run has its own journal)."""
    production.reset()
    return production


def _step(step_id_prefix: str, phase: str) -> Callable[[Record], bool]:
    def matches(record: Record) -> bool:
        return (
            record.get("type") == "step"
            and str(record["step_id"]).startswith(step_id_prefix)
            and record["phase"] == phase
        )

    return matches


def _run_started(record: Record) -> bool:
    return record.get("type") == "run_started"


def _journals(workspace: Path) -> set[Path]:
    return set((workspace / ".hotfix" / "runs").glob("*/journal.jsonl"))


def _new_records(workspace: Path, earlier: set[Path], journal: Path | None, before: int
                 ) -> tuple[Path | None, list[Record]]:  # fmt: skip
    """The records written since the command started: to `journal`, or to a new run's."""
    if journal is not None:
        return journal, read_journal(journal)[before:]
    for path in _journals(workspace) - earlier:
        return path, read_journal(path)
    return None, []


def _signalled(
    workspace: Path,
    args: list[str],
    *signals: tuple[Callable[[Record], bool], int],
    journal: Path | None = None,
) -> tuple[int, Record, str, Path]:
    """`hotfix ARGS --json` on `workspace`, sent each signal once a record it waits for is new
    in `journal` (default: the journal of the run the command starts).

    Returns the exit status, the JSON document printed ({} if none), stderr and the journal.
    """
    earlier = _journals(workspace)
    before = len(read_journal(journal)) if journal is not None else 0
    proc = subprocess.Popen([HOTFIX, *args, "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        for seen, sig in signals:
            deadline = time.monotonic() + 60
            while True:
                journal, records = _new_records(workspace, earlier, journal, before)
                if any(seen(record) for record in records):
                    break
                assert proc.poll() is None and time.monotonic() < deadline, (
                    f"the command never got there (exit {proc.poll()})"
                )
                time.sleep(0.01)
            proc.send_signal(sig)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert journal is not None
    return proc.returncode, json.loads(out) if out.strip() else {}, err, journal


def _settling(record: Record) -> bool:
    return "stopping safely" in str(record.get("message"))


def _interrupt(
    prod: Production, *signals: tuple[Callable[[Record], bool], int]
) -> tuple[int, Record, str, list[Record]]:
    """`hotfix run --json`, sent each signal once its journal shows a record it waits for."""
    code, doc, err, journal = _signalled(prod.workspace, _run_args(prod), *signals)
    return code, doc, err, read_journal(journal)


def _run_args(prod: Production) -> list[str]:
    return ["run", prod.description, "--model", "runbook", *_on(prod)]


def _on(prod: Production) -> list[str]:
    return ["--workspace", str(prod.workspace), "--approve", f"policy:{prod.policy}"]


def _assert_settled(records: list[Record]) -> None:
    state = EngineState()
    for record in records:
        state.apply(record)
    assert not state.in_flight  # every step the signal cut short is recorded as ended
    assert records[-1]["type"] == "run_finished" and records[-1]["status"] == "cancelled"


@pytest.mark.slow
def test_ctrl_c_during_the_bake_rolls_production_back_and_exits_130(prod: Production) -> None:
    code, doc, err, records = _interrupt(prod, (_step("bake:", "started"), signal.SIGINT))

    assert code == 130 and doc["interrupted"] == "SIGINT" and doc["exit_code"] == 130, err[-3000:]
    assert "rolled back to v1.4.2" in doc["settled"], (doc, err[-3000:])
    assert "health verified" in doc["settled"], (doc, err[-3000:])
    assert "SIGINT received: stopping the run and settling production" in err
    assert prod.client.state()["weights"] == {"v1.4.2": 100}
    assert prod.answer() == (200, {"status": "ok", "version": "1.4.2", "flags": {}})
    ended = {(r["step_id"], r["phase"]) for r in records if r.get("type") == "step"}
    assert {("rollback:1", "finished"), ("rollback-verify:1", "finished")} <= ended
    assert ("retire:v1.4.3", "finished") in ended  # the candidate is gone, not just idle
    assert any("interrupted: SIGINT received" in r.get("message", "") for r in records)
    _assert_settled(records)
    assert Path(doc["report"]).exists()


@pytest.mark.slow
def test_a_second_ctrl_c_while_settling_does_not_abandon_the_rollback(prod: Production) -> None:
    code, doc, err, records = _interrupt(
        prod, (_step("bake:", "started"), signal.SIGINT), (_settling, signal.SIGINT)
    )

    assert code == 130, err[-3000:]
    assert "already stopping" in err, err[-3000:]
    assert "rolled back to v1.4.2" in doc["settled"], (doc, err[-3000:])
    assert prod.client.state()["weights"] == {"v1.4.2": 100}
    verified = [r for r in records if r.get("step_id") == "rollback-verify:1"]
    assert verified[-1]["phase"] == "finished" and verified[-1]["details"]["passed"] is True
    _assert_settled(records)


@pytest.mark.slow
def test_sigterm_during_the_traffic_shift_settles_and_exits_143(prod: Production) -> None:
    code, doc, err, records = _interrupt(prod, (_step("shift:", "started"), signal.SIGTERM))

    assert code == 143 and doc["interrupted"] == "SIGTERM"
    assert "SIGTERM received" in err
    assert "rolled back to v1.4.2" in doc["settled"]
    state = prod.client.state()
    assert state["weights"] == {"v1.4.2": 100} and set(state["versions"]) == {"v1.4.2"}
    _assert_settled(records)


@pytest.mark.slow
def test_sigterm_after_staging_removes_the_candidate_that_never_had_traffic(
    prod: Production,
) -> None:
    code, doc, _err, records = _interrupt(prod, (_step("stage:", "finished"), signal.SIGTERM))

    assert code == 143
    # Caught between steps or during the verification: either way no traffic ever moved.
    assert "which never had traffic; production unchanged" in doc["settled"]
    state = prod.client.state()
    assert state["weights"] == {"v1.4.2": 100} and set(state["versions"]) == {"v1.4.2"}
    assert not any(r.get("kind") in ("shift", "rollback") for r in records)
    _assert_settled(records)


@pytest.mark.slow
def test_ctrl_c_before_any_deployment_step_changes_nothing(prod: Production) -> None:
    ops_before = prod.operation_seq()

    code, doc, _err, records = _interrupt(prod, (_run_started, signal.SIGINT))

    assert code == 130
    assert "production was not changed" in doc["settled"]
    assert prod.client.operations(ops_before)["operations"] == []
    assert not any(r.get("kind") in ("deploy", "stage", "shift") for r in records)
    _assert_settled(records)


@pytest.mark.slow
def test_sigterm_during_the_demo_rolls_back_before_the_environment_stops(tmp_path: Path) -> None:
    workspace = tmp_path / "shop"
    try:
        code, doc, _err, journal = _signalled(
            workspace, ["demo", "--dir", str(workspace), "--port", str(_free_port())],
            (_step("shift:", "finished"), signal.SIGTERM),
        )  # fmt: skip
    finally:
        shutdown_environment(workspace / ".hotfix" / "local")

    assert code == 143
    assert doc["interrupted"] == "SIGTERM" and "rolled back to v1.4.2" in doc["settled"]
    records = read_journal(journal)
    assert ("rollback:1", "finished") in {
        (r["step_id"], r["phase"]) for r in records if r.get("type") == "step"
    }
    _assert_settled(records)
    assert environment_status(workspace / ".hotfix" / "local") is None  # then it was stopped


def _killed_mid_bake(prod: Production) -> str:
    """The id of a `hotfix run` killed -9 once its bake started (traffic on the candidate)."""
    _code, _doc, _err, journal = _signalled(
        prod.workspace, _run_args(prod), (_step("bake:", "started"), signal.SIGKILL)
    )
    return journal.parent.name


def _recover(
    prod: Production, command: str, run_id: str, *signals: tuple[Callable[[Record], bool], int]
) -> tuple[int, Record, str, list[Record]]:
    """`hotfix <command> RUN --json`, sent each signal once a record it waits for is new."""
    journal = prod.workspace / ".hotfix" / "runs" / run_id / "journal.jsonl"
    code, doc, err, _ = _signalled(
        prod.workspace, [command, run_id, *_on(prod)], *signals, journal=journal
    )
    return code, doc, err, read_journal(journal)


def _picked_up(record: Record) -> bool:
    return "picked this run up" in str(record.get("message"))


@pytest.mark.slow
def test_ctrl_c_never_cuts_hotfix_rollback_short(prod: Production) -> None:
    run_id = _killed_mid_bake(prod)

    code, doc, err, records = _recover(
        prod, "rollback", run_id,
        # Both at once, as soon as it picked the run up: well before the rollback can end.
        (_picked_up, signal.SIGINT), (_picked_up, signal.SIGTERM),
    )  # fmt: skip

    assert code == 0, err[-3000:]
    assert doc["status"] == "rolled_back" and doc["production"]["healthy"] is True
    assert err.count("production is being rolled back — it finishes first, please wait") == 2
    assert prod.client.state()["weights"] == {"v1.4.2": 100}
    ended = {(r["step_id"], r["phase"]) for r in records if r.get("type") == "step"}
    assert {("rollback:1", "finished"), ("rollback-verify:1", "finished")} <= ended


@pytest.mark.slow
def test_ctrl_c_during_hotfix_resume_stops_it_like_a_run_and_settles_production(
    prod: Production,
) -> None:
    run_id = _killed_mid_bake(prod)

    code, doc, err, records = _recover(
        prod, "resume", run_id, (_step("bake:", "started"), signal.SIGINT)
    )

    assert code == 130 and doc["interrupted"] == "SIGINT", err[-3000:]
    assert doc["run_id"] == run_id
    assert "rolled back to v1.4.2" in doc["settled"], (doc, err[-3000:])
    assert prod.client.state()["weights"] == {"v1.4.2": 100}
    _assert_settled(records)
