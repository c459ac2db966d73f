"""Commands that run other commands: `sudo X`, `env X`, `sh -c '...'`, `find -exec X ;`.

The parser asks `unwrap` for the command(s) inside such a wrapper so the gate judges what
will really run. An option the table does not know raises `Unanalysable`: guessing whether
it takes a value could hide the real program.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agent._shell_lex import Unanalysable, Word


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


SHELLS = _names("sh bash zsh dash ksh ash mksh yash rbash fish")


@dataclass(frozen=True)
class Inner:
    """What a wrapper runs: commands as words, command strings to parse, or its stdin."""

    commands: tuple[tuple[Word, ...], ...] = ()
    scripts: tuple[str, ...] = ()
    reads_stdin: bool = False


@dataclass(frozen=True)
class _Options:
    flags: str = ""  # short options without a value
    valued: str = ""  # short options that take a value
    long_flags: frozenset[str] = frozenset()
    long_valued: frozenset[str] = frozenset()
    numeric: bool = False  # accepts `-10` (nice)


def _skip(program: str, args: Sequence[Word], spec: _Options) -> int:
    """Index of the first argument after the wrapper's own options."""
    i = 0
    while i < len(args):
        text = args[i].text
        if text == "--":
            return i + 1
        if not text.startswith("-") or text == "-":
            return i
        i += 1
        if text.startswith("--"):
            name, eq, _ = text.partition("=")
            if name in spec.long_valued:
                i += 0 if eq else 1
            elif name not in spec.long_flags:
                raise Unanalysable(f"unknown option {name} for {program}")
            continue
        if spec.numeric and text[1:].isdigit():
            continue
        body = text[1:]
        for k, ch in enumerate(body):
            if ch in spec.valued:
                i += 1 if k == len(body) - 1 else 0  # value attached or in the next word
                break
            if ch not in spec.flags:
                raise Unanalysable(f"unknown option -{ch} for {program}")
    return i


def _in_cluster(text: str, flags: str, letter: str) -> bool:
    """True when `text` is a cluster of value-less short flags that includes `letter`."""
    body = text[1:] if text.startswith("-") and not text.startswith("--") else ""
    # Stop at the first option that takes a value: the rest of the word is that value.
    prefix = "".join(itertools.takewhile(lambda ch: ch in flags, body))
    return letter in prefix


def _skip_assignments(args: Sequence[Word], i: int) -> int:
    while i < len(args) and "=" in args[i].text and not args[i].text.startswith("="):
        i += 1
    return i


def _rest(args: Sequence[Word], i: int) -> Inner:
    return Inner(commands=(tuple(args[i:]),)) if i < len(args) else Inner()


def _simple(spec: _Options) -> Callable[[str, Sequence[Word]], Inner]:
    return lambda program, args: _rest(args, _skip(program, args, spec))


def _sudo(program: str, args: Sequence[Word]) -> Inner:
    spec = _Options(
        flags="AbEHiKklnPSsVve",
        valued="ughpCDrtUTR",
        long_flags=_names(
            "--askpass --background --preserve-env --set-home --login "
            "--remove-timestamp --reset-timestamp --list --non-interactive "
            "--preserve-groups --stdin --shell --validate --edit"
        ),
        long_valued=_names(
            "--user --group --host --prompt --close-from --chdir --role --type "
            "--other-user --command-timeout --chroot"
        ),
    )
    start = _skip(program, args, spec)
    editing = any(a.text == "--edit" or _in_cluster(a.text, spec.flags, "e") for a in args[:start])
    return Inner() if editing else _rest(args, _skip_assignments(args, start))


def _env(program: str, args: Sequence[Word]) -> Inner:
    # `env -S '...'` splits a string into a command: unknown to the table, so unanalysable.
    spec = _Options(
        flags="i0v",
        valued="uC",
        long_flags=_names(
            "--ignore-environment --null --debug --block-signal --default-signal "
            "--ignore-signal --list-signal-handling"
        ),
        long_valued=_names("--unset --chdir"),
    )
    i = _skip(program, args, spec)
    while i < len(args) and args[i].text == "-":
        i += 1
    return _rest(args, _skip_assignments(args, i))


def _timeout(program: str, args: Sequence[Word]) -> Inner:
    spec = _Options(
        flags="v",
        valued="sk",
        long_flags=_names("--preserve-status --foreground --verbose"),
        long_valued=_names("--signal --kill-after"),
    )
    return _rest(args, _skip(program, args, spec) + 1)  # + the DURATION operand


def _ionice(program: str, args: Sequence[Word]) -> Inner:
    spec = _Options(
        flags="t",
        valued="cnpPu",
        long_flags=_names("--ignore"),
        long_valued=_names("--class --classdata --pid --pgid --uid"),
    )
    start = _skip(program, args, spec)
    if any(a.text.startswith(("-p", "-P", "-u", "--pid", "--pgid", "--uid")) for a in args[:start]):
        return Inner()  # re-prioritises existing processes, runs nothing
    return _rest(args, start)


