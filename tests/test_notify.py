"""Webhook notifications, against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fakes import MemoryTarget, MemoryVerifier, make_rig

from agent.approvers import ApprovalRequest
from agent.journal import Journal, read_journal
from agent.policy import Decision, Verdict
from agent.redaction import Redactor
from tools.base import Effect, ToolCall
from tools.deploy.engine import DeploymentEngine
from tools.deploy.notify import (
    NotificationSettings,
    Notifier,
    NotifyingApprover,
    notifier_from_config,
    redact_url,
)
from tools.deploy.strategies.rollback import rollback_summary
from tools.deploy.target import VersionSpec

FIX = VersionSpec("v1.4.3", "hotfix/1.4.3")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up on /hang leaves a broken pipe behind; expected here


class Receiver:
    """Records JSON posts. `/fail*` answers 500; `/hang*` holds the request until closed."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, Any]] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver._lock:
                    receiver.posts.append((self.path, body))
                if self.path.startswith("/hang"):
                    receiver.release.wait(20)
                self.send_response(500 if self.path.startswith("/fail") else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def url(self, path: str, userinfo: str = "") -> str:
        return f"http://{userinfo}127.0.0.1:{self.server.server_address[1]}{path}"

    def bodies(self, prefix: str) -> list[Any]:
        with self._lock:
            return [body for path, body in self.posts if path.startswith(prefix)]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def notifier(hooks: list[dict[str, Any]], journal: Journal | None = None, **kw: Any) -> Notifier:
    settings = NotificationSettings.model_validate({"webhooks": hooks, **kw})
    return Notifier(settings, journal=journal, redactor=Redactor(), run_id="run-1")


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def notices(journal: Journal) -> list[str]:
    return [r["message"] for r in read_journal(journal.path) if r["type"] == "notice"]


def test_json_teams_and_slack_webhooks_each_receive_their_format(receiver: Receiver) -> None:
    hooks = [
        {"url": receiver.url("/json"), "format": "json"},
        {"url": receiver.url("/teams"), "format": "teams"},
        {"url": receiver.url("/slack"), "format": "slack"},
    ]

    async def scenario() -> None:
        sender = notifier(hooks)
        sender.send("promoted", {"label": "v1.4.3", "previous": "v1.4.2"})
        await sender.aclose()

    asyncio.run(scenario())

    [generic] = receiver.bodies("/json")
    assert generic["event"] == "promoted" and generic["run_id"] == "run-1"
    assert generic["title"] == "Hotfix v1.4.3: promoted to production"
    assert generic["data"] == {"label": "v1.4.3", "previous": "v1.4.2"}
    [teams] = receiver.bodies("/teams")
    attachment = teams["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["body"][0]["text"] == generic["title"]
    assert {"title": "previous", "value": "v1.4.2"} in card["body"][2]["facts"]
    [slack] = receiver.bodies("/slack")
    assert slack["text"].startswith("Hotfix v1.4.3: promoted to production")
    assert slack["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": generic["title"]},
    }
    assert {"type": "mrkdwn", "text": "*previous*\nv1.4.2"} in slack["blocks"][2]["fields"]


def test_a_webhook_gets_only_the_events_it_asked_for(receiver: Receiver) -> None:
    hooks = [{"url": receiver.url("/ops"), "events": ["rolled_back"]}]

    async def scenario() -> None:
        sender = notifier(hooks)
        sender.send("started", {"label": "v1"})
        sender.send("rolled_back", {"reason": "smoke failed"})
        await sender.aclose()

    asyncio.run(scenario())

    assert [body["event"] for body in receiver.bodies("/ops")] == ["rolled_back"]


def test_secrets_in_a_payload_are_redacted_before_they_are_sent(receiver: Receiver) -> None:
    async def scenario() -> None:
        sender = notifier([{"url": receiver.url("/json")}])
        sender.send("finished", {"summary": "smoke used Authorization: Bearer abcdefghijklmnop"})
        await sender.aclose()

    asyncio.run(scenario())

    [body] = receiver.bodies("/json")
    assert body["text"] == "smoke used Authorization: Bearer [REDACTED]"
    assert "abcdefghijklmnop" not in json.dumps(body)


def test_a_failing_webhook_is_a_journal_notice_with_its_url_stripped_of_credentials(
    receiver: Receiver, tmp_path: Path
) -> None:
    url = receiver.url("/fail/T0001/s3cretpath?token=abc123", userinfo="ops:hunter2@")

    async def scenario(journal: Journal) -> None:
        sender = notifier([{"url": url, "format": "slack"}], journal)
        sender.send("promoted", {"label": "v1.4.3"})
        await sender.aclose()

    with Journal.create(tmp_path, Redactor(), "run-1") as journal:
        asyncio.run(scenario(journal))
        [message] = notices(journal)

    port = receiver.server.server_address[1]
    assert message == (
        f"notification 'promoted' to webhook #1 (http://127.0.0.1:{port}/fail/…) answered HTTP 500"
    )
    assert len(receiver.bodies("/fail")) == 1


def test_a_webhook_url_can_come_from_the_environment(
    receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTFIX_TEST_WEBHOOK", receiver.url("/from-env"))
    hooks = [{"url_env": "HOTFIX_TEST_WEBHOOK"}, {"url_env": "HOTFIX_UNSET_WEBHOOK"}]

    async def scenario(journal: Journal) -> None:
        sender = notifier(hooks, journal)
        sender.send("started", {"label": "v1"})
        await sender.aclose()

    with Journal.create(tmp_path, Redactor(), "run-1") as journal:
        asyncio.run(scenario(journal))
        [message] = notices(journal)

    assert len(receiver.bodies("/from-env")) == 1
    assert "$HOTFIX_UNSET_WEBHOOK" in message and "is not set" in message


def test_the_engine_sends_started_promoted_and_finished_after_a_deployment(
    receiver: Receiver, tmp_path: Path
) -> None:
    rig = make_rig(tmp_path)

    async def scenario() -> None:
        rig.engine.notifier = notifier([{"url": receiver.url("/ops")}])
        await rig.engine.deploy(FIX, "blue-green")
        await rig.engine.notifier.aclose()

    asyncio.run(scenario())

    bodies = receiver.bodies("/ops")
    assert [b["event"] for b in bodies] == ["started", "promoted", "finished"]
    assert bodies[-1]["data"]["status"] == "deployed"


@pytest.mark.slow
def test_a_hanging_webhook_does_not_delay_the_rollback(receiver: Receiver, tmp_path: Path) -> None:
    target = MemoryTarget(clock=time.time)
    target.script("v1.4.3", smoke_via_production=False)
    journal = Journal(tmp_path / "run" / "journal.jsonl", Redactor(), "run-1")
    hang = receiver.url("/hang/T1/secret")

    async def scenario() -> tuple[dict[str, Any], float, int]:
        sender = notifier([{"url": hang}], journal, timeout_s=2.0)
        engine = DeploymentEngine(
            target, journal, verifier=MemoryVerifier(target), clock=time.time, notifier=sender
        )
        await engine.stage(FIX)
        await engine.verify(FIX.label)
        await engine.shift(FIX.label, 100)
        await until(lambda: len(receiver.bodies("/hang")) == 1)  # `started` is stuck in flight
        began = time.perf_counter()
        await engine.verify(FIX.label, where="production")  # fails: rolls back at once
        took = time.perf_counter() - began
        in_flight = sender.pending
        await sender.aclose()
        return rollback_summary(engine), took, in_flight

    summary, took, in_flight = asyncio.run(scenario())

    assert summary["rolled_back"] and target.weights == {"v1.0.0": 100}
    assert summary["time_to_rollback_s"] < 0.25
    assert took < 1.0 and in_flight == 2  # `started` and `rolled_back` were still hanging
    assert [b["event"] for b in receiver.bodies("/hang")] == ["started", "rolled_back"]
    messages = notices(journal)
    port = receiver.server.server_address[1]
    assert messages == [
        f"notification {event!r} to webhook #1 (http://127.0.0.1:{port}/hang/…) "
        "no answer within 2 s"
        for event in ("started", "rolled_back")
    ]
    journal.close()


def test_waiting_for_approval_is_announced_for_production_calls_only(
    receiver: Receiver,
) -> None:
    class Yes:
        name = "yes"

        async def request(self, req: ApprovalRequest) -> Any:
            return req.approve(self.name)

    def request(effect: Effect) -> ApprovalRequest:
        call = ToolCall(id="c1", tool="hotfix_promote", args={"label": "v1.4.3"})
        verdict = Verdict(Decision.ASK, "change-window", "outside the change window")
        summary = 'hotfix_promote(label="v1.4.3")'
        return ApprovalRequest(call, call.tool, effect, verdict, summary, override="sat 10:00")

    async def scenario() -> None:
        sender = notifier([{"url": receiver.url("/ops")}])
        approver = NotifyingApprover(Yes(), sender)
        assert (await approver.request(request(Effect.PRODUCTION))).approved
        await approver.request(request(Effect.LOCAL))
        await sender.aclose()

    asyncio.run(scenario())

    [body] = receiver.bodies("/ops")
    assert body["event"] == "waiting_for_approval"
    assert body["data"]["override"] == "sat 10:00"
    assert body["title"] == "Hotfix: waiting for approval of hotfix_promote"


def test_urls_are_cut_to_host_and_first_segment_and_nothing_configured_means_no_notifier() -> None:
    assert redact_url("https://u:p@hooks.slack.com/services/T1/B2/XYZ?x=1") == (
        "https://hooks.slack.com/services/…"
    )
    assert redact_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert notifier_from_config(object(), None, None) is None


@pytest.mark.slow
def test_closing_sends_what_a_dead_webhook_still_has_queued_within_two_timeouts(
    receiver: Receiver, tmp_path: Path
) -> None:
    journal = Journal(tmp_path / "run" / "journal.jsonl", Redactor(), "run-1")

    async def scenario() -> float:
        sender = notifier([{"url": receiver.url("/hang/dead")}], journal, timeout_s=1.0)
        for event in ("started", "waiting_for_approval", "promoted", "finished"):
            sender.send(event, {"label": "v1.4.3"})
        await until(lambda: len(receiver.bodies("/hang")) == 1)  # the first one hangs
        began = time.perf_counter()
        await sender.aclose()
        return time.perf_counter() - began

    took = asyncio.run(scenario())
    journal.close()

    # Chained one after another, four dead deliveries would hold the exit for ~4 s; the
    # queue is released after one timeout, so the last ones go out together (~2 s).
    assert took < 3.2
    assert sorted(b["event"] for b in receiver.bodies("/hang")) == [
        "finished", "promoted", "started", "waiting_for_approval",
    ]
    assert len([m for m in notices(journal) if "no answer within 1 s" in m]) == 4
