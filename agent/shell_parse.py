"""Terminal commands taken apart before the gate matches rules against them.

`parse_command("cd app && FOO=1 sudo /bin/rm -fr build | tee log")` yields one
`SimpleCommand` per program that will run (`cd`, `sudo`, `rm`, `tee`), with the program
reduced to its basename, env-assignment prefixes stripped, quotes removed and flags
normalised. Wrappers (`sudo`, `env`, `timeout`, `sh -c '...'`, `find -exec`) contribute both
themselves and what they run.

Anything whose effect depends on running something first (command substitution, `eval`,
`xargs`, a computed program name, here-documents, IFS tricks) makes the command
*unparseable*: the gate then never allows it without a human, and still denies it when a
hard-deny pattern is visible in its de-obfuscated text (`suspects`).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from dataclasses import dataclass

from agent._shell_flags import normalize_args, operands
from agent._shell_lex import Operator, RedirectOp, Token, Unanalysable, Word, tokenize
from agent._shell_wrappers import unwrap

_MAX_DEPTH = 8
_MAX_SUSPECTS = 4000
# Words per suspect: enough for any hard-deny shape, bounded so huge lines stay cheap.
_SUSPECT_WINDOW = 64
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=")
# Reserved words that only frame the command that follows them.
_TRANSPARENT = frozenset(
    {"{", "}", "!", "if", "then", "else", "elif", "fi", "do", "done", "while", "until"}
)
_COMPOUND = frozenset({"for", "case", "select", "function", "coproc", "esac", "in"})
# Prefix assignments that cannot change what a program runs; any other (`PAGER=…`,
# `LD_PRELOAD=…`, `GIT_CONFIG_…=…`) stays part of the command an allow rule must cover.
_HARMLESS_ENV = re.compile(
    r"(LANG|LANGUAGE|LC_[A-Z]+|TZ|TERM|COLUMNS|LINES|NO_COLOR|FORCE_COLOR|CLICOLOR(_FORCE)?|CI"
    r"|DEBUG|VERBOSE|NODE_ENV|RUST_LOG|RUST_BACKTRACE|PYTHONUNBUFFERED|PYTHONDONTWRITEBYTECODE"
    r"|PYTHONHASHSEED|PYTHONIOENCODING|GIT_TERMINAL_PROMPT)\+?="
)
_WRITE_OPS = frozenset({">", ">>", ">|", "&>", "&>>", "<>"})
_INPUT_OPS = frozenset({"<", "<<<", "<&", "<>"})


@dataclass(frozen=True)
class Redirect:
    """One redirection of a simple command (`2>/dev/null`, `> out.txt`)."""

    op: str
    fd: str | None
    target: str

    @property
    def writes(self) -> bool:
        """True when the redirection writes to the target file."""
        if self.op == ">&":
            return not (self.target.isdigit() or self.target == "-")  # `>&2` duplicates an fd
        return self.op in _WRITE_OPS


@dataclass(frozen=True)
class SimpleCommand:
    """One program invocation, as the shell will run it.

    Attributes:
        program: basename of the program (`/bin/rm` -> `rm`); empty for a bare redirection.
        args: the arguments after quote removal, in order.
        flags: normalised flag names (`rm -Rf` -> {"-f", "-r"}).
        raw: the command's own source text.
        path: the program as written (`/bin/rm`).
        normalized: `args` with flags normalised (see `agent._shell_flags`).
        redirects: its redirections.
        pipeline: which pipeline of the command line it belongs to.
        stage: its position in that pipeline (0 = first).
        env: `NAME=value` prefix assignments (quotes removed), except harmless ones such as
            `LANG=C`; they can change what the program runs (`PAGER=sh git log`).
    """

    program: str
    args: tuple[str, ...]
    flags: frozenset[str]
    raw: str
    path: str = ""
    normalized: tuple[str, ...] = ()
    redirects: tuple[Redirect, ...] = ()
    pipeline: int = 0
    stage: int = 0
    env: tuple[str, ...] = ()

    @property
    def operands(self) -> tuple[str, ...]:
        """Arguments that are not flags."""
        return operands(self.args)

    @property
    def text(self) -> str:
        """The command as written, without quotes or redirections (`/bin/rm -fr x`)."""
        return " ".join((self.path or self.program, *self.args))

    @property
    def written(self) -> str:
        """`text` with its environment prefix (`PAGER=less git log`): what an allow covers."""
        return " ".join((*self.env, self.text))

    @property
    def normalized_text(self) -> str:
        """Basename plus normalised arguments (`rm -f -r x`)."""
        return " ".join((self.program, *self.normalized))


@dataclass(frozen=True)
class ParsedCommand:
    """A command line taken apart.

    Attributes:
        source: the text as given.
        simple_commands: every program that runs (best effort when not parseable).
        parseable: False when the line uses something that cannot be analysed safely.
        reason: why it is not parseable.
        suspects: for an unparseable line, every word-suffix of its de-obfuscated text,
            read as a command: `$(echo rm) -rf /` gives `rm -rf /` among them.
    """

    source: str
    simple_commands: tuple[SimpleCommand, ...]
    parseable: bool
    reason: str = ""
    suspects: tuple[SimpleCommand, ...] = ()


def parse_command(source: str) -> ParsedCommand:
    """Take a terminal command line apart (never raises)."""
    parser = _Parser()
    try:
        parser.parse(source, depth=0, stdin_piped=False)
    except Unanalysable as exc:
        return _unparseable(source, exc.reason)
    return ParsedCommand(source, tuple(parser.commands), True)


def make_command(
    words: Sequence[str],
    *,
    raw: str | None = None,
    redirects: tuple[Redirect, ...] = (),
    pipeline: int = 0,
    stage: int = 0,
    env: tuple[str, ...] = (),
) -> SimpleCommand:
    """Build a `SimpleCommand` from plain words (program first); used for patterns too."""
    path = words[0] if words else ""
    program = path.rstrip("/").rsplit("/", 1)[-1] if path.rstrip("/") else path
    args = tuple(words[1:])
    normalized, flags = normalize_args(program, args)
    return SimpleCommand(
        program,
        args,
        flags,
        " ".join(words) if raw is None else raw,
        path,
        normalized,
        redirects,
        pipeline,
        stage,
        env,
    )


def deobfuscate(source: str) -> str:
    """The text with quotes, escapes, `$IFS` and substitution brackets removed.

    `r''m${IFS}-rf${IFS}/` becomes `rm -rf /` and `$(echo rm) -rf /` becomes
    ` echo rm  -rf /`: what a reader would see, for spotting hard-deny patterns.
    """
    text = source.replace("\\\n", "")
    # Bounded repeats: an unterminated `$'` or `${` must not make this quadratic.
    text = re.sub(r"\$'((?:[^'\\]|\\.){0,512})'", _decode_ansi_c, text)
    text = re.sub(r"\$\{IFS[^}]{0,64}\}|\$IFS\b", " ", text)
    text = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]{0,64})[^}]{0,64}\}", r"$\1", text)
    text = re.sub(r"[\"'\\]", "", text)
    return re.sub(r"\$\(\(|\$\(|<\(|>\(|[`(){}]", " ", text)


def _decode_ansi_c(match: re.Match[str]) -> str:
    try:
        return codecs.decode(match.group(1), "unicode_escape")
    except (UnicodeDecodeError, ValueError):
        return match.group(1)


def _unparseable(source: str, reason: str) -> ParsedCommand:
    segments = [seg.split() for seg in re.split(r"&&|\|\||[;&|\n]", deobfuscate(source))]
    segments = [words for words in segments if words]
    commands = tuple(make_command(words) for words in segments)
    suspects: list[SimpleCommand] = []
    for words in segments:
        if len(suspects) >= _MAX_SUSPECTS:
            break
        for start, word in enumerate(words):
            window = words[start : start + _SUSPECT_WINDOW]
            # `x=rm -rf /` (an assignment or alias) also hides a command after its `=`.
            value = word.partition("=")[2]
            variants = [window, [value, *window[1:]]] if value else [window]
            suspects.extend(make_command(v) for v in variants)
            if len(suspects) >= _MAX_SUSPECTS:
                break
    return ParsedCommand(source, commands, False, reason, tuple(suspects))


class _Parser:
    def __init__(self) -> None:
        self.commands: list[SimpleCommand] = []
        self._pipelines = 0

    def _new_pipeline(self) -> int:
        self._pipelines += 1
        return self._pipelines

    def parse(self, source: str, *, depth: int, stdin_piped: bool) -> None:
        if depth > _MAX_DEPTH:
            raise Unanalysable("commands nested too deeply")
        current: list[Token] = []
        pipeline, stage, parens = self._new_pipeline(), 0, 0
        first = pipeline  # only the first pipeline of a nested script inherits its stdin
        for token in tokenize(source):
            if not isinstance(token, Operator):
                current.append(token)
                continue
            if token.op == "(":
                if current:
                    raise Unanalysable("function definition")
                parens += 1
                continue
            if token.op == ";;":
                raise Unanalysable("case statement")
            self._segment(current, pipeline, stage, depth, stdin_piped and pipeline == first)
            current = []
            if token.op == ")":
                parens -= 1
                if parens < 0:
                    raise Unanalysable("unbalanced parenthesis")
            elif token.op in ("|", "|&"):
                stage += 1
            else:
                pipeline, stage = self._new_pipeline(), 0
        self._segment(current, pipeline, stage, depth, stdin_piped and pipeline == first)
        if parens:
            raise Unanalysable("unbalanced parenthesis")

    def _segment(
        self, tokens: list[Token], pipeline: int, stage: int, depth: int, stdin_piped: bool
    ) -> None:
        words: list[Word] = []
        redirects: list[Redirect] = []
        raw: list[str] = []
        pending: RedirectOp | None = None
        for token in tokens:
            if isinstance(token, RedirectOp):
                if pending is not None:
                    raise Unanalysable("redirection without a target")
                pending = token
            elif isinstance(token, Word):
                if pending is not None:
                    redirects.append(Redirect(pending.op, pending.fd, token.text))
                    raw.append(f"{pending.fd or ''}{pending.op}{token.raw}")
                    pending = None
                else:
                    words.append(token)
                    raw.append(token.raw)
        if pending is not None:
            raise Unanalysable("redirection without a target")
        start = 0
        while start < len(words):
            if _ASSIGNMENT.match(words[start].raw) or words[start].raw in _TRANSPARENT:
                start += 1
            elif words[start].raw in _COMPOUND:
                raise Unanalysable(f"'{words[start].raw}' blocks are not analysed")
            else:
                break
        env = tuple(
            w.text
            for w in words[:start]
            if _ASSIGNMENT.match(w.raw) and not _HARMLESS_ENV.match(w.raw)
        )
        words = words[start:]
        if words:
            self._command(words, redirects, pipeline, stage, depth, stdin_piped, " ".join(raw), env)
        elif redirects:
            self.commands.append(
                SimpleCommand(
                    "",
                    (),
                    frozenset(),
                    " ".join(raw),
                    redirects=tuple(redirects),
                    pipeline=pipeline,
                    stage=stage,
                )
            )

    def _command(
        self,
        words: Sequence[Word],
        redirects: list[Redirect],
        pipeline: int,
        stage: int,
        depth: int,
        stdin_piped: bool,
        raw: str,
        env: tuple[str, ...] = (),
    ) -> None:
        if depth > _MAX_DEPTH:
            raise Unanalysable("commands nested too deeply")
        head = words[0]
        if any("$IFS" in w.raw or "${IFS" in w.raw for w in words):
            raise Unanalysable("IFS manipulation")
        if (head.expands or head.glob) and head.text not in ("[", "[["):
            raise Unanalysable("the program name is computed at run time")
        command = make_command(
            [w.text for w in words],
            raw=raw,
            redirects=tuple(redirects),
            pipeline=pipeline,
            stage=stage,
            env=env,
        )
        self.commands.append(command)
        inner = unwrap(command.program, words[1:])
        piped = stdin_piped or stage > 0
        if inner.reads_stdin and (piped or any(r.op in _INPUT_OPS for r in redirects)):
            raise Unanalysable(f"{command.program} reads commands from its input")
        for inner_words in inner.commands:
            self._command(
                inner_words,
                redirects,
                pipeline,
                stage,
                depth + 1,
                stdin_piped,
                " ".join(w.raw for w in inner_words),
            )
        for script in inner.scripts:
            self.parse(script, depth=depth + 1, stdin_piped=piped)
