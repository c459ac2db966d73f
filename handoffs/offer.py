"""`send: false` in every front end: a handoff is offered, never started by itself.

- terminal: `offer_handoff(console, result)` shows the handoff and asks yes/no (default no);
  without an interactive terminal it only says how to start it;
- MCP: `handoff_suggestion(run_dir)` returns the suggestion with the prompt pre-filled;
- evals: `auto_send(offer, enabled=...)` is true only when the runner's flag says so.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console

    from agent.session import RunResult


@dataclass(frozen=True)
class HandoffOffer:
    """One handoff a finished run offers."""

    label: str
    agent: str
    prompt: str
    send: bool
    run_id: str
    handoff_path: str | None
    command: str

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (what the MCP server returns as a suggestion)."""
        return asdict(self)


def offers_for(result: RunResult) -> list[HandoffOffer]:
    """The handoffs `result` offers, with the run's suggested prompt when it has a packet."""
    path = result.run_dir / "handoff.json"
    suggested = _suggested_prompt(path)
    workspace = _workspace(result.run_dir)
    offers: list[HandoffOffer] = []
    for handoff in result.handoffs:
        command = _command(handoff.agent, result.run_id, workspace)
        offers.append(
            HandoffOffer(
                label=handoff.label,
                agent=handoff.agent,
                prompt=suggested or handoff.prompt,
                send=handoff.send,
                run_id=result.run_id,
                handoff_path=str(path) if path.is_file() else None,
                command=command,
            )
        )
    return offers


def offer_handoff(
    console: Console,
    result: RunResult,
    *,
    interactive: bool | None = None,
    stream: TextIO | None = None,
) -> bool:
    """Show the run's handoff and ask whether to start it now; True only on an explicit yes.

    Args:
        console: Where to show the offer and ask.
        result: The finished run.
        interactive: Whether a person can answer; by default, whether stdin is a terminal.
        stream: Where the answer is read from (default: the console's input).
    """
    from rich.markup import escape
    from rich.prompt import Confirm

    offers = offers_for(result)
    if not offers:
        return False
    offer = offers[0]
    console.print(f"\n[bold]Handoff available:[/] {escape(offer.label)} → {escape(offer.agent)}")
    console.print(escape(offer.prompt), highlight=False)
    if interactive is None:
        interactive = sys.stdin.isatty()
    if not interactive:
        console.print(f"Start it later with: [bold]{escape(offer.command)}[/]", highlight=False)
        return False
    question = f"Start {escape(offer.label)} now?"
    return Confirm.ask(question, default=False, console=console, stream=stream)


def handoff_suggestion(run_dir: Path) -> dict[str, Any] | None:
    """The handoff of a finished run as a suggestion (MCP), or None when it offers none."""
    path = run_dir / "handoff.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    offered: dict[str, Any] = data.get("next_agent") or {}
    if not offered:
        return None
    workspace = _workspace(run_dir)
    return {
        "label": offered.get("label"),
        "agent": offered.get("agent"),
        "prompt": data.get("suggested_prompt") or offered.get("prompt"),
        "send": False,
        "run_id": run_dir.name,
        "handoff": str(path),
        "command": _command(str(offered.get("agent")), run_dir.name, workspace),
    }


def auto_send(offer: HandoffOffer | dict[str, Any], *, enabled: bool) -> bool:
    """Whether an eval runner may start the next agent: only when its own flag is on."""
    del offer  # `send: true` in a definition never starts anything by itself here
    return enabled


def _suggested_prompt(path: Path) -> str | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    prompt = data.get("suggested_prompt") if isinstance(data, dict) else None
    return str(prompt) if prompt else None  # pyright: ignore[reportUnknownArgumentType]


def _workspace(run_dir: Path) -> Path:
    return run_dir.parent.parent.parent  # <workspace>/.hotfix/runs/<run-id>


def _command(agent: str, run_id: str, workspace: Path) -> str:
    ws = shlex.quote(str(workspace))
    if agent == "post-fix-monitoring":
        return f"hotfix monitor {run_id} --workspace {ws}"
    return f'hotfix run --agent {agent} --workspace {ws} "<description>"'
