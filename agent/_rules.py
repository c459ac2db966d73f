"""Gate rules: `Tool`, `Tool(specifier)`, `server/*`, parsed once and matched many times.

The tool part matches a tool's name, any alias, or `source/name` for MCP tools (`azure/*`).
The specifier depends on the call: a terminal command pattern (`git status*`), a domain
(`domain:*.microsoft.com`), a URL or path glob (`src/**`), else a glob over the arguments.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from agent._shell_lex import Unanalysable, Word, tokenize
from agent.shell_parse import ParsedCommand, SimpleCommand, make_command, parse_command
from tools.base import Tool, canonical_json

_TOOL_PART = re.compile(r"[A-Za-z0-9_.\-/*]+")
_HOST = re.compile(r"(\*|(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)")
_PATH_ARGS = ("path", "filePath", "file_path", "file")


class PolicyError(ValueError):
    """A gate rule or approval policy cannot be used; the message says which and why."""


@dataclass(frozen=True)
class ToolIdentity:
    """The names a rule can match a tool by."""

    name: str
    aliases: tuple[str, ...] = ()
    source: str = "builtin"

    @classmethod
    def of(cls, tool: Tool) -> ToolIdentity:
        return cls(tool.name, tuple(tool.aliases), tool.source)

    @property
    def names(self) -> tuple[str, ...]:
        names = [self.name, *self.aliases]
        if self.source != "builtin":  # MCP tools also answer to `server/tool`
            names += [f"{self.source}/{n}" for n in names if "/" not in n]
        return tuple(names)

    @property
    def is_terminal(self) -> bool:
        return any(n.rsplit("/", 1)[-1].lower() == "runinterminal" for n in self.names)


@dataclass(frozen=True)
class Rule:
    """One parsed rule. Build with `parse_rule`."""

    text: str
    tool: str
    specifier: str | None
    _tool_re: re.Pattern[str] = field(repr=False, compare=False)
    _pattern: tuple[re.Pattern[str], ...] = field(repr=False, compare=False, default=())

    @property
    def explicit(self) -> bool:
        """True when the tool part names a tool rather than a wildcard (`*`, `azure/*`)."""
        return "*" not in self.tool

    def matches_tool(self, identity: ToolIdentity) -> bool:
        return any(self._tool_re.fullmatch(n) for n in identity.names)

    def matches_command(self, cmd: SimpleCommand, *, literal_only: bool) -> bool:
        """Whether the command pattern matches one simple command.

        An allow (`literal_only`) compares the command as written, environment prefix
        included, so `git status*` does not cover `PAGER='sh -c …' git status`; deny and ask
        also compare the bare, normalised and flags-first forms, so `rm -fr` meets a rule
        written `rm -rf*`.
        """
        if self.specifier is None:
            return True
        if not self._pattern:
            return _glob(self.specifier).fullmatch(cmd.written) is not None
        literal, normal, flags_first = self._pattern
        if literal.fullmatch(cmd.written):
            return True
        return not literal_only and bool(
            literal.fullmatch(cmd.text)
            or normal.fullmatch(cmd.normalized_text)
            or flags_first.fullmatch(_flags_first(cmd))
        )

    def matches_args(self, args: Mapping[str, Any], *, for_allow: bool) -> bool:
        """Whether the specifier matches a non-terminal call's arguments.

        An unclear URL or a path that climbs out of the workspace never satisfies an allow
        but does satisfy a deny or ask: doubt counts against the call.
        """
        spec = self.specifier
        if spec is None:
            return True
        url = next((v for k in ("url", "uri") if isinstance(v := args.get(k), str)), None)
        if spec.startswith("domain:"):
            if url is None:
                return False
            host = _host(url)
            return not for_allow if host is None else _domain_matches(spec[7:].lower(), host)
        if url is not None:
            if _host(url) is None:
                return not for_allow
            return _glob(spec).fullmatch(url) is not None
        path = next((v for k in _PATH_ARGS if isinstance(v := args.get(k), str)), None)
        if path is not None:
            return _path_matches(spec, path, for_allow=for_allow)
        texts = [canonical_json(dict(args))]
        if not for_allow:
            texts += [v for v in args.values() if isinstance(v, str)]
        return any(_glob(spec).fullmatch(t) for t in texts)


def parse_rule(text: str) -> Rule:
    """Parse `Tool`, `Tool(specifier)` or `server/*`.

    Raises:
        PolicyError: the rule is malformed; the message says how.
    """
    if not isinstance(text, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise PolicyError(f"rule {text!r}: a rule is a string like 'runInTerminal(git status*)'")
    rule = text.strip()
    if not rule:
        raise PolicyError("empty rule")
    tool, paren, rest = rule.partition("(")
    tool = tool.strip()
    if not paren and ")" in rule:
        raise PolicyError(f"rule {rule!r}: ')' without '('")
    if not _TOOL_PART.fullmatch(tool):
        raise PolicyError(
            f"rule {rule!r}: tool name {tool!r} may only contain letters, digits, "
            "'_', '-', '.', '/' and '*'"
        )
    specifier: str | None = None
    if paren:
        if not rest.endswith(")"):
            raise PolicyError(f"rule {rule!r}: missing ')' at the end")
        specifier = rest[:-1].strip()
        if not specifier:
            raise PolicyError(
                f"rule {rule!r}: empty '()'; write {tool!r} alone to match every call of the tool"
            )
    tool_re = re.compile("".join(".*" if c == "*" else re.escape(c) for c in tool), re.I)
    pattern: tuple[re.Pattern[str], ...] = ()
    if specifier is not None:
        pattern = _check_specifier(rule, tool, specifier)
    return Rule(rule, tool, specifier, tool_re, pattern)


def _check_specifier(rule: str, tool: str, spec: str) -> tuple[re.Pattern[str], ...]:
    if spec.startswith("domain:"):
        if not _HOST.fullmatch(spec[7:].lower()):
            raise PolicyError(f"rule {rule!r}: {spec[7:]!r} is not a host name or '*.domain'")
        return ()
    terminal = tool.rsplit("/", 1)[-1].lower() == "runinterminal"
    try:
        tokens = tokenize(spec)
    except Unanalysable as exc:
        if terminal:
            raise PolicyError(f"rule {rule!r}: command pattern uses {exc.reason}") from None
        return ()
    words = [t for t in tokens if isinstance(t, Word)]
    if len(words) != len(tokens) or not words:
        if terminal:
            raise PolicyError(
                f"rule {rule!r}: a command pattern describes one simple command "
                "(no ';', '&&', '|' or redirections); write one rule per command"
            )
        return ()
    return _command_patterns([w.text for w in words])


def _command_patterns(words: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    # A trailing `*` glued to a flag (`--force*`) must not stop the flag from normalising.
    star = words[-1].endswith("*") and words[-1] != "*"
    head = [*words[:-1], words[-1].rstrip("*")] if star else list(words)
    head = [w for w in head if w] or ["*"]
    cmd = make_command(head)
    suffix = "*" if star else ""
    return (
        _glob(" ".join(words)),
        _glob(cmd.normalized_text + suffix),
        _glob(_flags_first(cmd) + suffix),
    )


def _flags_first(cmd: SimpleCommand) -> str:
    flags: list[str] = []
    rest: list[str] = []
    operands_only = False
    for arg in cmd.normalized:
        if arg == "--":
            operands_only = True
        is_flag = not operands_only and arg.startswith("-") and arg != "-"
        (flags if is_flag else rest).append(arg)
    return " ".join((cmd.program, *sorted(flags), *rest))


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else re.escape(c) for c in pattern), re.S)


def _path_glob(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        else:
            c = pattern[i]
            out.append("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c))
            i += 1
    return re.compile("".join(out), re.S)


def _path_matches(pattern: str, path: str, *, for_allow: bool) -> bool:
    normal = posixpath.normpath(path) if path else path
    normal = "" if normal == "." else normal
    climbs = normal == ".." or normal.startswith("../")
    if for_allow and (climbs or "\x00" in path):
        return False
    regex = _path_glob(posixpath.normpath(pattern) if pattern not in ("**", "*") else pattern)
    return bool(regex.fullmatch(normal) or (not for_allow and regex.fullmatch(path)))


def _host(url: str) -> str | None:
    """The URL's host, or None when the URL could be read two ways."""
    if any(ord(c) < 0x21 or c == "\\" for c in url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    if "@" in parts.netloc:
        return None  # `https://trusted.example@evil.example/` is made to be misread

    return host.rstrip(".")


def _domain_matches(pattern: str, host: str) -> bool:
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern.rstrip(".")


def first_match(
    rules: Sequence[Rule],
    identity: ToolIdentity,
    args: Mapping[str, Any],
    parsed: ParsedCommand | None,
) -> Rule | None:
    """The first rule that matches the call (deny / ask semantics: any part matching)."""
    for rule in rules:
        if not rule.matches_tool(identity):
            continue
        if rule.specifier is None:
            return rule
        if parsed is not None:
            subjects = parsed.simple_commands + parsed.suspects
            if any(rule.matches_command(c, literal_only=False) for c in subjects):
                return rule
        elif rule.matches_args(args, for_allow=False):
            return rule
    return None


def covering_rules(
    rules: Sequence[Rule],
    identity: ToolIdentity,
    args: Mapping[str, Any],
    parsed: ParsedCommand | None,
) -> list[Rule] | None:
    """Rules that together allow the call, or None.

    For a terminal command every simple command must match some rule; an unparseable or
    empty command line is only covered by a rule without a specifier.
    """
    candidates = [r for r in rules if r.matches_tool(identity)]
    bare = next((r for r in candidates if r.specifier is None), None)
    if bare is not None:
        return [bare]
    if parsed is None:
        found = next((r for r in candidates if r.matches_args(args, for_allow=True)), None)
        return None if found is None else [found]
    if not parsed.parseable or not parsed.simple_commands:
        return None
    used: list[Rule] = []
    for cmd in parsed.simple_commands:
        found = next((r for r in candidates if r.matches_command(cmd, literal_only=True)), None)
        if found is None:
            return None
        if found not in used:
            used.append(found)
    return used


def parse_terminal(identity: ToolIdentity, args: Mapping[str, Any]) -> ParsedCommand | None:
    """The parsed command of a terminal call, or None for any other call."""
    command = args.get("command")
    if identity.is_terminal and isinstance(command, str):
        return parse_command(command)
    return None
