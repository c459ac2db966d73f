"""The record of every Azure operation the target performs, for the journal and report.

Each ARM or Kudu call becomes one `AzureOperation` journal event (when a journal is
attached) and one entry in `OperationLog.entries`. App settings and slot differences are
recorded with secret values masked here, before the journal's own redactor sees them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import Field

from agent.journal import Event, Journal
from agent.redaction import MASK, Redactor, is_secret_name

Service = Literal["arm", "kudu", "probe"]
EVENT_TYPE = "azure_operation"


class AzureOperation(Event):
    """One call to ARM or Kudu (or a check the target makes itself): what, where, how it ended."""

    type: Literal["azure_operation"] = "azure_operation"
    service: Service
    operation: str
    resource: str
    status: Literal["ok", "error"]
    mutating: bool
    duration_ms: int = 0
    details: dict[str, Any] = Field(default_factory=dict[str, Any])
    error: str | None = None


class OperationLog:
    """Collects `AzureOperation`s in memory and writes each to the run's journal, if any."""

    def __init__(self, journal: Journal | None = None, redactor: Redactor | None = None) -> None:
        self.journal = journal
        self.redactor = redactor or Redactor()
        self.entries: list[dict[str, Any]] = []

    def record(
        self,
        service: Service,
        operation: str,
        resource: str,
        *,
        mutating: bool,
        started: float,
        details: Mapping[str, Any] | None = None,
        error: str | None = None,
        journal: bool | None = None,
    ) -> None:
        """Add one finished (or failed) operation; `started` is its `time.monotonic()`.

        Changes and failures always reach the journal; reads only with `journal=True`
        (`state()` reads ARM on every engine step, which would drown the journal).
        """
        event = AzureOperation(
            service=service,
            operation=operation,
            resource=resource,
            status="error" if error else "ok",
            mutating=mutating,
            duration_ms=int((time.monotonic() - started) * 1000),
            details=self.redactor.value(dict(details or {})),
            error=None if error is None else self.redactor.text(error),
        )
        entry = event.model_dump(mode="json")
        self.entries.append(entry)
        if journal is None:
            journal = mutating or error is not None
        if journal and self.journal is not None:
            self.journal.write(event)

    def mutations(self) -> list[str]:
        """`service:operation` of every successful change, in order."""
        return [
            f"{e['service']}:{e['operation']}"
            for e in self.entries
            if e["mutating"] and e["status"] == "ok"
        ]


def redact_setting(name: str, value: str, redactor: Redactor) -> str:
    """A setting's value as it may be recorded: masked whole when its name says secret."""
    return MASK if is_secret_name(name) else redactor.text(value)


def settings_change(
    before: Mapping[str, str], after: Mapping[str, str], redactor: Redactor
) -> dict[str, Any]:
    """What an app-settings update changes: added, changed (old → new) and removed names."""
    added = {k: redact_setting(k, v, redactor) for k, v in after.items() if k not in before}
    changed = {
        k: {"from": redact_setting(k, before[k], redactor), "to": redact_setting(k, v, redactor)}
        for k, v in after.items()
        if k in before and before[k] != v
    }
    removed = sorted(set(before) - set(after))
    return {"added": added, "changed": changed, "removed": removed}


def slot_differences(
    items: Iterable[Mapping[str, Any]], sticky: Iterable[str], redactor: Redactor
) -> list[dict[str, Any]]:
    """ARM `SlotDifference` resources, flattened, with secret values masked.

    `sticky` are the app's slot-setting names (`config/slotConfigNames`): they stay with
    their slot, so after a swap production keeps its own value whatever the slot had.
    """
    sticky_names = set(sticky)
    out: list[dict[str, Any]] = []
    for item in items:
        props: Mapping[str, Any] = item.get("properties") or {}
        name = str(props.get("settingName") or "")
        current, target = props.get("valueInCurrentSlot"), props.get("valueInTargetSlot")
        out.append(
            {
                "setting": name,
                "type": props.get("settingType"),
                "rule": props.get("diffRule"),
                "level": props.get("level"),
                "sticky": name in sticky_names,
                "slot_value": None if current is None else redact_setting(name, current, redactor),
                "production_value": None
                if target is None
                else redact_setting(name, target, redactor),
                "description": props.get("description"),
            }
        )
    return out


def azure_operations(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The `azure_operation` events of a journal, for the report (`read_journal` output)."""
    return [dict(r) for r in records if r.get("type") == EVENT_TYPE]
