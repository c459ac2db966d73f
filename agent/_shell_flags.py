"""Flag normalisation, so that `rm -fr`, `rm -r -f`, `rm --recursive --force` compare equal."""

from __future__ import annotations

import re
from collections.abc import Sequence

# Long options that are spellings of a short one, per program.
_LONG: dict[str, dict[str, str]] = {
    "rm": {"--recursive": "-r", "--force": "-f", "--dir": "-d", "--verbose": "-v"},
    "cp": {"--recursive": "-r", "--force": "-f"},
    "mv": {"--force": "-f"},
    "chmod": {"--recursive": "-R"},
    "chown": {"--recursive": "-R"},
    "chgrp": {"--recursive": "-R"},
    "git": {"--force": "-f", "--delete": "-d"},
    "tee": {"--append": "-a"},
    "sed": {"--in-place": "-i"},
}
# Short options that mean the same as another short one.
_SHORT: dict[str, dict[str, str]] = {"rm": {"-R": "-r"}, "cp": {"-R": "-r"}}
# Programs whose single-dash options are words (`find -name`), not clusters of letters.
_NO_SPLIT = frozenset({"find", "java", "go", "dd", "gcc", "clang", "cc", "ffmpeg", "openssl"})
_CLUSTER = re.compile(r"-[A-Za-z]{2,}")


def normalize_args(program: str, args: Sequence[str]) -> tuple[tuple[str, ...], frozenset[str]]:
    """Canonical argument list and the set of flags used.

    Combined short flags are split (`-rf` -> `-r -f`), known long spellings are mapped to
    their short form, and each run of consecutive flags is sorted. Operands keep their
    place, and everything after `--` is an operand.

    Returns:
        The normalised arguments and the normalised flag names (values dropped).
    """
    long_map, short_map = _LONG.get(program, {}), _SHORT.get(program, {})
    out: list[str] = []
    flags: set[str] = set()
    run: list[str] = []
    operands_only = False
    for arg in args:
        if operands_only or arg == "-" or not arg.startswith("-"):
            out.extend(sorted(run))
            run = []
            out.append(arg)
            continue
        if arg == "--":
            out.extend(sorted(run))
            run = []
            out.append(arg)
            operands_only = True
            continue
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            mapped = long_map.get(name, name)
            items = [f"{mapped}={value}" if eq else mapped]
            flags.add(mapped)
        elif _CLUSTER.fullmatch(arg) and program not in _NO_SPLIT:
            items = [short_map.get(f"-{ch}", f"-{ch}") for ch in arg[1:]]
            flags.update(items)
        else:
            items = [short_map.get(arg, arg)]
            flags.add(items[0].partition("=")[0])
        run.extend(items)
    out.extend(sorted(run))
    return tuple(out), frozenset(flags)


def operands(args: Sequence[str]) -> tuple[str, ...]:
    """The arguments that are not flags (everything after `--` counts as an operand)."""
    result: list[str] = []
    operands_only = False
    for arg in args:
        if operands_only or arg == "-" or not arg.startswith("-"):
            result.append(arg)
        elif arg == "--":
            operands_only = True
    return tuple(result)
