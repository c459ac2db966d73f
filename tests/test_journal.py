from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agent.journal import Journal, JournalBusy, Notice, RunFinished, StepEvent, read_journal
from agent.redaction import Redactor


def test_events_are_appended_with_sequence_numbers_and_schema_version(tmp_path: Path) -> None:
    with Journal.create(tmp_path, Redactor()) as journal:
        journal.write(Notice(message="first"))
        journal.write(StepEvent(step_id="stage:v2", kind="stage", phase="started"))
        journal.write(RunFinished(status="completed", stop_reason="completed", turns=1,
                                  tool_calls=0))
    events = read_journal(journal.path)
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert {e["v"] for e in events} == {1}
    assert [e["type"] for e in events] == ["notice", "step", "run_finished"]
    assert journal.path == tmp_path / ".hotfix" / "runs" / journal.run_id / "journal.jsonl"


def test_a_torn_last_line_is_skipped_and_cut_before_the_next_append(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path, Redactor())
    journal.write(Notice(message="complete"))
    journal.close()
    with journal.path.open("ab") as handle:
        handle.write(b'{"v":1,"seq":2,"type":"notice","mess')  # a crash mid-write
    assert [e["message"] for e in read_journal(journal.path)] == ["complete"]

    reopened = Journal(journal.path, Redactor(), journal.run_id)
    reopened.write(Notice(message="after restart"))
    reopened.close()
    events = read_journal(journal.path)
    assert [e["message"] for e in events] == ["complete", "after restart"]
    assert [e["seq"] for e in events] == [1, 2]


def test_secrets_are_redacted_before_they_reach_the_file(tmp_path: Path) -> None:
    redactor = Redactor(["canary-Zq81-secret-value"])
    with Journal.create(tmp_path, redactor) as journal:
        journal.write(Notice(message="token is canary-Zq81-secret-value"))
        journal.write(StepEvent(step_id="cfg", kind="config", phase="finished",
                                details={"DB_PASSWORD": "pw-not-in-env", "region": "westeurope"}))
    raw = journal.path.read_text()
    assert "canary-Zq81-secret-value" not in raw
    assert "pw-not-in-env" not in raw
    details = json.loads(raw.splitlines()[1])["details"]
    assert details == {"DB_PASSWORD": "[REDACTED]", "region": "westeurope"}


def test_journal_file_is_private_to_the_user(tmp_path: Path) -> None:
    with Journal.create(tmp_path, Redactor()) as journal:
        journal.write(Notice(message="x"))
    assert os.stat(journal.path).st_mode & 0o077 == 0


def test_one_writer_at_a_time_and_a_torn_tail_is_left_alone_while_another_writes(
    tmp_path: Path,
) -> None:
    first = Journal.create(tmp_path, Redactor(), "run-1")
    first.write(Notice(message="mine"))
    with first.path.open("ab") as handle:
        handle.write(b'{"v":1,"seq":2,"type":"notice","mess')  # the writer is mid-line

    busy = f"run run-1 is still being driven by process {os.getpid()}"
    with pytest.raises(JournalBusy, match=busy):
        Journal(first.path, Redactor(), "run-1")
    assert first.path.read_bytes().endswith(b'"mess')  # the refused opener cut nothing

    first.close()
    second = Journal(first.path, Redactor(), "run-1")  # free again: it takes over
    second.write(Notice(message="next"))
    second.close()
    assert [e["message"] for e in read_journal(first.path)] == ["mine", "next"]
