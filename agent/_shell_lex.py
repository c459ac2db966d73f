"""Tokeniser for POSIX shell command lines, strict about what it cannot analyse.

It removes quotes the way the shell does, keeps parameter expansions literally (`$HOME`
stays `$HOME`, marked as expanding) and refuses, with `Unanalysable`, every construct whose
effect depends on running something first: command and process substitution, arithmetic,
ANSI-C quoting, here-documents, unterminated quotes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Longest operators first, so `&&` is not read as two `&`.
_CONTROL = ("&&", "||", ";;", "|&", ";", "&", "|", "\n", "(", ")")
_REDIRECT = ("&>>", "<<<", "<<-", "&>", ">>", ">|", ">&", "<&", "<>", "<<", ">", "<")
_SPECIAL_PARAMS = frozenset("@*#?-$!0123456789")
_NAME_START = re.compile(r"[A-Za-z_]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Unanalysable(Exception):
    """The command uses a construct whose effect cannot be known before running it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Word:
    """One shell word after quote removal."""

    text: str
    raw: str
    expands: bool = False  # holds `$NAME` / `${...}` outside single quotes
    glob: bool = False  # holds an unquoted `*`, `?`, `[`, `{` or `}`
    quoted: bool = False  # some part was quoted or backslash-escaped


@dataclass(frozen=True)
class Operator:
    """A control operator: `;`, `&&`, `||`, `|`, `|&`, `&`, newline, `(`, `)`, `;;`."""

    op: str


@dataclass(frozen=True)
class RedirectOp:
    """A redirection operator with its optional file-descriptor number (`2>`)."""

    op: str
    fd: str | None


Token = Word | Operator | RedirectOp


def tokenize(source: str) -> list[Token]:
    """Split `source` into words and operators.

    Raises:
        Unanalysable: the text uses a construct that cannot be analysed statically.
    """
    return _Lexer(source).run()


class _Lexer:
    def __init__(self, source: str) -> None:
        self.src = source
        self.tokens: list[Token] = []
        self.buf: list[str] = []
        self.start = -1
        self.expands = False
        self.glob = False
        self.quoted = False

    def run(self) -> list[Token]:
        src, i, n = self.src, 0, len(self.src)
        while i < n:
            c = src[i]
            if c in " \t\r":
                self._flush(i)
                i += 1
            elif c == "\\":
                i = self._backslash(i)
            elif c == "#" and self.start < 0:
                end = src.find("\n", i)
                i = n if end < 0 else end
            elif c == "'":
                self._begin(i)
                end = src.find("'", i + 1)
                if end < 0:
                    raise Unanalysable("unterminated single quote")
                self.buf.append(src[i + 1 : end])
                self.quoted = True
                i = end + 1
            elif c == '"':
                self._begin(i)
                i = self._double(i + 1)
            elif c == "$":
                self._begin(i)
                i = self._dollar(i, in_double=False)
            elif c == "`":
                raise Unanalysable("command substitution (backticks)")
            elif c in "<>" and src.startswith("(", i + 1):
                raise Unanalysable("process substitution")
            elif c in "<>" or (c == "&" and src.startswith(">", i + 1)):
                i = self._redirect(i)
            elif c in ";&|\n()":
                self._flush(i)
                op = next(o for o in _CONTROL if src.startswith(o, i))
                self.tokens.append(Operator(op))
                i += len(op)
            else:
                self._begin(i)
                if c in "*?[{}":
                    self.glob = True
                self.buf.append(c)
                i += 1
        self._flush(n)
        return self.tokens

    def _begin(self, i: int) -> None:
        if self.start < 0:
            self.start = i

    def _flush(self, end: int) -> None:
        if self.start < 0:
            return
        self.tokens.append(
            Word(
                "".join(self.buf), self.src[self.start : end], self.expands, self.glob, self.quoted
            )
        )
        self.buf, self.start = [], -1
        self.expands = self.glob = self.quoted = False

    def _backslash(self, i: int) -> int:
        if self.src.startswith("\n", i + 1):
            return i + 2  # line continuation
        self._begin(i)
        self.quoted = True
        if i + 1 >= len(self.src):
            self.buf.append("\\")
            return i + 1
        self.buf.append(self.src[i + 1])
        return i + 2

    def _double(self, i: int) -> int:
        src, n = self.src, len(self.src)
        self.quoted = True
        while i < n:
            c = src[i]
            if c == '"':
                return i + 1
            if c == "\\" and i + 1 < n and src[i + 1] in '$`"\\\n':
                if src[i + 1] != "\n":
                    self.buf.append(src[i + 1])
                i += 2
            elif c == "`":
                raise Unanalysable("command substitution (backticks)")
            elif c == "$":
                i = self._dollar(i, in_double=True)
            else:
                self.buf.append(c)
                i += 1
        raise Unanalysable("unterminated double quote")

    def _dollar(self, i: int, *, in_double: bool) -> int:
        src = self.src
        nxt = src[i + 1] if i + 1 < len(src) else ""
        if nxt == "(":
            if src.startswith("((", i + 1):
                raise Unanalysable("arithmetic expansion")
            raise Unanalysable("command substitution")
        if nxt == "'" and not in_double:
            raise Unanalysable("ANSI-C quoting ($'...')")
        if nxt == '"' and not in_double:
            self.quoted = True
            return self._double(i + 2)  # $"..." is a translated string: quoted text
        if nxt == "{":
            end = src.find("}", i + 2)
            if end < 0:
                raise Unanalysable("unterminated ${...}")
            inner = src[i + 2 : end]
            if "$(" in inner or "`" in inner or "${" in inner:
                raise Unanalysable("nested expansion inside ${...}")
            self.buf.append(src[i : end + 1])
            self.expands = True
            return end + 1
        if _NAME_START.match(nxt):
            match = _NAME.match(src, i + 1)
            assert match is not None
            self.buf.append("$" + match.group())
            self.expands = True
            return match.end()
        if nxt in _SPECIAL_PARAMS and nxt:
            self.buf.append("$" + nxt)
            self.expands = True
            return i + 2
        self.buf.append("$")
        return i + 1

    def _redirect(self, i: int) -> int:
        op = next(o for o in _REDIRECT if self.src.startswith(o, i))
        fd: str | None = None
        pending = self.src[self.start : i] if self.start >= 0 else ""
        if pending.isdigit():
            fd = pending  # `2>`: the digits name a descriptor, they are not a word
            self.buf, self.start = [], -1
            self.expands = self.glob = self.quoted = False
        else:
            self._flush(i)
        if op in ("<<", "<<-"):
            raise Unanalysable("here-document")
        self.tokens.append(RedirectOp(op, fd))
        return i + len(op)
