"""What the terminal shows while a run goes on: one line per model turn and tool call."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

_EFFECT_STYLE = {"read": "dim", "local": "yellow", "remote": "magenta", "production": "bold red"}


class LiveView:
    """Prints run events as they happen (to stderr when stdout carries JSON)."""

    def __init__(self, console: Console, *, quiet: bool = False) -> None:
        self._console = console
        self._quiet = quiet

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if self._quiet:
            return
        if kind == "model_turn":
            text = str(data.get("text", "")).strip()
            if text:
                self._console.print(f"[cyan]agent[/]  {escape(_one_line(text, 160))}")
        elif kind == "tool_requested":
            effect = str(data.get("effect", "read"))
            style = _EFFECT_STYLE.get(effect, "")
            args = _one_line(str(data.get("args", "")), 100)
            self._console.print(f"[{style}]tool[/]   {data.get('tool')} {escape(args)} "
                                f"[dim]({effect})[/]")
        elif kind == "tool_finished":
            status = str(data.get("status"))
            mark = "[green]ok[/]" if status == "ok" else f"[red]{status}[/]"
            summary = escape(_one_line(str(data.get("summary", "")), 120))
            self._console.print(f"       {mark} {summary}")

    def on_record(self, record: dict[str, Any]) -> None:
        """Journal listener: shows deployment steps (current step, weights, checks) live."""
        if self._quiet or record.get("type") != "step":
            return
        phase = str(record.get("phase"))
        details = record.get("details") or {}
        style = {"started": "bold", "finished": "green", "failed": "bold red"}.get(phase, "dim")
        facts: list[str] = []
        weights = details.get("weights")
        if isinstance(weights, dict) and weights:
            facts.append("traffic " + ", ".join(f"{k} {v}%" for k, v in sorted(weights.items())))
        for key in ("passed", "outcome", "message", "reason"):
            if key in details and details[key] not in (None, ""):
                facts.append(f"{key}: {_one_line(str(details[key]), 80)}")
        suffix = f" [dim]({escape('; '.join(facts))})[/]" if facts else ""
        self._console.print(f"[{style}]step[/]   {phase:<8} {escape(str(record.get('step_id')))}"
                            f"{suffix}")


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
