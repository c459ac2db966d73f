"""`codebase`: ranked full-text search over the workspace, one ripgrep process per query.

The natural-language query becomes a handful of terms; rg finds every line containing any of
them (case-insensitive, fixed strings, at most `MAX_COUNT` lines per file) and the files are
ranked from those lines alone, so no file is read twice.
"""

from __future__ import annotations

import heapq
import math
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from tools.base import Effect, Tool, ToolArgs, ToolContext, ToolError, ToolResult
from tools.workspace._paths import workspace_root
from tools.workspace._ripgrep import (
    base_command,
    check_outcome,
    clean_path,
    find_rg,
    stream_rg,
)

MAX_COUNT = 20
MAX_TERMS = 8
_DETAILED_FILES = 10
_LINE_CHARS = 200

_STOP_TEXT = """a about after all also an and any are as at be been before being but by can
    could did do does doing for from had has have how i if in into is it its me my no not
    of on or our should so some such than that the their them then there these they this
    those to under up us was we were what when where which while who why will with would
    you your code codebase file files find function functions method methods class classes
    show look search see implemented implementation defined definition used usage please"""
_STOP_WORDS = frozenset(_STOP_TEXT.split())
_TEST_PATH = re.compile(r"(^|/)(tests?|__tests__|spec)/|(^|/)test_[^/]*$|[._-](test|spec)\.\w+$")
_TEST_WEIGHT = 0.6
_TOKEN = re.compile(r'"([^"]+)"|([\w$][\w$.\-]*[\w$]|[\w$])')
# Names introduced by a definition, in the common languages (the text is lowercased first).
# Keywords come first so that `re` can skip quickly to where one may start.
_DEFINITION = re.compile(
    r"\b(?:(?:def|class|function\*?|func(?:\s*\([^)]*\))?|fn|interface|struct|enum|"
    r"trait|type|module|record|namespace)\s+([a-z_$][\w$]*)"
    r"|(?:const|let|var)\s+([a-z_$][\w$]*)\s*[=:]"
    r"|(?:public|private|protected|internal|static)\s[\w<>\[\],.?\s]*?\s([a-z_]\w*)\s*\()"
)


def extract_terms(query: str) -> list[str]:
    """Turn a query into search terms: quoted phrases kept whole, stop words dropped.

    Terms are lowercased, deduplicated and capped at `MAX_TERMS`. When every word is a
    stop word the words themselves are used, so `"class"` still searches for something.
    """
    phrases: list[str] = []
    words: list[str] = []
    for match in _TOKEN.finditer(query):
        phrase, word = match.group(1), match.group(2)
        if phrase is not None and phrase.strip():
            phrases.append(phrase.strip().lower())
        elif word is not None:
            words.append(word.lower())
    kept = [w for w in words if len(w) >= 2 and w not in _STOP_WORDS]
    if not kept and not phrases:
        kept = [w for w in words if len(w) >= 2]
    return list(dict.fromkeys(phrases + kept))[:MAX_TERMS]


def build_command(rg: str, terms: list[str]) -> list[str]:
    """The exact rg command line `codebase` runs (in the workspace) for these terms."""
    command = [
        *base_command(rg),
        "--heading",
        "--ignore-case",
        "--fixed-strings",
        "--max-count",
        str(MAX_COUNT),
    ]
    for term in terms:
        command += ["-e", term]
    return [*command, "--", "."]


@dataclass
class FileHit:
    """One ranked file with the lines that show why it matched."""

    path: str
    score: float
    terms: list[str]
    definitions: list[str] = field(default_factory=list[str])
    matches: list[tuple[int, str]] = field(default_factory=list[tuple[int, str]])


