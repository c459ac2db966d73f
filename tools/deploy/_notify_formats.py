"""Webhook bodies for one deployment event: generic JSON, a Teams Adaptive Card, Slack blocks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

_MAX_FACTS = 10  # Slack allows at most 10 fields in a section
_MAX_VALUE = 300
_COLOURS = {"promoted": "good", "rolled_back": "attention", "waiting_for_approval": "warning"}


@dataclass(frozen=True)
class Message:
    """One event with its (already redacted) data."""

    event: str
    data: dict[str, Any]
    run_id: str | None
    service: str | None
    ts: str

    def title(self) -> str:
        subject = f"{self.service} hotfix" if self.service else "Hotfix"
        label = self.data.get("label") or self.data.get("version")
        named = f"{subject} {label}" if label else subject
        if self.event == "started":
            return f"{named}: deployment started"
        if self.event == "waiting_for_approval":
            return f"{subject}: waiting for approval of {self.data.get('tool', 'a call')}"
        if self.event == "promoted":
            return f"{named}: promoted to production"
        if self.event == "rolled_back":
            healthy = self.data.get("verified")
            tail = "" if healthy is not False else " — production is NOT healthy"
            return f"{subject}: production rolled back{tail}"
        status = self.data.get("status")
        return f"{named}: deployment finished" + (f" ({status})" if status else "")

    def text(self) -> str:
        for key in ("summary", "reason", "call"):
            value = self.data.get(key)
            if value:
                return str(value)
        return self.title()

    def facts(self) -> list[tuple[str, str]]:
        """Short key/value pairs worth showing (scalars first, then compact JSON)."""
        pairs: list[tuple[str, str]] = []
        if self.run_id:
            pairs.append(("run", self.run_id))
        for key, value in self.data.items():
            if value is None or value == "" or key in ("summary",):
                continue
            shown = value if isinstance(value, str) else json.dumps(value, default=str)
            if len(shown) > _MAX_VALUE:
                shown = shown[: _MAX_VALUE - 1] + "…"
            pairs.append((key, shown))
        return pairs[:_MAX_FACTS]


def render(fmt: str, message: Message) -> dict[str, Any]:
    """The JSON body for a webhook of format `fmt` (`json`, `teams` or `slack`)."""
    if fmt == "teams":
        return _teams(message)
    if fmt == "slack":
        return _slack(message)
    return {
        "event": message.event,
        "title": message.title(),
        "text": message.text(),
        "run_id": message.run_id,
        "service": message.service,
        "ts": message.ts,
        "data": message.data,
    }


def _teams(message: Message) -> dict[str, Any]:
    # The message-with-attachment shape that Teams workflows ("post to a channel when a
    # webhook request is received") accept; the legacy Office 365 connectors are retired.
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": message.title(),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "color": _COLOURS.get(message.event, "default"),
        },
        {"type": "TextBlock", "text": message.text(), "wrap": True},
        {
            "type": "FactSet",
            "facts": [{"title": k, "value": v} for k, v in message.facts()],
        },
    ]
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    return {
        "type": "message",
        "summary": message.title(),
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def _slack(message: Message) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message.title()[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(message.text())}},
    ]
    facts = message.facts()
    if facts:
        fields = [{"type": "mrkdwn", "text": f"*{k}*\n{_slack_escape(v)}"} for k, v in facts]
        blocks.append({"type": "section", "fields": fields})
    # `text` is the notification fallback shown where blocks are not rendered.
    return {"text": f"{message.title()}: {message.text()}", "blocks": blocks}


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
