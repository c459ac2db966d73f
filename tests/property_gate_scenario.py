"""Scenarios for the gate property test, and the hypothesis strategies that draw them.

A scenario is plain data: the model's turns of `tool_use` blocks, the approver's answers
in order, the gate rules, and how each block's id is sent (its own, none at all, or the id
of an earlier block again). Blocks are drawn from a small pool of calls so that batches
repeat calls exactly, repeat them with keys in another order or other JSON whitespace,
and vary one argument of the same tool.
"""

from __future__ import annotations

import functools
import itertools
import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from property_gate_world import ANSWERS, FAKE_NAMES

# Unknown names include near misses of real ones: the runner must not fold case or spaces.
UNKNOWN_NAMES = ("delete_everything", "Ship_Prod", "ship_prod ", "")
NAMES = ("a", "a ", "b", "prod-1", "prod-1 ")
# Narrow rules first, `*` last: hypothesis favours the first choices.
RULES = (
    'ship_prod(*"a"*)',
    "edit_local(b)",
    'edit_local(*"n":1*)',
    'push_remote(*"b"*)',
    "flex_probe(*prod*)",
    'flex_probe(*"a"*)',
    "read_probe(a)",
    "ship_prod(*)",
    "ship_prod",
    "edit_local",
    "push_remote",
    "flex_probe",
    "read_probe",
    "SHIP_PROD",
    "push_*",
    "*_prod",
    "*probe",
    "*",
)
# JSON layouts the model's argument text may come in; all parse to the same object.
LAYOUTS: tuple[dict[str, Any], ...] = (
    {"separators": (",", ":")},
    {"separators": (", ", ": ")},
    {"indent": 2},
    {"indent": "\t", "separators": (" ,", " :  ")},
)

Items = tuple[tuple[str, Any], ...]
# How a block's tool_use id is sent: its own, none, or the previous block's id once more.
ID_MODES = ("own", "none", "repeat")


@dataclass(frozen=True)
class Block:
    """One `tool_use`: the tool name and the arguments in the order and layout sent."""

    tool: str
    items: Items
    layout: int = 0

    def args(self) -> dict[str, Any]:
        """The arguments as the model client hands them over: parsed from JSON text."""
        ordered = {k: dict(v) if k == "meta" and isinstance(v, tuple) else v for k, v in self.items}
        return json.loads(json.dumps(ordered, **LAYOUTS[self.layout]))


@dataclass(frozen=True)
class Scenario:
    """One drawn run: turns of blocks, approver answers, gate rules, id modes.

    `ids[i]` is the id mode (`ID_MODES`) of the i-th block of the run; "own" past the end.
    """

    turns: tuple[tuple[Block, ...], ...]
    answers: tuple[str, ...] = ()
    fallback: str = "deny"
    deny: tuple[str, ...] = ()
    ask: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()


def call(tool: str, layout: int = 0, **args: Any) -> Block:
    """A block for hand-written examples: `call("ship_prod", name="a", n=0)`."""
    items = tuple((k, tuple(v.items()) if isinstance(v, dict) else v) for k, v in args.items())
    return Block(tool, items, layout)


_ABSENT = object()
# Strategies are built once: building them inside every draw costs more than drawing.
_tools = st.sampled_from((*FAKE_NAMES, *FAKE_NAMES, *FAKE_NAMES, "?"))  # "?": an unknown name
_names = st.sampled_from(NAMES)
_counts = st.sampled_from((*(0, 1) * 7, 0, "1"))  # "1" is a string: invalid
_notes = st.sampled_from((_ABSENT, _ABSENT, None, "x"))
_metas = st.sampled_from((_ABSENT, _ABSENT, {"x": 1, "y": 2}, {"y": 2}))
_invalid_extra = st.integers(0, 15).map(lambda i: i == 15)  # 0, the simplest, is valid
_styles = st.integers(0, 2 * len(LAYOUTS) - 1)
# Genuine approvals are drawn more often, or few mutations would ever run.
_answers = st.sampled_from(("once", "run", *ANSWERS))
_rules = st.sampled_from(RULES)
# Mostly well-formed ids: a missing or repeated id is the exception, as with real clients.
_id_modes = st.sampled_from(("own",) * 8 + ID_MODES[1:])


@functools.cache
def _below(n: int) -> st.SearchStrategy[int]:
    return st.integers(0, n - 1)


@st.composite
def _base_calls(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    tool = draw(_tools)
    if tool not in FAKE_NAMES:
        tool = draw(st.sampled_from(UNKNOWN_NAMES))
    args: dict[str, Any] = {"name": draw(_names), "n": draw(_counts)}
    for key, value in (("note", draw(_notes)), ("meta", draw(_metas))):
        if value is not _ABSENT:
            args[key] = value
    if draw(_invalid_extra):
        args["sudo"] = True  # not in the schema: an invalid call
    return tool, args


@st.composite
def _block(draw: st.DrawFn, pool: list[tuple[str, dict[str, Any]]]) -> Block:
    tool, args = pool[draw(_below(len(pool)))]
    # One integer picks the key order and one the layout and nested order: cheap to draw.
    orders = list(itertools.permutations(args))
    keys = orders[draw(_below(len(orders)))]
    style = draw(_styles)
    items: list[tuple[str, Any]] = []
    for key in keys:
        value = args[key]
        if isinstance(value, dict):
            pairs = list(value.items())
            value = tuple(reversed(pairs) if style % 2 else pairs)
        items.append((key, value))
    return Block(tool, tuple(items), style // 2)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Up to 4 turns of 1-6 calls (parallel batches), answers, and gate rules."""
    pool = draw(st.lists(_base_calls(), min_size=2, max_size=6))
    turns = draw(
        st.lists(st.lists(_block(pool), min_size=1, max_size=6).map(tuple), min_size=1, max_size=4)
    )
    return Scenario(
        turns=tuple(turns),
        answers=tuple(draw(st.lists(_answers, max_size=12))),
        fallback=draw(_answers),
        deny=tuple(draw(st.lists(_rules, max_size=2))),
        ask=tuple(draw(st.lists(_rules, max_size=2))),
        allow=tuple(draw(st.lists(_rules, max_size=3))),
        ids=tuple(draw(st.lists(_id_modes, max_size=sum(len(t) for t in turns)))),
    )
