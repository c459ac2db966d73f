"""Security step: secrets added by the fix's diff, and the ecosystem's dependency audit."""

from __future__ import annotations

import asyncio
import re
import shlex
from typing import Any

from agent.redaction import Redactor
from tools.deploy.predeploy._references import holds_secret
from tools.deploy.predeploy.context import PredeployContext, StepOutcome, failed, passed, skipped
from tools.deploy.target import TargetError
from tools.deploy.targets.local.worktrees import git, resolve_commit

_DEFAULT_BASES = ("origin/HEAD", "origin/main", "origin/master", "main", "master", "HEAD")
_HUNK = re.compile(r"@@ -\S+ \+(\d+)(?:,\d+)? @@")
_DIFF = ("diff", "--no-color", "--no-ext-diff", "--no-textconv", "--unified=0")
_MAX_FINDINGS = 50
_EXCERPT_CHARS = 200
# `dotnet list package --vulnerable` exits 0 whether or not it found something.
_DOTNET_VULNERABLE = r"has the following vulnerable packages"


def scan_diff(diff: str, redactor: Redactor) -> tuple[list[dict[str, Any]], int, int]:
    """Secrets on the added lines of a unified diff.

    Returns:
        The findings (file, line, redacted excerpt), the files and the added lines scanned.
    """
    findings: list[dict[str, Any]] = []
    files: set[str] = set()
    added = 0
    path: str | None = None
    line_no = 0
    for raw in diff.splitlines():
        if raw.startswith("+++ "):
            name = raw[4:].strip()
            path = None if name == "/dev/null" else name.removeprefix("b/")
            continue
        if raw.startswith("@@"):
            match = _HUNK.match(raw)
            line_no = int(match.group(1)) if match else 0
            continue
        if path is None or not raw.startswith("+"):
            continue
        files.add(path)
        added += 1
        text = raw[1:]
        if holds_secret(text, path, redactor):
            excerpt = redactor.text(text).strip()[:_EXCERPT_CHARS]
            findings.append({"file": path, "line": line_no, "excerpt": excerpt})
        line_no += 1
    return findings, len(files), added


def resolve_base(p: PredeployContext) -> tuple[str, str]:
    """The base ref the diff is taken from and the merge base with the fix's commit.

    Raises:
        TargetError: A base ref was given and does not exist, or none of the defaults does.
    """
    candidates = [p.base_ref] if p.base_ref else list(_DEFAULT_BASES)
    for candidate in candidates:
        try:
            resolve_commit(p.repo, candidate)
        except TargetError:
            if p.base_ref:
                raise
            continue
        return candidate, git(p.repo, "merge-base", candidate, p.commit)
    raise TargetError("no base to diff against (none of origin/HEAD, main, master, HEAD exist)")


async def run_security(p: PredeployContext) -> StepOutcome:
    """Fail on any secret in the fix's added lines, or on a failing dependency audit."""
    settings = p.settings.security
    if not settings.scan_diff and not settings.audit_command:
        return skipped("secret scan and dependency audit are both off")
    evidence: dict[str, Any] = {}
    problems: list[str] = []
    if settings.scan_diff:
        try:
            base, merge_base = await asyncio.to_thread(resolve_base, p)
            diff = await asyncio.to_thread(git, p.repo, *_DIFF, merge_base, p.commit)
        except TargetError as exc:
            return failed(f"cannot take the fix's diff: {exc}")
        findings, files, added = scan_diff(diff, p.redactor)
        evidence["diff"] = {
            "base": base,
            "merge_base": merge_base,
            "commit": p.commit,
            "files": files,
            "added_lines": added,
            "findings": findings[:_MAX_FINDINGS],
        }
        if merge_base == p.commit:
            evidence["diff"]["note"] = f"{base} already contains the fix; nothing to scan"
        if findings:
            where = ", ".join(f"{f['file']}:{f['line']}" for f in findings[:5])
            problems.append(f"{len(findings)} secret(s) added by the diff ({where})")
    if settings.audit_command:
        audit = await p.run(settings.audit_command, timeout_s=settings.timeout_s)
        evidence["audit"] = audit.evidence()
        pattern = settings.audit_fail_pattern or _default_pattern(settings.audit_command)
        flagged = pattern is not None and re.search(pattern, audit.output) is not None
        if not audit.ok:
            problems.append(f"dependency audit {audit.failure()}")
        elif flagged:
            problems.append(f"dependency audit reported vulnerabilities (matched {pattern!r})")
    if problems:
        return failed("; ".join(problems), evidence)
    scanned = evidence.get("diff", {})
    parts = []
    if scanned:
        parts.append(f"no secrets in {scanned['added_lines']} added line(s)")
    if "audit" in evidence:
        parts.append("dependency audit clean")
    return passed(", ".join(parts), evidence, undo="nothing to undo (read-only checks)")


def _default_pattern(command: str) -> str | None:
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    is_dotnet = bool(words) and words[0].rsplit("/", 1)[-1].startswith("dotnet")
    return _DOTNET_VULNERABLE if is_dotnet and "--vulnerable" in words else None
