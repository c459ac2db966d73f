"""`usages`: definitions and references of one symbol across the workspace.

rg finds the candidate lines (whole-word, case-sensitive). Python files are then parsed
(parso, jedi's parser), which drops hits in strings and comments and tells definitions from
references; when several definitions share the name, jedi says which one each reference
resolves to. Other languages keep rg's hits and classify each line with per-language
definition patterns.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from tools.base import Effect, Tool, ToolArgs, ToolContext, ToolError, ToolResult
from tools.workspace._paths import workspace_root
from tools.workspace._ripgrep import base_command, check_outcome, find_rg, split_record, stream_rg

MAX_HITS = 5000
_MAX_PER_FILE = 500
_MAX_JEDI_FILES = 300
_RESOLVE_BUDGET_S = 1.5
_SHOWN = 200
_NAME = re.compile(r"[A-Za-z_$][\w$]*")
_PY = (".py", ".pyi")
# parso and jedi keep global caches; one caller at a time.
_JEDI_LOCK = threading.Lock()

_MODIFIERS = r"(?:public|private|protected|internal|static|async|override|virtual|abstract|sealed|final|partial|extern|unsafe|new|readonly)"  # noqa: E501
# `{n}` stands for the escaped symbol name.
_DEFINITION_PATTERNS: dict[str, tuple[str, ...]] = {
    "python": (r"^\s*(?:async\s+)?(?:def|class)\s+{n}\b", r"^\s*{n}\s*(?::[^=]+)?=[^=]"),
    "csharp": (
        r"\b(?:class|interface|struct|enum|record|delegate)\s+{n}\b",
        rf"^\s*(?:{_MODIFIERS}\s+)+[\w<>\[\],.?\s]*?\b{{n}}\s*(?:<[^>]*>)?\s*\(",
        rf"^\s*(?:{_MODIFIERS}\s+)+[\w<>\[\],.?]+\s+{{n}}\s*(?:\{{|=>|=|;)",
    ),
    "js": (
        r"\bfunction\s*\*?\s*{n}\b",
        r"\b(?:const|let|var)\s+{n}\s*[=:]",
        r"\b(?:class|interface|enum|type|namespace)\s+{n}\b",
        r"^\s*(?:(?:public|private|protected|static|async|readonly|get|set)\s+)*{n}\s*(?:<[^>]*>)?\s*\([^)]*\)\s*(?::[^={]+)?\{",
    ),
    "go": (
        r"\bfunc\s+(?:\([^)]*\)\s*)?{n}\s*[\[(]",
        r"\btype\s+{n}\b",
        r"\b(?:var|const)\s+{n}\b",
    ),
    "java": (
        r"\b(?:class|interface|enum|record|object|trait|fun)\s+{n}\b",
        rf"^\s*(?:{_MODIFIERS}\s+)+[\w<>\[\],.?\s]*?\b{{n}}\s*\(",
    ),
    "rust": (r"\b(?:fn|struct|enum|trait|type|const|static|mod)\s+{n}\b",),
    "ruby": (r"^\s*(?:def\s+(?:self\.)?|class\s+|module\s+){n}\b",),
    "c": (
        r"\b(?:struct|union|enum|class|namespace)\s+{n}\b",
        r"#\s*define\s+{n}\b",
        r"^[A-Za-z_][\w\s\*&:<>,]*\b{n}\s*\([^;]*$",
    ),
    "generic": (
        r"\b(?:def|class|function|func|fn|sub|struct|interface|enum|type|trait|module)\s+{n}\b",
    ),
}
_SUFFIXES = {
    "python": ".py .pyi", "csharp": ".cs", "go": ".go", "rust": ".rs", "ruby": ".rb",
    "java": ".java .kt .scala", "js": ".js .jsx .mjs .cjs .ts .tsx",
    "c": ".c .h .cc .cpp .hpp .cxx",
}  # fmt: skip
_LANGUAGE_BY_SUFFIX = {s: lang for lang, suffixes in _SUFFIXES.items() for s in suffixes.split()}


@dataclass
class Usage:
    """One occurrence of the symbol."""

    path: str
    line: int
    column: int
    kind: str  # "definition" or "reference"
    text: str
    type: str | None = None  # for Python definitions: function, class, param or variable
    target: str | None = None  # `path:line` of the definition a reference resolves to


def symbol_name(symbol: str) -> str:
    """The bare name searched for: the last part of `Cart.total`, `ns::f` or `Type#m`."""
    name = re.split(r"\.|::|#", symbol.strip().removesuffix("()"))[-1]
    if not _NAME.fullmatch(name):
        raise ToolError(f"{symbol!r} is not a symbol name; pass an identifier such as `checkout`")
    return name


def classify_line(path: str, text: str, name: str) -> str:
    """`definition` when the line defines `name` by its language's patterns, else `reference`."""
    language = _LANGUAGE_BY_SUFFIX.get(Path(path).suffix.lower(), "generic")
    escaped = re.escape(name)
    for template in _DEFINITION_PATTERNS[language]:
        if re.search(template.replace("{n}", escaped), text):
            return "definition"
    return "reference"


