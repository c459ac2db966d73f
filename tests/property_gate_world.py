"""The world of the gate property test: fake tools, a scripted approver, and the oracle.

The fake tools cover every effect (plus one whose effect depends on its arguments) and
record, at the instant they run, what the journal file on disk holds. The approver answers
with whatever hypothesis drew. The oracle says, independently of `agent.policy`, what the
documented rules (DESIGN §2, §4) decide for a call in this small world.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ConfigDict

from agent.approvers import ApprovalRequest, ToolApproved
from agent.journal import read_journal
from tools.base import Effect, Tool, ToolArgs, ToolCall, ToolContext, ToolResult, canonical_json

RECORDER_KEY = "property_recorder"


class ProbeArgs(ToolArgs):
    """Strict, so the validated arguments are exactly the ones sent (no coercion)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str
    n: int
    note: str | None = None
    meta: dict[str, int] | None = None


_PROBE_SCHEMA = ProbeArgs.model_json_schema()


class _FakeTool(Tool):
    description: ClassVar[str] = "A fake tool of the gate property test."
    args_model: ClassVar[type[ToolArgs]] = ProbeArgs

    def input_schema(self) -> dict[str, Any]:
        # Built once: pydantic's schema generation would otherwise dominate each example.
        return copy.deepcopy(_PROBE_SCHEMA)

    async def run(self, args: ProbeArgs, ctx: ToolContext) -> ToolResult:
        recorder = ctx.extras[RECORDER_KEY]
        assert isinstance(recorder, Recorder)
        return await recorder.execute(self, args)


class ReadProbe(_FakeTool):
    name: ClassVar[str] = "read_probe"
    effect: ClassVar[Effect] = Effect.READ


class EditLocal(_FakeTool):
    name: ClassVar[str] = "edit_local"
    effect: ClassVar[Effect] = Effect.LOCAL


class PushRemote(_FakeTool):
    name: ClassVar[str] = "push_remote"
    effect: ClassVar[Effect] = Effect.REMOTE


class ShipProd(_FakeTool):
    name: ClassVar[str] = "ship_prod"
    effect: ClassVar[Effect] = Effect.PRODUCTION


class FlexProbe(_FakeTool):
    """Declared a (concurrent-safe) read, but a call naming `prod...` changes production."""

    name: ClassVar[str] = "flex_probe"
    effect: ClassVar[Effect] = Effect.READ

    def effect_for(self, args: ToolArgs) -> Effect:
        assert isinstance(args, ProbeArgs)
        return Effect.PRODUCTION if args.name.startswith("prod") else Effect.READ


# Mutations first: hypothesis favours (and shrinks towards) the first choices.
FAKE_TOOLS: tuple[type[_FakeTool], ...] = (ShipProd, EditLocal, PushRemote, FlexProbe, ReadProbe)
FAKE_NAMES = tuple(t.name for t in FAKE_TOOLS)


@dataclass(frozen=True)
class Execution:
    """One real run of a fake tool, and what the journal on disk held when it started."""

    tool: str
    fingerprint: str
    effect: Effect
    journal_at_start: list[dict[str, Any]]
    overlapped: bool  # a mutation ran alongside another call


@dataclass
class Recorder:
    """Shared by the fake tools of one example (reached through `ToolContext.extras`)."""

    journal_path: Path
    executions: list[Execution] = field(default_factory=list[Execution])
    _reads: int = 0
    _mutations: int = 0

    async def execute(self, tool: Tool, args: ProbeArgs) -> ToolResult:
        effect = tool.effect_for(args)
        mutation = effect is not Effect.READ
        # Strict args without defaults filled in: this is the call exactly as the model sent it.
        sent = args.model_dump(exclude_unset=True)
        fingerprint = ToolCall(id="executed", tool=tool.name, args=sent).fingerprint
        on_disk = read_journal(self.journal_path)
        overlapped = self._mutations > 0 or (mutation and self._reads > 0)
        if mutation:
            self._mutations += 1
        else:
            self._reads += 1
        try:
            await asyncio.sleep(0)  # give concurrently scheduled calls a chance to overlap
            await asyncio.sleep(0)
        finally:
            if mutation:
                self._mutations -= 1
            else:
                self._reads -= 1
        self.executions.append(Execution(tool.name, fingerprint, effect, on_disk, overlapped))
        return ToolResult(text=f"{tool.name} ran")


ANSWERS = ("once", "run", "deny", "timeout", "hang", "raise", "stale", "text", "edit")
GENUINE = frozenset({"once", "run"})


@dataclass(frozen=True)
class Asked:
    """One question the approver got, and what it answered (`kind` from `ANSWERS`)."""

    request: ApprovalRequest
    kind: str
    answer: object
    fingerprint: str  # of the call as the approver was shown it (before any edit)
    args: dict[str, Any]


