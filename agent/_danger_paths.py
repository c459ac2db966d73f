"""Which paths are catastrophic targets: the root, a home directory, system directories, disks."""

from __future__ import annotations

import posixpath
import re

# Top-level directories whose recursive removal (or chmod) breaks the machine.
_SYSTEM_DIRS = frozenset(
    {
        "bin",
        "boot",
        "dev",
        "etc",
        "home",
        "lib",
        "lib32",
        "lib64",
        "libx32",
        "opt",
        "proc",
        "root",
        "sbin",
        "srv",
        "sys",
        "usr",
        "var",
        "snap",
        "mnt",
        "media",
        "System",
        "Users",
        "Applications",
        "Library",
        "private",
        "Volumes",
    }
)
_GLOB = re.compile(r"[*?\[{]")
_HOME_VAR = re.compile(r"^(\$HOME|\$\{HOME[^}]*\})(?=/|$)")
_SAFE_DEVICE = re.compile(
    r"/dev/(null|zero|full|random|urandom|stdin|stdout|stderr|tty|ptmx|fd/\d+|pts/\d+|shm(/.*)?)"
)
_PROTECTED = ("/etc", "/boot")


def normalize_absolute(path: str) -> str:
    """Lexically normalised absolute path (`//etc/../etc/x/` -> `/etc/x`)."""
    return "/" + posixpath.normpath("/" + path.lstrip("/")).lstrip("/")


def is_root_like(word: str) -> bool:
    """True for targets whose recursive removal is catastrophic.

    `/`, `/*`, `/..`, `/usr`, `/home/*`, `~`, `~/`, `~/*`, `$HOME`, `${HOME}/..`, `.`,
    `../..`: the root, a whole system directory, a home directory, or the working directory
    and its parents.
    """
    text = _HOME_VAR.sub("~", word.strip())
    if not text:
        return False
    if text.startswith("~"):
        _, _, rest = text.partition("/")
        return _dangerous_below(rest.split("/"))
    if text.startswith("/"):
        parts = [p for p in normalize_absolute(text).split("/") if p]
        if not parts:
            return True
        if len(parts) == 1:
            return parts[0] in _SYSTEM_DIRS or bool(_GLOB.search(parts[0]))
        return len(parts) == 2 and parts[0] in _SYSTEM_DIRS and _is_wildcard(parts[1])
    parts = [p for p in text.split("/") if p]
    return bool(parts) and all(p in (".", "..") for p in parts)


def _dangerous_below(parts: list[str]) -> bool:
    """Inside a home directory: the home itself, above it, or all of its entries."""
    depth: list[str] = []
    for part in parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not depth:
                return True  # climbs out of the home directory
            depth.pop()
        else:
            depth.append(part)
    return not depth or (len(depth) == 1 and _is_wildcard(depth[0]))


def _is_wildcard(part: str) -> bool:
    return part in ("*", ".*", "?*", "*.*") or part.strip("*?") == ""


def is_block_device(path: str) -> bool:
    """True for a device node under /dev that is not a harmless sink or source."""
    if not path.startswith("/"):
        return False
    normal = normalize_absolute(path)
    return normal.startswith("/dev/") and not _SAFE_DEVICE.fullmatch(normal)


def is_protected(path: str) -> bool:
    """True for system configuration (`/etc/...`, `/boot/...`): no writes from the agent."""
    if not path.startswith("/"):
        return False
    normal = normalize_absolute(path)
    return any(normal == root or normal.startswith(root + "/") for root in _PROTECTED)


def leaves_workspace(path: str) -> bool:
    """True when a write target is absolute, in a home directory, above `.`, or computed.

    The harmless device files (`/dev/null`, `/dev/stderr`) do not count.
    """
    if path.startswith("/") and _SAFE_DEVICE.fullmatch(normalize_absolute(path)):
        return False
    return path.startswith(("/", "~")) or "$" in path or ".." in path.split("/")