def _column(text: str, name: str) -> int:
    found = re.search(rf"(?<![\w$]){re.escape(name)}(?![\w$])", text)
    return found.start() + 1 if found else 1


def _python_usages(
    root: Path, files: dict[str, dict[int, str]], name: str
) -> tuple[list[Usage], set[str]]:
    """Usages in Python files; also returns the files that could not be parsed."""
    with _JEDI_LOCK:
        return _python_usages_locked(root, files, name)


def _python_usages_locked(
    root: Path, files: dict[str, dict[int, str]], name: str
) -> tuple[list[Usage], set[str]]:
    # parso (jedi's parser) classifies names from the syntax tree alone; jedi's own
    # `get_names` would build an inference object for every name in every file.
    from parso.grammar import load_grammar

    grammar = load_grammar()
    usages: list[Usage] = []
    failed: set[str] = set()
    for rel, lines in files.items():
        try:
            module = grammar.parse(path=str(root / rel), cache=True)
        except Exception:  # unreadable file: fall back to the line patterns
            failed.add(rel)
            continue
        for leaf in module.get_used_names().get(name, []):
            line, column = leaf.start_pos
            kind, kind_type = _tree_kind(leaf)
            text = lines.get(line) or leaf.get_code().strip()
            usages.append(Usage(rel, line, column + 1, kind, text.strip(), kind_type))
    definitions = [u for u in usages if u.kind == "definition"]
    for usage in definitions:
        usage.target = f"{usage.path}:{usage.line}"
    if len(definitions) > 1:
        _resolve_targets(root, [u for u in usages if u.kind == "reference"])
    return usages, failed


_TREE_TYPES = {"funcdef": "function", "classdef": "class", "param": "param"}


def _tree_kind(leaf: Any) -> tuple[str, str | None]:
    """(`definition` | `reference`, what is defined) for a parso Name leaf."""
    if not leaf.is_definition():
        return "reference", None
    definition = leaf.get_definition(import_name_always=True)
    kind = definition.type if definition is not None else ""
    # `from cart import total` binds a name, but it refers to the definition elsewhere.
    if kind in ("import_from", "import_name"):
        return "reference", None
    return "definition", _TREE_TYPES.get(kind, "variable")


def _resolve_targets(root: Path, references: list[Usage]) -> None:
    # Several definitions share the name: say which one each reference means (jedi
    # inference, file by file), within a time budget.
    import jedi  # slow import, and only needed here

    extra = [str(root / "src")] if (root / "src").is_dir() else []
    project = jedi.Project(root, added_sys_path=extra)
    deadline = time.monotonic() + _RESOLVE_BUDGET_S
    scripts: dict[str, Any] = {}
    for usage in references:
        if time.monotonic() > deadline:
            return
        try:
            script = scripts.get(usage.path)
            if script is None:
                script = scripts[usage.path] = jedi.Script(path=root / usage.path, project=project)
            targets = script.goto(usage.line, usage.column - 1, follow_imports=True)
        except Exception:  # inference errors leave the reference unresolved
            targets = []
        for target in targets[:1]:
            path = target.module_path
            if path is not None and target.line is not None:
                shown = path.relative_to(root) if path.is_relative_to(root) else path
                usage.target = f"{shown.as_posix()}:{target.line}"


