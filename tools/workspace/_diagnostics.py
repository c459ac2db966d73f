"""Parsers that turn the output of diagnostics commands into structured problems.

One parser per output format (pytest, ruff concise, pyright, mypy, gcc/clang, MSBuild,
ESLint unix); `auto` runs them all and drops duplicates, so a mixed log still parses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

SEVERITIES = ("error", "warning", "info")


@dataclass
class Problem:
    """One diagnostic: where it is, how bad, and what it says."""

    source: str
    file: str | None
    line: int | None
    column: int | None
    severity: str
    message: str
    code: str | None = None


def _int(value: str | None) -> int | None:
    return int(value) if value else None


def _severity(word: str) -> str:
    word = word.lower()
    if word in ("error", "fatal error", "fatal"):
        return "error"
    if word == "warning":
        return "warning"
    return "info"


_RUFF = re.compile(
    r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): (?:(?P<code>[A-Z]+[0-9]+) "
    r"(?:\[\*\] )?|(?P<syntax>invalid-syntax|SyntaxError): ?)(?P<msg>.+)$"
)


def parse_ruff(output: str, source: str) -> list[Problem]:
    """`ruff check --output-format=concise`: `path:line:col: CODE [*] message`."""
    problems: list[Problem] = []
    for m in _lines(_RUFF, output):
        syntax = m["syntax"]
        problems.append(
            Problem(
                source,
                m["file"],
                int(m["line"]),
                int(m["col"]),
                "error" if syntax else "warning",
                m["msg"].strip(),
                "invalid-syntax" if syntax else m["code"],
            )
        )
    return problems


_PYRIGHT = re.compile(
    r"^\s*(?P<file>\S.*?):(?P<line>\d+):(?P<col>\d+) - (?P<sev>error|warning|information): "
    r"(?P<msg>.*)$"
)
_PYRIGHT_RULE = re.compile(r"\s*\((?P<code>report\w+)\)\s*$")


def parse_pyright(output: str, source: str) -> list[Problem]:
    """pyright's CLI text: `path:line:col - error: message`, continued on indented lines."""
    problems: list[Problem] = []
    current: Problem | None = None
    for raw in output.splitlines():
        m = _PYRIGHT.match(raw)
        if m:
            current = Problem(
                source,
                m["file"],
                int(m["line"]),
                int(m["col"]),
                _severity(m["sev"]),
                m["msg"].strip(),
            )
            problems.append(current)
        elif current is not None and raw.startswith("    ") and raw.strip():
            current.message += "\n" + raw.strip()
        else:
            current = None
    for problem in problems:
        rule = _PYRIGHT_RULE.search(problem.message)
        if rule:
            problem.code = rule["code"]
            problem.message = problem.message[: rule.start()].rstrip()
    return problems


_COLON = re.compile(
    r"^(?P<file>[^\s:][^:]*?):(?P<line>\d+):(?:(?P<col>\d+):)? "
    r"(?P<sev>fatal error|error|warning|note|info): (?P<msg>.*?)(?:\s+\[(?P<code>[\w\-=.]+)\])?$"
)


def parse_colon_style(output: str, source: str) -> list[Problem]:
    """gcc/clang and mypy: `path:line[:col]: error: message [code]`."""
    return [
        Problem(
            source,
            m["file"],
            int(m["line"]),
            _int(m["col"]),
            _severity(m["sev"]),
            m["msg"].strip(),
            m["code"],
        )
        for m in _lines(_COLON, output)
    ]


_MSBUILD = re.compile(
    r"^\s*(?P<file>[^\s(:][^(:]*?)(?:\((?P<line>\d+)(?:,(?P<col>\d+))?(?:,\d+,\d+)?\))?\s*:\s*"
    r"(?P<sev>error|warning)\s+(?P<code>[A-Za-z]+\d+)\s*:\s*(?P<msg>.*?)"
    r"(?:\s+\[(?P<project>[^\]]+)\])?\s*$"
)


def parse_dotnet(output: str, source: str) -> list[Problem]:
    """MSBuild / dotnet: `path(line,col): error CS1234: message [project]`."""
    problems: list[Problem] = []
    for m in _lines(_MSBUILD, output):
        file: str | None = m["file"].strip()
        # `CSC : error CS5001` or `MSBUILD : error MSB1003` name a tool, not a file.
        if m["line"] is None and file is not None and not re.search(r"[./\\]", file):
            file = None
        problems.append(
            Problem(
                source,
                file,
                _int(m["line"]),
                _int(m["col"]),
                _severity(m["sev"]),
                m["msg"].strip(),
                m["code"],
            )
        )
    return _unique(problems)