class Ranker:
    """Ranks files from rg's `--heading --null` output as it streams in.

    Term counts are taken while rg is still searching, so little work is left once it ends.
    Scores weigh distinct terms (squared coverage), term frequency (log), rarity across the
    matching files (idf), terms in the path or file name, and definitions of a term; test
    files count a little less than the code they test.
    """

    def __init__(self, terms: list[str]) -> None:
        self.terms = terms
        self.bodies: dict[str, str] = {}
        # Per file: path, per-term counts, indexes of terms present, indexes named in the path.
        self._stats: list[tuple[str, list[int], list[int], list[int]]] = []
        self._doc_freq = [0] * len(terms)
        self.matched = 0
        """How many files hold a term, once `rank` has run."""
        # Numbers must not match inside longer numbers, nor the `lineno:` prefix of a line.
        self._numeric = [
            # Literal first, lookbehind last: `re` then scans for the literal quickly.
            (i, re.compile(rf"{re.escape(t)}(?!\w)(?<![\w\n]{re.escape(t)})"))
            for i, t in enumerate(terms)
            if t.isdigit()
        ]

    def feed(self, block: str) -> bool:
        """Take whole files of rg output (`path NUL lineno:text` lines, files separated by a
        blank line). Returns False: the search is never cut short."""
        terms, numeric, stats, bodies = self.terms, self._numeric, self._stats, self.bodies
        doc_freq, indexes = self._doc_freq, range(len(terms))
        for group in block.split("\n\n"):
            path, sep, body = group.partition("\0")
            if not sep:
                continue
            bodies[path] = body
            lowered = body.lower()
            counts = [lowered.count(t) for t in terms]
            for index, pattern in numeric:
                if counts[index]:
                    counts[index] = len(pattern.findall("\n" + lowered))
            lowered_path = path.lower()
            named = [i for i in indexes if terms[i] in lowered_path]
            present = (
                [i for i in indexes if counts[i] or i in named]
                if named
                else [i for i in indexes if counts[i]]
            )
            for index in present:
                doc_freq[index] += 1
            stats.append((path, counts, present, named))
        return False

    def rank(self, limit: int) -> list[FileHit]:
        """The best `limit` files, best first."""
        terms, width, log1p = self.terms, len(self.terms), math.log1p
        total = max(len(self._stats), 1)
        idf = [math.log(1 + total / max(df, 1)) for df in self._doc_freq]
        scored: list[tuple[float, str, list[int]]] = []
        self.matched = 0
        for path, counts, present, named in self._stats:
            if not present:
                continue
            self.matched += 1
            score = 0.0
            for i in present:
                if counts[i]:
                    score += idf[i] * (2.0 + 0.5 * log1p(counts[i]))
            for i in named:
                score += idf[i] * (2.5 if terms[i] in path.rsplit("/", 1)[-1].lower() else 1.0)
            # Files holding more of the terms beat files repeating one of them.
            scored.append((score * (len(present) / width) ** 2, path, present))
        # Definitions are looked for only among the leaders: the regex is the costly part,
        # and its bonus cannot lift a file from far down the list.
        leaders = heapq.nlargest(limit + 30, scored)
        hits: list[FileHit] = []
        for score, path, present in leaders:
            defined = {
                name
                for found in _DEFINITION.findall(self.bodies[path].lower())
                for name in found
                if name
            }
            defines = [i for i in present if any(terms[i] in name for name in defined)]
            bonus = sum(idf[i] * (4.0 if terms[i] in defined else 2.0) for i in defines)
            final = score + bonus * (len(present) / width) ** 2
            # Tests name what they test in every function; the code under test comes first.
            final = round(final * (_TEST_WEIGHT if _TEST_PATH.search(path) else 1.0), 3)
            found = [terms[i] for i in present]
            hits.append(FileHit(path, final, found, [terms[i] for i in defines]))
        hits.sort(key=lambda hit: (-hit.score, hit.path))
        return hits[:limit]


def best_lines(body: str, terms: list[str], count: int) -> list[tuple[int, str]]:
    """The `count` lines of a file's matches that hold the most terms, in line order."""
    ranked: list[tuple[int, int, str]] = []
    for record in body.split("\n"):
        number, sep, text = record.partition(":")
        if not sep or not number.isdigit():
            continue
        lowered = text.lower()
        weight = sum(1 for t in terms if t in lowered)
        if _DEFINITION.search(lowered):
            weight += 2
        ranked.append((weight, int(number), text.strip()))
    ranked.sort(key=lambda item: (-item[0], item[1]))
    best = sorted(ranked[:count], key=lambda item: item[1])
    return [(line, _clip(text)) for _, line, text in best]