class UsagesArgs(ToolArgs):
    symbol: str = Field(
        min_length=1,
        max_length=200,
        description="The symbol's name, e.g. `checkout` or `CartService` (`Cart.total` searches "
        "for `total`).",
    )


class UsagesTool(Tool):
    """Definitions and references of a symbol."""

    name = "usages"
    aliases = ("search/usages",)
    effect = Effect.READ
    args_model = UsagesArgs
    description = (
        "List where a symbol (function, class, method, variable) is defined and everywhere it "
        "is used, across the workspace. Use it before changing a function's behaviour or "
        "signature, to see every caller. Python is analysed precisely (jedi): hits in strings "
        "and comments are dropped, imports count as references, and when several definitions "
        "share the name each reference says which one it resolves to (`-> path:line`). Other "
        "languages (C#, JS/TS, Go, Java, Rust, C/C++, Ruby) use a whole-word, case-sensitive "
        "text search with per-language definition patterns, so there comments and strings "
        "also match. Returns `path:line:column: text` entries marked definition or reference. "
        "Pass a bare name; for `Cart.total` only `total` is searched."
    )

    async def run(self, args: UsagesArgs, ctx: ToolContext) -> ToolResult:
        name = symbol_name(args.symbol)
        root = workspace_root(ctx.workspace)
        hits: dict[str, dict[int, str]] = {}
        seen = 0

        def sink(block: str) -> bool:
            nonlocal seen
            for record in block.split("\n"):
                parsed = split_record(record)
                if parsed is not None:
                    if seen >= MAX_HITS:
                        return True
                    hits.setdefault(parsed[0], {})[parsed[1]] = parsed[2]
                    seen += 1
            return False

        command = [
            *base_command(find_rg()),
            "--no-heading",
            "--case-sensitive",
            "--word-regexp",
            "--fixed-strings",
            "--max-count",
            str(_MAX_PER_FILE),
            "-e",
            name,
            "--",
            ".",
        ]
        outcome = await stream_rg(command, root, sink)
        check_outcome(outcome)
        python = {p: lines for p, lines in sorted(hits.items()) if p.endswith(_PY)}
        python = dict(list(python.items())[:_MAX_JEDI_FILES])
        usages: list[Usage] = []
        failed: set[str] = set()
        if python:
            usages, failed = await asyncio.to_thread(_python_usages, root, python, name)
        for path in sorted(hits):
            if path in python and path not in failed:
                continue
            for line, text in sorted(hits[path].items()):
                kind = classify_line(path, text, name)
                usages.append(Usage(path, line, _column(text, name), kind, text.strip()))
        usages.sort(key=lambda u: (u.kind != "definition", u.path, u.line, u.column))
        for usage in usages:
            usage.text = ctx.redactor.text(usage.text[:300])
        return ToolResult(
            _render(args.symbol, usages, outcome.stopped_early),
            {
                "symbol": args.symbol,
                "definitions": sum(1 for u in usages if u.kind == "definition"),
                "references": sum(1 for u in usages if u.kind == "reference"),
                "truncated": outcome.stopped_early,
                "results": [asdict(u) for u in usages[:1000]],
            },
        )


def _render(symbol: str, usages: list[Usage], truncated: bool) -> str:
    if not usages:
        return f"No definitions or references of `{symbol}` found in the workspace."
    definitions = [u for u in usages if u.kind == "definition"]
    references = [u for u in usages if u.kind == "reference"]
    files = len({u.path for u in usages})
    lines = [
        f"`{symbol}`: {len(definitions)} definitions, {len(references)} references in "
        f"{files} files."
    ]
    if truncated:
        lines.append(f"(search stopped after {MAX_HITS} matching lines; results are partial)")
    for title, group in (("Definitions", definitions), ("References", references)):
        if not group:
            continue
        lines.append(f"\n{title}:")
        for usage in group[:_SHOWN]:
            note = f"  [{usage.type}]" if usage.type and usage.kind == "definition" else ""
            if usage.kind == "reference" and usage.target:
                note = f"  -> {usage.target}"
            lines.append(f"  {usage.path}:{usage.line}:{usage.column}: {usage.text}{note}")
        if len(group) > _SHOWN:
            lines.append(f"  … {len(group) - _SHOWN} more")
    return "\n".join(lines)