_ESLINT = re.compile(
    r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): (?P<msg>.*?) "
    r"\[(?P<sev>Error|Warning|Info)(?:/(?P<code>[^\]]+))?\]$"
)


def parse_eslint(output: str, source: str) -> list[Problem]:
    """ESLint `--format unix`: `path:line:col: message [Error/rule-id]`."""
    return [
        Problem(
            source,
            m["file"],
            int(m["line"]),
            int(m["col"]),
            _severity(m["sev"]),
            m["msg"].strip(),
            m["code"],
        )
        for m in _lines(_ESLINT, output)
    ]


_PYTEST_SUMMARY = re.compile(r"^(?P<outcome>FAILED|ERROR) (?P<id>\S+)(?: - (?P<msg>.*))?$")
_PYTEST_HEADER = re.compile(r"^_{3,} (?P<title>.+?) _{3,}$")
_PYTEST_LOCATION = re.compile(r"^(?P<file>[^\s:][^:]*\.py):(?P<line>\d+):(?: (?P<rest>.*))?$")


def parse_pytest(output: str, source: str) -> list[Problem]:
    """pytest: failed and erroring tests from the short summary (`FAILED id - message`),
    located at the deepest workspace frame of their traceback (`path:line: ...`)."""
    sections = _pytest_sections(output)
    problems: list[Problem] = []
    for m in _lines(_PYTEST_SUMMARY, output):
        node_id = m["id"]
        file = node_id.split("::", 1)[0]
        location = _section_for(node_id, sections)
        line: int | None = None
        message = m["msg"] or ""
        if location is not None:
            frames, errors = location
            # Relative paths are under pytest's rootdir; absolute ones are libraries.
            inside = [f for f in frames if not f[0].startswith("/")] or frames
            if inside:
                file, line = inside[-1]
            if not message and errors:
                message = errors[-1]
        text = f"{m['outcome']} {node_id}" + (f" - {message}" if message else "")
        problems.append(Problem(source, file, line, None, "error", text, None))
    return problems


_Section = tuple[list[tuple[str, int]], list[str]]


def _pytest_sections(output: str) -> dict[str, _Section]:
    """Traceback frames and `E` lines per failure section, by the section's title."""
    sections: dict[str, _Section] = {}
    current: _Section | None = None
    for raw in output.splitlines():
        header = _PYTEST_HEADER.match(raw)
        if header:
            current = ([], [])
            sections[header["title"]] = current
        elif current is not None:
            if raw.startswith("=") and raw.endswith("="):
                current = None
                continue
            location = _PYTEST_LOCATION.match(raw)
            if location:
                current[0].append((location["file"], int(location["line"])))
            elif raw.startswith("E "):
                current[1].append(raw[1:].strip())
    return sections


def _section_for(node_id: str, sections: dict[str, _Section]) -> _Section | None:
    # Titles are `test_x`, `TestCart.test_x[1]`, `ERROR collecting path`, `ERROR at setup of
    # test_x`; node ids are `path::TestCart::test_x[1]`.
    for title, section in sections.items():
        name = re.sub(r"^ERROR (?:collecting|at (?:setup|teardown) of) ", "", title)
        if name == node_id or node_id.endswith("::" + name.replace(".", "::")):
            return section
    return None


def _lines(pattern: re.Pattern[str], output: str) -> Iterable[re.Match[str]]:
    for raw in output.splitlines():
        m = pattern.match(raw.rstrip())
        if m:
            yield m


def _unique(problems: Iterable[Problem]) -> list[Problem]:
    seen: set[tuple[str | None, int | None, int | None, str]] = set()
    kept: list[Problem] = []
    for problem in problems:
        key = (problem.file, problem.line, problem.column, problem.message)
        if key not in seen:
            seen.add(key)
            kept.append(problem)
    return kept


def parse_plain(output: str, source: str) -> list[Problem]:
    """No structure expected: the command's exit code and output tail speak for it."""
    del output, source
    return []


def parse_auto(output: str, source: str) -> list[Problem]:
    """Every parser in turn; a line recognised by several yields one problem."""
    found: list[Problem] = []
    for parser in (
        parse_pytest,
        parse_ruff,
        parse_pyright,
        parse_colon_style,
        parse_dotnet,
        parse_eslint,
    ):
        found += parser(output, source)
    return _unique(found)


PARSERS: dict[str, Callable[[str, str], list[Problem]]] = {
    "auto": parse_auto,
    "pytest": parse_pytest,
    "ruff": parse_ruff,
    "pyright": parse_pyright,
    "mypy": parse_colon_style,
    "gcc": parse_colon_style,
    "dotnet": parse_dotnet,
    "eslint": parse_eslint,
    "plain": parse_plain,
}