def _chroot(program: str, args: Sequence[Word]) -> Inner:
    spec = _Options(long_flags=_names("--skip-chdir"), long_valued=_names("--userspec --groups"))
    return _rest(args, _skip(program, args, spec) + 1)  # + the NEWROOT operand


def _watch(program: str, args: Sequence[Word]) -> Inner:
    spec = _Options(
        flags="bcdegtxp",
        valued="nq",
        long_flags=_names(
            "--beep --color --differences --errexit --chgexit --no-title --exec --precise"
        ),
        long_valued=_names("--interval --equexit"),
    )
    start = _skip(program, args, spec)
    if start >= len(args):
        return Inner()
    uses_exec = any(
        a.text == "--exec" or _in_cluster(a.text, spec.flags, "x") for a in args[:start]
    )
    if uses_exec:
        return _rest(args, start)
    return Inner(scripts=(" ".join(a.text for a in args[start:]),))  # run through `sh -c`


def _su(program: str, args: Sequence[Word]) -> Inner:
    for i, arg in enumerate(args):
        text = arg.text
        if text.startswith("--command="):
            return Inner(scripts=(text.partition("=")[2],))
        is_cluster = text.startswith("-") and not text.startswith("--") and text.endswith("c")
        if text == "--command" or is_cluster:
            if i + 1 >= len(args):
                raise Unanalysable(f"{program} -c without a command")
            return Inner(scripts=(args[i + 1].text,))
    return Inner()  # an interactive login shell: nothing to analyse


def _shell(program: str, args: Sequence[Word]) -> Inner:
    i, has_c = 0, False
    while i < len(args):
        text = args[i].text
        if text == "--":
            i += 1
            break
        if text in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
            i += 2
            continue
        if not text.startswith(("-", "+")) or text in ("-", "+"):
            break
        if not text.startswith("--") and "c" in text[1:]:
            has_c = True
        i += 1
    if has_c:
        if i >= len(args):
            raise Unanalysable(f"{program} -c without a command")
        return Inner(scripts=(args[i].text,))
    if i < len(args):
        return Inner()  # runs a script file: judged as the program itself
    return Inner(reads_stdin=True)


def _find(program: str, args: Sequence[Word]) -> Inner:
    del program
    commands: list[tuple[Word, ...]] = []
    i = 0
    while i < len(args):
        if args[i].text in ("-exec", "-execdir", "-ok", "-okdir"):
            end = i + 1
            while end < len(args) and args[end].text not in (";", "+"):
                end += 1
            if end > i + 1:
                commands.append(tuple(args[i + 1 : end]))
            i = end
        i += 1
    return Inner(commands=tuple(commands))


def _trap(program: str, args: Sequence[Word]) -> Inner:
    del program
    if not args or args[0].text.startswith("-"):
        return Inner()
    return Inner(scripts=(args[0].text,))


def _refuse(reason: str) -> Callable[[str, Sequence[Word]], Inner]:
    def refuse(program: str, args: Sequence[Word]) -> Inner:
        raise Unanalysable(reason)

    return refuse


_WRAPPERS: dict[str, Callable[[str, Sequence[Word]], Inner]] = {
    "sudo": _sudo,
    "doas": _simple(_Options(flags="ns", valued="uC")),
    "env": _env,
    "nohup": _simple(_Options()),
    "builtin": _simple(_Options()),
    "busybox": _simple(_Options()),
    "toybox": _simple(_Options()),
    "unbuffer": _simple(_Options()),
    "command": _simple(_Options(flags="pvV")),
    "exec": _simple(_Options(flags="cl", valued="a")),
    "nice": _simple(_Options(valued="n", numeric=True, long_valued=_names("--adjustment"))),
    "stdbuf": _simple(_Options(valued="ioe", long_valued=_names("--input --output --error"))),
    "time": _simple(
        _Options(
            flags="pvaq",
            valued="fo",
            long_flags=_names("--portability --verbose --append --quiet"),
            long_valued=_names("--format --output"),
        )
    ),
    "setsid": _simple(_Options(flags="cfw", long_flags=_names("--ctty --fork --wait"))),
    "timeout": _timeout,
    "ionice": _ionice,
    "chroot": _chroot,
    "watch": _watch,
    "su": _su,
    "runuser": _su,
    "find": _find,
    "trap": _trap,
    "eval": _refuse("eval runs text as a command"),
    "alias": _refuse("alias turns text into a command"),
    "xargs": _refuse("xargs builds the command's arguments at run time"),
    "parallel": _refuse("parallel builds commands at run time"),
}


def unwrap(program: str, args: Sequence[Word]) -> Inner:
    """The commands `program args` runs on its behalf (empty when it is not a wrapper).

    Raises:
        Unanalysable: the wrapper's options or inner command cannot be worked out.
    """
    if program in SHELLS:
        return _shell(program, args)
    handler = _WRAPPERS.get(program)
    return handler(program, args) if handler is not None else Inner()
