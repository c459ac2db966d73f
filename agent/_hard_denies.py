"""Built-in hard denies for terminal commands: no configuration can lift them.

`inspect` returns findings for a parsed command line. A finding with `deny=True` is a hard
deny; one with `deny=False` means the command's real target cannot be seen (`rm -rf $DIR`),
so the gate asks instead of allowing it.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass

from agent._danger_paths import is_block_device, is_protected, is_root_like, leaves_workspace
from agent._shell_flags import normalize_args
from agent.shell_parse import ParsedCommand, SimpleCommand, deobfuscate

_DOWNLOADERS = frozenset({"curl", "wget", "fetch", "aria2c", "http", "https", "lwp-request"})
_INTERPRETER = re.compile(
    r"(?:ba|z|da|k|mk|fi|a|rba|ya)?sh|python[\d.]*|pypy[\d.]*|perl[\d.]*|ruby[\d.]*|node(js)?"
    r"|php[\d.]*|pwsh|powershell|lua[\d.]*|tclsh|deno|bun|osascript"
)
_POWER = frozenset({"shutdown", "reboot", "halt", "poweroff", "killall5"})
_SYSTEMCTL_POWER = frozenset(
    {
        "poweroff",
        "reboot",
        "halt",
        "kexec",
        "suspend",
        "hibernate",
        "hybrid-sleep",
        "emergency",
        "rescue",
    }
)
_FORMATTERS = frozenset({"mke2fs", "mkdosfs", "mkswap", "wipefs", "blkdiscard"})
_COPIERS = frozenset({"cp", "mv", "install", "ln", "rsync"})
_OVERWRITERS = frozenset({"tee", "shred", "truncate", "wipefs"})
_GIT_GLOBAL_VALUED = frozenset(
    {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--config-env", "--super-prefix"}
)
_PUSH_VALUED = frozenset({"-o", "--push-option", "--repo", "--receive-pack", "--exec"})
_MAIN = frozenset({"main", "master"})
# Workspace files that steer the agent or run code later: its config (gate rules), its
# journals, git internals (hooks, `core.pager`), editor and agent definitions. Writing them
# from a shell command is never covered by an allow rule.
_CONTROL_FILES = frozenset({"hotfix.toml", "pyproject.toml", ".gitattributes", ".gitmodules"})
_CONTROL_DIRS = frozenset({".git", ".hotfix", ".vscode", ".github"})
_GIT_OUTPUT = ("--output", "--output-directory")

# Every pattern below is bounded or anchored on literals: a hostile 100 kB command line must
# not stall the gate (unbounded `[^}]*\1` and friends backtrack quadratically).
_FORK_BOMB = re.compile(
    r"(?<![\w:.])([\w:.]{1,64})\s{0,8}(?:\(\s{0,8}\))?\s{0,8}\{[^}]{0,200}?"
    r"(?<![\w:.])\1\s{0,8}\|\s{0,8}&?\s{0,8}\1\s{0,8}&"
)
_SUBSTITUTED_FETCH = re.compile(r"(?:\$\(|<\(|`)\s{0,8}(?:[\w./-]{0,64}/)?(?:curl|wget|aria2c)\b")
_DEVICE_REDIRECT = re.compile(
    r">\s{0,8}/dev/(?!(?:null|zero|full|random|urandom|stdout|stderr|tty|fd/|pts/)\b)\w"
)
_PROTECTED_REDIRECT = re.compile(r">\s{0,8}/(?:etc|boot)/")
_SEGMENTS = re.compile(r"&&|\|\||[;&\n]")
_FETCHERS = frozenset({"curl", "wget", "aria2c"})
_RUNS_TEXT = frozenset({"eval", "source", "."})


@dataclass(frozen=True)
class Finding:
    """A reason the command must not run unattended.

    Attributes:
        rule: name of the built-in rule, e.g. `builtin:rm-root`.
        reason: what was seen.
        deny: True for a hard deny; False when a human has to look (at most `ask`).
    """

    rule: str
    reason: str
    deny: bool


def inspect(parsed: ParsedCommand) -> list[Finding]:
    """All findings for a command line, hard denies first."""
    found: list[Finding] = []
    commands = parsed.simple_commands if parsed.parseable else parsed.suspects
    for command in commands:
        found.extend(_check(command))
    if parsed.parseable:
        found.extend(_download_and_execute(parsed.simple_commands))
    else:
        found.extend(_raw_patterns(parsed.source))
    if _FORK_BOMB.search(parsed.source):
        found.append(_deny("fork-bomb", "a fork bomb (a function that pipes into itself)"))
    return sorted(found, key=lambda f: not f.deny)


def _deny(rule: str, reason: str) -> Finding:
    return Finding(f"builtin:{rule}", reason, True)


def _review(rule: str, reason: str) -> Finding:
    return Finding(f"builtin:{rule}", reason, False)


def _check(cmd: SimpleCommand) -> Iterator[Finding]:
    program, ops = cmd.program, cmd.operands
    for redirect in cmd.redirects:
        if redirect.writes:
            yield from _write_target(redirect.target, f"redirection to {redirect.target}")
    if program == "rm":
        if "--no-preserve-root" in cmd.flags:
            yield _deny("rm-root", "rm --no-preserve-root")
        if "-r" in cmd.flags:
            yield from _recursive(cmd, "rm-root", "recursive removal")
    elif program in ("chmod", "chown", "chgrp"):
        if "-R" in cmd.flags:
            yield from _recursive(cmd, "chmod-root", f"recursive {program}")
    elif program == "find":
        yield from _find(cmd)
    elif program == "mv":
        for source in ops[:-1]:
            if is_root_like(source):
                yield _deny("mv-root", f"moving {source!r} (root, home or a system directory)")
    elif program.startswith(("mkfs", "newfs")) or program in _FORMATTERS:
        yield _deny("mkfs", f"{program} formats or wipes a file system")
    elif program == "dd":
        for arg in cmd.args:
            if arg.startswith("of="):
                yield from _write_target(arg[3:], f"dd {arg}")
    elif program in _POWER:
        yield _deny("power", f"{program} stops the machine or every process")
    elif program in ("init", "telinit") and any(op in ("0", "6") for op in ops):
        yield _deny("power", f"{program} {' '.join(ops)} halts or reboots the machine")
    elif program == "systemctl" and any(op in _SYSTEMCTL_POWER for op in ops):
        yield _deny("power", f"systemctl {' '.join(ops)} stops the machine")
    elif program == "kill":
        yield from _kill(cmd.args)
    elif program == "git":
        yield from _git(cmd.args)
    if program in _COPIERS:
        targets = [a.partition("=")[2] for a in cmd.args if a.startswith("--target-directory=")]
        targets += [cmd.args[i + 1] for i, a in enumerate(cmd.args[:-1]) if a == "-t"]
        for target in targets + ([ops[-1]] if len(ops) >= 2 else []):
            yield from _write_target(target, f"{program} into {target}")
    elif program in _OVERWRITERS or (
        program == "sed" and any(f.startswith("-i") for f in cmd.flags)
    ):
        for target in ops:
            yield from _write_target(target, f"{program} {target}")


def _write_target(target: str, what: str) -> Iterator[Finding]:
    if is_block_device(target):
        yield _deny("device-write", f"{what}: writes to a disk or memory device")
    elif is_protected(target):
        yield _deny("etc-write", f"{what}: writes system configuration")
    elif leaves_workspace(target):
        yield _review("write-outside", f"{what}: writes outside the workspace")
    elif _controls_agent(target):
        yield _review(
            "write-control",
            f"{what}: writes a file that configures the agent or git (rules, hooks, journal)",
        )


def _controls_agent(target: str) -> bool:
    parts = [p for p in posixpath.normpath(target).lower().split("/") if p not in ("", ".")]
    if not parts:
        return False
    return parts[0] in _CONTROL_DIRS or (len(parts) == 1 and parts[0] in _CONTROL_FILES)


def _recursive(cmd: SimpleCommand, rule: str, what: str) -> Iterator[Finding]:
    for target in cmd.operands:
        if is_root_like(target):
            yield _deny(rule, f"{what} of {target!r} (root, home or a whole system directory)")
        elif "$" in target:
            yield _review(rule, f"{what} of {target!r}, a path only known at run time")


def _find(cmd: SimpleCommand) -> Iterator[Finding]:
    starts: list[str] = []
    for arg in cmd.args:
        if arg.startswith("-") or arg in ("(", "!", ")"):
            break
        starts.append(arg)
    execs = [
        cmd.args[i + 1].rsplit("/", 1)[-1]
        for i, a in enumerate(cmd.args[:-1])
        if a in ("-exec", "-execdir", "-ok", "-okdir")
    ]
    deletes = "-delete" in cmd.args or any(p in ("rm", "shred", "unlink") for p in execs)
    # `find . -name '*.pyc' -delete` is routine; only absolute or home starts are fatal.
    root = next((s for s in starts if s.startswith(("/", "~", "$")) and is_root_like(s)), None)
    if deletes and root is not None:
        yield _deny("rm-root", f"find {root} deleting what it finds")


def _kill(args: tuple[str, ...]) -> Iterator[Finding]:
    i = 0
    if args and args[0] in ("-s", "-n", "--signal"):
        i = 2
    elif args and args[0].startswith("-") and args[0] != "--":
        i = 1  # the signal: -9, -KILL, -SIGTERM
    targets = [a for a in args[i:] if a != "--"]
    if "-1" in targets:
        yield _deny("kill-all", "kill -1 signals every process")


def _git(args: tuple[str, ...]) -> Iterator[Finding]:
    # `git diff --output=FILE`, `git format-patch --output-directory DIR` write files.
    for index, arg in enumerate(args):
        name, eq, value = arg.partition("=")
        if name in _GIT_OUTPUT:
            target = value if eq else (args[index + 1] if index + 1 < len(args) else "")
            if target:
                yield from _write_target(target, f"git {name} {target}")
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in _GIT_GLOBAL_VALUED else 1
    if i >= len(args) or args[i] != "push":
        return
    rest = args[i + 1 :]
    _, flags = normalize_args("git", rest)
    positional: list[str] = []
    j = 0
    while j < len(rest):
        if rest[j] == "--":
            positional += rest[j + 1 :]
            break
        if not rest[j].startswith("-"):
            positional.append(rest[j])
        j += 2 if rest[j] in _PUSH_VALUED else 1
    refspecs = positional[1:]
    force = bool(flags & {"-f", "--force-with-lease", "--force-if-includes"})
    to_main = [r for r in refspecs if _destination(r) in _MAIN]
    if "--mirror" in flags:
        yield _deny("git-force-main", "git push --mirror overwrites every remote branch")
    elif to_main and (force or "-d" in flags or any(r.startswith(("+", ":")) for r in to_main)):
        yield _deny("git-force-main", f"git push forcing or deleting {to_main[0]!r}")
    elif force and flags & {"--all", "--branches"}:
        yield _deny("git-force-main", "git push --force of every branch (main among them)")
    elif force and (
        not refspecs or any(_destination(r) in ("HEAD", "") or "$" in r for r in refspecs)
    ):
        yield _review("git-force-main", "force push whose target branch is not named")


def _destination(refspec: str) -> str:
    dst = refspec.lstrip("+").rsplit(":", 1)[-1]
    return dst.removeprefix("refs/heads/")


def _download_and_execute(commands: tuple[SimpleCommand, ...]) -> Iterator[Finding]:
    first_download: dict[int, SimpleCommand] = {}
    for cmd in commands:
        known = first_download.get(cmd.pipeline)
        if cmd.program in _DOWNLOADERS and (known is None or cmd.stage < known.stage):
            first_download[cmd.pipeline] = cmd
    for cmd in commands:
        source = first_download.get(cmd.pipeline)
        if source is not None and cmd.stage > source.stage and _INTERPRETER.fullmatch(cmd.program):
            yield _deny("download-exec", f"{source.program} output piped into {cmd.program}")
            return


def _raw_patterns(source: str) -> Iterator[Finding]:
    plain = deobfuscate(source)
    for text in (source, plain):
        if _DEVICE_REDIRECT.search(text):
            yield _deny("device-write", "a redirection to a disk device")
        if _PROTECTED_REDIRECT.search(text):
            yield _deny("etc-write", "a write into /etc or /boot")
    if any(_pipes_download_into_interpreter(seg) for seg in _SEGMENTS.split(plain)):
        yield _deny("download-exec", "a download piped into an interpreter")
    if any(_runs_substituted_download(seg) for seg in _SEGMENTS.split(source)):
        yield _deny("download-exec", "downloaded text run by a shell or interpreter")


def _pipes_download_into_interpreter(segment: str) -> bool:
    downloaded = False
    for stage in segment.split("|"):
        names = {word.rsplit("/", 1)[-1] for word in stage.split()}
        if downloaded and any(_INTERPRETER.fullmatch(name) for name in names):
            return True
        downloaded = downloaded or bool(names & _FETCHERS)
    return False


def _runs_substituted_download(segment: str) -> bool:
    first = next(
        (
            m.start()
            for m in re.finditer(r"\S+", segment)
            if _is_runner(m.group().rsplit("/", 1)[-1])
        ),
        None,
    )
    return first is not None and any(
        m.start() > first for m in _SUBSTITUTED_FETCH.finditer(segment)
    )


def _is_runner(name: str) -> bool:
    return name in _RUNS_TEXT or _INTERPRETER.fullmatch(name) is not None
