"""Deployment notifications: webhooks told when a hotfix starts, waits, ships or rolls back.

`[deploy.notifications]` lists webhooks, each with a body format (`json`, `teams` for an
Adaptive Card that Teams workflows accept, `slack` for Slack's `text` + `blocks`) and the
events it wants. `Notifier.send` never waits for a webhook: it starts an asyncio task and
returns, so a slow or broken receiver cannot hold up a deployment step, least of all a
rollback. Each delivery is bounded by `timeout_s`; a failure becomes a `Notice` warning in the
journal, with the URL cut down to scheme, host and first path segment (webhook URLs carry
their secret in the path).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.journal import Journal, Notice
from agent.redaction import Redactor
from tools.base import Effect
from tools.deploy._notify_formats import Message, render

if TYPE_CHECKING:
    import httpx2

    # Types only: agent.approvers imports agent.config, which imports this module's settings.
    from agent.approvers import Approval, ApprovalRequest, Approver

EVENTS = ("started", "waiting_for_approval", "promoted", "rolled_back", "finished")
WebhookFormat = Literal["json", "teams", "slack"]
_log = logging.getLogger(__name__)


class Webhook(BaseModel):
    """One receiver: its URL (or the environment variable holding it), format and events."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    # Keeps the secret URL out of hotfix.toml: read from this environment variable.
    url_env: str | None = None
    format: WebhookFormat = "json"
    events: list[str] = Field(default_factory=lambda: list(EVENTS))

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("a webhook URL must start with https:// (or http://)")
        return value

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(EVENTS))
        if unknown:
            raise ValueError(f"unknown event(s) {', '.join(unknown)}; known: {', '.join(EVENTS)}")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Webhook:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("set exactly one of 'url' and 'url_env'")
        return self

    def resolved_url(self) -> str:
        """The URL to post to; raises ValueError when `url_env` is unset."""
        if self.url is not None:
            return self.url
        value = os.environ.get(self.url_env or "", "")
        if not value:
            raise ValueError(f"environment variable {self.url_env} is not set")
        return value

    def shown(self) -> str:
        """A printable name: the URL without credentials, path tail or query."""
        if self.url is None:
            return f"${self.url_env}"
        return redact_url(self.url)


class NotificationSettings(BaseModel):
    """The `[deploy.notifications]` section."""

    model_config = ConfigDict(extra="forbid")

    webhooks: list[Webhook] = Field(default_factory=list[Webhook])
    timeout_s: float = Field(default=3.0, gt=0, le=60)


class NotificationSink(Protocol):
    """Anything that takes deployment events without blocking (a `Notifier`)."""

    def send(self, event: str, payload: Mapping[str, Any]) -> None: ...