def _clip(text: str) -> str:
    return text if len(text) <= _LINE_CHARS else text[: _LINE_CHARS - 1] + "…"


class CodebaseArgs(ToolArgs):
    query: str = Field(
        min_length=1,
        max_length=2000,
        description="What to look for: identifiers, error messages, or a short description.",
    )
    max_results: int = Field(default=50, ge=1, le=200, description="How many files to list.")


class CodebaseTool(Tool):
    """Ranked code search over the workspace."""

    name = "codebase"
    aliases = ("search/codebase",)
    effect = Effect.READ
    args_model = CodebaseArgs
    description = (
        "Search the workspace's source code and rank the files most relevant to a query. "
        "Use it first to find where something is implemented: pass identifiers, error "
        'messages or a few keywords ("checkout empty cart 500"); put an exact phrase in double '
        "quotes. Matching is case-insensitive on whole terms as fixed text (no regex); stop "
        "words are dropped. Files are ranked by how many distinct terms they contain, how "
        "often, whether the path names a term, and whether they define it (def/class/function). "
        "Returns the best files with their most relevant lines as `path:line: text`. Skips "
        ".gitignore'd files, .git/, .hotfix/, .venv/, node_modules/, binary files and files over "
        "2 MB; at most 20 matching lines per file are considered. Use `usages` for every "
        "reference to one symbol and `readFile` to read a file."
    )

    async def run(self, args: CodebaseArgs, ctx: ToolContext) -> ToolResult:
        terms = extract_terms(args.query)
        if not terms:
            raise ToolError("the query has no searchable words; pass identifiers or keywords")
        root = workspace_root(ctx.workspace)
        ranker = Ranker(terms)
        command = build_command(find_rg(), terms)
        outcome = await stream_rg(command, root, ranker.feed, separator=b"\n\n")
        check_outcome(outcome)
        hits = ranker.rank(args.max_results)
        redact = ctx.redactor.text
        for index, hit in enumerate(hits):
            lines = 3 if index < _DETAILED_FILES else 1
            # Only file content can hold secrets; masking these few lines is much cheaper
            # than masking the whole rendered text and data afterwards.
            found = best_lines(ranker.bodies[hit.path], terms, lines)
            hit.matches = [(number, redact(text)) for number, text in found]
            hit.path = clean_path(hit.path)
        query = redact(args.query)
        budget = ctx.config.limits.tool_output_chars
        text = _render(query, terms, hits, ranker.matched, budget)
        data: dict[str, Any] = {
            "query": query,
            "terms": terms,
            "total_files": ranker.matched,
            "files": [
                {
                    "path": h.path,
                    "score": h.score,
                    "terms": h.terms,
                    "definitions": h.definitions,
                    "matches": [{"line": n, "text": t} for n, t in h.matches],
                }
                for h in hits
            ],
        }
        return ToolResult(text, data)


def _render(query: str, terms: list[str], hits: list[FileHit], total: int, budget: int) -> str:
    if not hits:
        return f"No files in the workspace contain any of: {', '.join(terms)} (query {query!r})."
    head = (
        f"{total} files contain at least one of: {', '.join(terms)}. Top {len(hits)}, best first:\n"
    )
    parts = [head]
    used = len(head)
    for index, hit in enumerate(hits, 1):
        note = f"; defines {', '.join(hit.definitions)}" if hit.definitions else ""
        block = [f"\n{index}. {hit.path}  (terms: {', '.join(hit.terms)}{note})"]
        block += [f"   {hit.path}:{line}: {text}" for line, text in hit.matches]
        chunk = "\n".join(block)
        if used + len(chunk) > budget - 100:
            parts.append(f"\n… {len(hits) - index + 1} more files left out to keep this short.")
            break
        parts.append(chunk)
        used += len(chunk)
    return "".join(parts)