class ScriptedApprover:
    """Answers with the drawn kinds in order, then with `fallback` for every later question.

    once / run: a real approval of this exact call; deny: a denial; timeout: no answer in
    time, reported as a denial (like the terminal prompt); hang: the timeout escapes as an
    exception; raise: the approver breaks; stale: an approval of a different call (same tool,
    other arguments, or an earlier request); text: a chat-style "yes" that is not an approval;
    edit: changes an argument of the call in place, then approves the edited call.
    """

    name = "property"

    def __init__(self, answers: tuple[str, ...], fallback: str) -> None:
        self._answers = list(answers)
        self._fallback = fallback
        self.log: list[Asked] = []

    async def request(self, req: ApprovalRequest) -> Any:
        kind = self._answers.pop(0) if self._answers else self._fallback
        shown = (req.call.fingerprint, copy.deepcopy(req.call.args))
        answer: object
        if kind in GENUINE:
            answer = req.approve(self.name, "run" if kind == "run" else "once", "drawn")
        elif kind == "stale":
            answer = ToolApproved(self._other_fingerprint(req), self.name, "run", "stale")
        elif kind == "edit":
            req.call.args["n"] = 7  # e.g. a form that writes the user's edit back
            answer = ToolApproved(req.call.fingerprint, self.name, "once", "edited")
        elif kind == "text":
            answer = "approved: yes, go ahead"
        elif kind == "timeout":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.Event().wait(), timeout=0)
            answer = req.deny(self.name, "no answer within 0 s")
        else:
            answer = kind
        self.log.append(Asked(req, kind, answer, *shown))
        if kind == "hang":
            await asyncio.wait_for(asyncio.Event().wait(), timeout=0)
        if kind == "raise":
            raise RuntimeError("the approval channel went away")
        return answer

    def _other_fingerprint(self, req: ApprovalRequest) -> str:
        mine = req.call.fingerprint
        for earlier in reversed(self.log):
            if earlier.fingerprint != mine:
                return earlier.fingerprint
        other = {**req.call.args, "n": 99}
        return ToolCall(id="other", tool=req.call.tool, args=other).fingerprint


# --- the oracle -------------------------------------------------------------------------

_EFFECTS = {
    "read_probe": Effect.READ,
    "edit_local": Effect.LOCAL,
    "push_remote": Effect.REMOTE,
    "ship_prod": Effect.PRODUCTION,
}


def expected_effect(tool: str, args: dict[str, Any]) -> Effect:
    """The effect DESIGN's effect table gives this call of a fake tool."""
    if tool == "flex_probe":
        name = args.get("name")
        return (
            Effect.PRODUCTION if isinstance(name, str) and name.startswith("prod") else Effect.READ
        )
    return _EFFECTS[tool]


def expected_valid(tool: str, args: dict[str, Any]) -> bool:
    """Whether the call names a fake tool and its arguments fit `ProbeArgs` strictly."""
    if tool not in FAKE_NAMES or not {"name", "n"} <= set(args) <= {"name", "n", "note", "meta"}:
        return False
    note, meta = args.get("note"), args.get("meta")
    return (
        isinstance(args["name"], str)
        and type(args["n"]) is int
        and (note is None or isinstance(note, str))
        and (
            meta is None or (isinstance(meta, dict) and all(type(v) is int for v in meta.values()))
        )
    )


def _glob(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else re.escape(c) for c in pattern)
    return re.compile(regex, (re.I if ignore_case else 0) | re.S)


def rule_matches(rule: str, tool: str, args: dict[str, Any], *, for_allow: bool) -> bool:
    """Rule semantics for non-terminal built-in tools without url/path arguments.

    The tool part is a case-insensitive glob over the name. A specifier is a glob over the
    canonical JSON of the arguments; for deny and ask (doubt counts against the call) it
    may also match any top-level string argument.
    """
    head, paren, rest = rule.partition("(")
    if not _glob(head, ignore_case=True).fullmatch(tool):
        return False
    if not paren:
        return True
    spec = _glob(rest[:-1])
    texts = [canonical_json(args)]
    if not for_allow:
        texts += [v for v in args.values() if isinstance(v, str)]
    return any(spec.fullmatch(text) for text in texts)


def expected_verdict(
    tool: str,
    args: dict[str, Any],
    deny: tuple[str, ...],
    ask: tuple[str, ...],
    allow: tuple[str, ...],
) -> str:
    """deny -> ask -> allow -> effect default; production is never allowed by a rule."""
    effect = expected_effect(tool, args)
    if any(rule_matches(r, tool, args, for_allow=False) for r in deny):
        return "deny"
    if any(rule_matches(r, tool, args, for_allow=False) for r in ask):
        return "ask"
    if any(rule_matches(r, tool, args, for_allow=True) for r in allow):
        return "ask" if effect is Effect.PRODUCTION else "allow"
    return "allow" if effect is Effect.READ else "ask"