def redact_url(url: str) -> str:
    """`https://user:pw@host/services/T1/B2/secret?x=1` -> `https://host/services/…`."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    segments = [s for s in parts.path.split("/") if s]
    path = f"/{segments[0]}" if segments else ""
    more = "/…" if len(segments) > 1 or parts.query else ""
    return f"{parts.scheme}://{host}{path}{more}"


class Notifier:
    """Sends deployment events to the configured webhooks, fire-and-forget.

    Args:
        settings: The webhooks and the per-delivery time limit.
        journal: Where failed deliveries are recorded (None: the log only).
        redactor: Masks secrets in payloads before they leave the process.
        run_id: Included in every message.
        service: Name of the deployed service, for message titles.
    """

    def __init__(
        self,
        settings: NotificationSettings,
        *,
        journal: Journal | None = None,
        redactor: Redactor | None = None,
        run_id: str | None = None,
        service: str | None = None,
    ) -> None:
        self.settings = settings
        self.journal = journal
        self.redactor = redactor or Redactor()
        self.run_id = run_id or (journal.run_id if journal else None)
        self.service = service
        self._tasks: set[asyncio.Task[None]] = set()
        # The newest delivery per webhook: the next one waits for it, so a channel receives
        # events in the order they happened (the sender itself never waits).
        self._last: dict[int, asyncio.Task[None]] = {}
        # Set by aclose: queued deliveries stop waiting for their predecessors.
        self._closing = asyncio.Event()
        # Built now, not on the first event: importing httpx2 and loading CA certificates
        # blocks the event loop, which must not happen in the middle of a rollback.
        self._client: httpx2.AsyncClient | None = None
        if settings.webhooks:
            import httpx2

            self._client = httpx2.AsyncClient(follow_redirects=False)

    @property
    def pending(self) -> int:
        """Deliveries still in flight."""
        return len(self._tasks)

    def send(self, event: str, payload: Mapping[str, Any]) -> None:
        """Queue `event` to every webhook that wants it and return at once."""
        hooks = [(i, h) for i, h in enumerate(self.settings.webhooks) if event in h.events]
        if not hooks:
            return
        try:
            loop = asyncio.get_running_loop()
            data: dict[str, Any] = self.redactor.value(dict(payload))
            message = Message(event, data, self.run_id, self.service, datetime.now(UTC).isoformat())
            for index, hook in hooks:
                body = render(hook.format, message)
                previous = self._last.get(index)
                task = loop.create_task(self._deliver_after(previous, index, hook, event, body))
                self._last[index] = task
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except Exception as exc:  # a notification must never break the step that sent it
            self._failed(None, event, f"not sent: {type(exc).__name__}: {exc}")

    async def drain(self) -> None:
        """Wait for deliveries in flight; each ends within `timeout_s`."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def aclose(self) -> None:
        """Send what is queued at once, wait (each delivery is bounded), release the client.

        Deliveries to one webhook are chained so a channel sees events in order. A dead
        webhook would then hold the exit for events x timeout, so after one `timeout_s` the
        rest of its queue goes out at once: the exit waits at most about two timeouts.
        """
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.settings.timeout_s)
        self._closing.set()
        await self.drain()
        if self._client is not None:
            await self._client.aclose()

    async def _deliver_after(self, previous: asyncio.Task[None] | None, index: int,
                             hook: Webhook, event: str, body: Any) -> None:
        if previous is not None and not self._closing.is_set():
            # `_deliver` handles its own failures; each wait is bounded by the timeout.
            closing = asyncio.ensure_future(self._closing.wait())
            await asyncio.wait({previous, closing}, return_when=asyncio.FIRST_COMPLETED)
            closing.cancel()
        await self._deliver(index, hook, event, body)

    async def _deliver(self, index: int, hook: Webhook, event: str, body: Any) -> None:
        assert self._client is not None
        try:
            url = hook.resolved_url()
            async with asyncio.timeout(self.settings.timeout_s):
                response = await self._client.post(url, json=body)
            if not 200 <= response.status_code < 300:
                self._failed((index, hook), event, f"answered HTTP {response.status_code}")
        except TimeoutError:
            self._failed((index, hook), event, f"no answer within {self.settings.timeout_s:g} s")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            detail = str(exc)
            if hook.url:
                detail = detail.replace(hook.url, hook.shown())
            self._failed((index, hook), event, f"failed: {type(exc).__name__}: {detail}")

    def _failed(self, hook: tuple[int, Webhook] | None, event: str, what: str) -> None:
        where = "" if hook is None else f" to webhook #{hook[0] + 1} ({hook[1].shown()})"
        self._warn(f"notification {event!r}{where} {what}")

    def _warn(self, text: str) -> None:
        message = self.redactor.text(text)
        if self.journal is None:
            _log.warning("%s", message)
            return
        try:
            self.journal.write(Notice(level="warning", message=message))
        except (OSError, ValueError):  # the run (and its journal) may have ended meanwhile
            _log.warning("could not journal: %s", message)


class NotifyingApprover:
    """Wraps an approver to send `waiting_for_approval` before it is asked.

    Only calls with one of `effects` (by default remote and production changes) are
    announced; the answer is still the wrapped approver's alone.
    """

    def __init__(
        self,
        inner: Approver,
        sink: NotificationSink,
        effects: frozenset[Effect] = frozenset({Effect.REMOTE, Effect.PRODUCTION}),
    ) -> None:
        self.inner = inner
        self.sink = sink
        self.effects = effects

    @property
    def name(self) -> str:
        return self.inner.name

    async def request(self, req: ApprovalRequest) -> Approval:
        if req.effect in self.effects:
            self.sink.send(
                "waiting_for_approval",
                {
                    "tool": req.tool_name,
                    "call": req.summary,
                    "effect": req.effect.value,
                    "why": req.verdict.reason,
                    "override": req.override,
                    "approver": self.inner.name,
                },
            )
        return await self.inner.request(req)


def notifier_from_config(
    config: object,
    journal: Journal | None,
    redactor: Redactor | None,
    service: str | None = None,
) -> Notifier | None:
    """A notifier from `config.deploy.notifications`; None when no webhook is configured."""
    raw = getattr(getattr(config, "deploy", None), "notifications", None)
    if raw is None:
        return None
    settings = (
        raw if isinstance(raw, NotificationSettings) else NotificationSettings.model_validate(raw)
    )
    if not settings.webhooks:
        return None
    return Notifier(settings, journal=journal, redactor=redactor, service=service)
