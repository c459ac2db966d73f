"""The cloud API calls of a run, for the report: one line per ARM or Kudu operation, in order.

A cloud target journals every call that changes something, every call that failed, and the
reads a reviewer needs (the App Service target: `azure_operation` events, see
`tools/deploy/targets/appservice/operations.py`). The report lists them as recorded: which
operation, on which resource and slot, how it ended, and a one-line account of what it
carried. Values were masked when journaled; they are masked again here with the run's own
redactor, so a report never holds more than the journal does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.redaction import Redactor
from handoffs.facts import Record, RunFacts, iso
from handoffs.report_model import CloudOperation

# Journal event types that record one cloud API operation each.
CLOUD_EVENT_TYPES = frozenset({"azure_operation"})
_SLOTS = "/slots/"


def cloud_operations(facts: RunFacts) -> list[CloudOperation]:
    """The run's cloud operations in journal order (empty for targets that record none)."""
    redactor = _redactor(facts)
    found: list[CloudOperation] = []
    for event in facts.events:
        if event.get("type") not in CLOUD_EVENT_TYPES:
            continue
        details = redactor.value(dict(event.get("details") or {}))
        error = event.get("error")
        resource = str(event.get("resource") or "")
        found.append(
            CloudOperation(
                time=iso(event.get("ts")),
                service=str(event.get("service") or ""),
                operation=str(event.get("operation") or ""),
                resource=resource,
                slot=slot_of(resource),
                outcome="error" if event.get("status") == "error" else "ok",
                mutating=bool(event.get("mutating")),
                duration_ms=int(event.get("duration_ms") or 0),
                summary=describe(details),
                error=None if error is None else redactor.text(str(error)),
                details=details,
            )
        )
    return found


def slot_of(resource: str) -> str | None:
    """`staging` for `app/slots/staging`, `production` for `app`, None for nothing."""
    if not resource:
        return None
    return resource.split(_SLOTS, 1)[1] if _SLOTS in resource else "production"


def describe(details: Record) -> str:
    """What an operation carried, in one line (masked values stay masked)."""
    parts: list[str] = []
    rest = dict(details)
    for key, render in _DESCRIBERS:
        if key in rest:
            text = render(rest.pop(key), rest)
            if text:
                parts.append(text)
    parts += [f"{k}={v}" for k, v in rest.items() if isinstance(v, str | int | float | bool)]
    return "; ".join(parts)


def _app_settings(change: Any, _: Record) -> str:
    if not isinstance(change, dict):
        return ""
    c: Record = change  # pyright: ignore[reportUnknownVariableType]
    added: Record = c.get("added") or {}
    changed: Record = c.get("changed") or {}
    removed: list[Any] = c.get("removed") or []
    words = [f"set {k}={v}" for k, v in added.items()]
    words += [f"changed {k}: {v.get('from')} → {v.get('to')}" for k, v in changed.items()]
    words += [f"removed {k}" for k in removed]
    return ", ".join(words) or "app settings unchanged"


def _differences(diffs: Any, _: Record) -> str:
    if not isinstance(diffs, list):
        return ""
    items: list[Record] = [d for d in diffs if isinstance(d, dict)]  # pyright: ignore[reportUnknownVariableType]
    if not items:
        return "no setting differs from production"
    names = [f"{d.get('setting')}{' (sticky)' if d.get('sticky') else ''}" for d in items]
    return f"{len(items)} setting(s) differ from production: {', '.join(names)}"


def _routing(rules: Any, _: Record) -> str:
    if not isinstance(rules, list) or not rules:
        return "routing rule removed (all traffic to production)"
    shares: list[str] = []
    for rule in rules:  # pyright: ignore[reportUnknownVariableType]
        if isinstance(rule, dict):
            r: Record = rule  # pyright: ignore[reportUnknownVariableType]
            shares.append(f"{r.get('reroutePercentage')}% to {r.get('actionHostName')}")
    return "route " + ", ".join(shares)


def _package(name: Any, rest: Record) -> str:
    size = rest.pop("bytes", None)
    status = rest.pop("status", None)
    text = f"package {name}" + (f" ({size} bytes)" if size is not None else "")
    for key in ("sha256", "location", "status_text", "log_url"):
        rest.pop(key, None)  # in `details`; too long for one line
    deployment = rest.pop("id", None)
    if deployment:
        text += f", deployment {deployment}"
    if status is not None:
        text += f", Kudu status {status}"
    return text


def _swap(target: Any, _: Record) -> str:
    return f"swap with {target}"


def _probe(passed: Any, rest: Record) -> str:
    rest.pop("url", None)
    message = rest.pop("message", None)
    return f"{'passed' if passed else 'failed'}{f': {message}' if message else ''}"


_DESCRIBERS: tuple[tuple[str, Callable[[Any, Record], str]], ...] = (
    ("app_settings", _app_settings),
    ("differences", _differences),
    ("rampUpRules", _routing),
    ("package", _package),
    ("target_slot", _swap),
    ("passed", _probe),
)


def _redactor(facts: RunFacts) -> Redactor:
    if facts.config is None:
        return Redactor.from_environment()
    from agent.session import build_redactor  # lazily: the session pulls in the whole runtime

    return build_redactor(facts.config)
