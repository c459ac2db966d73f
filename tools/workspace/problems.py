"""`problems`: run the project's own diagnostics commands and report what they found.

The commands come from configuration (`[problems] commands`), or, when none are configured,
from a conservative look at the workspace (pytest when there are tests, ruff when it is
configured, `dotnet build` for a .NET solution). The model never supplies a command, which
is why this tool is a read.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from agent.config import ProblemCommand
from tools._process import run_process, scrubbed_env
from tools.base import Effect, Tool, ToolArgs, ToolContext, ToolResult
from tools.workspace._diagnostics import PARSERS, SEVERITIES, Problem
from tools.workspace._paths import display_path, workspace_root

MAX_OUTPUT_BYTES = 8_000_000
_SHOWN_PROBLEMS = 200
_TAIL_LINES = 30
_MAX_CONFIG_READ = 1_000_000
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass
class CommandRun:
    """What one diagnostics command did."""

    name: str
    command: str
    exit_code: int | None = None
    timed_out: bool = False
    duration_s: float = 0.0
    error: str | None = None
    output: str = ""
    problems: list[Problem] = field(default_factory=list[Problem])

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for p in self.problems if p.severity == s) for s in SEVERITIES}


def scrubbed_environment(extra_secret_names: list[str]) -> dict[str, str]:
    """This process's environment without secrets, set up for parseable diagnostics."""
    env = scrubbed_env(extra_secret_names=extra_secret_names)
    # Plain, stable output for the parsers; no bytecode files left in the workspace.
    env.pop("FORCE_COLOR", None)
    env.update(NO_COLOR="1", PY_COLORS="0", PYTHONDONTWRITEBYTECODE="1")
    return env


async def run_command(command: ProblemCommand, cwd: Path, env: dict[str, str]) -> CommandRun:
    """Run one configured command (no shell) with a timeout, and parse its output.

    A `{python}` word in the command stands for the workspace's interpreter (its `.venv`
    when there is one, else the agent's own).
    """
    run = CommandRun(command.name, command.command)
    try:
        python = _workspace_python(cwd)
        argv = [word.replace("{python}", python) for word in shlex.split(command.command)]
    except ValueError as exc:
        run.error = f"cannot parse the command line: {exc}"
        return run
    if not argv:
        run.error = "the command is empty"
        return run
    try:
        # Its own process group, killed as a whole on timeout and when it exits, so nothing
        # it started (servers, workers) outlives it.
        result = await run_process(
            argv, cwd=cwd, timeout_s=command.timeout_s, env=env, output_limit=MAX_OUTPUT_BYTES
        )
    except OSError as exc:
        run.error = f"cannot start {argv[0]!r}: {exc.strerror or exc}"
        return run
    run.timed_out = result.timed_out
    run.duration_s = round(result.duration_s, 2)
    run.exit_code = None if result.timed_out else result.exit_code
    run.output = _ANSI.sub("", result.output)
    run.problems = [_relative(p, cwd) for p in PARSERS[command.parser](run.output, command.name)]
    return run


def _relative(problem: Problem, root: Path) -> Problem:
    if problem.file:
        problem.file = display_path(root, problem.file)
    return problem


def detect_commands(root: Path) -> list[ProblemCommand]:
    """Diagnostics commands that clearly apply to this workspace, conservatively chosen."""
    commands: list[ProblemCommand] = []
    python = _workspace_python(root)
    if _has_tests(root) and _has_pytest(python, root):
        argv = [python, "-m", "pytest", "-q", "--tb=short", "-rfE", "-p", "no:cacheprovider"]
        commands.append(ProblemCommand(name="pytest", command=shlex.join(argv), parser="pytest"))
    ruff = _find_program("ruff", root)
    if ruff and _has_ruff_config(root):
        argv = [ruff, "check", "--output-format=concise", "--no-fix", "--no-cache", "."]
        commands.append(ProblemCommand(name="ruff", command=shlex.join(argv), parser="ruff"))
    dotnet = shutil.which("dotnet")
    project = _dotnet_project(root)
    if dotnet and project:
        argv = [dotnet, "build", project, "--nologo", "-v", "q", "-clp:NoSummary"]
        commands.append(ProblemCommand(name="dotnet", command=shlex.join(argv), parser="dotnet"))
    return commands


def _venv_bin(root: Path) -> list[Path]:
    return [root / name / sub for name in (".venv", "venv") for sub in ("bin", "Scripts")]


def _workspace_python(root: Path) -> str:
    for folder in _venv_bin(root):
        for name in ("python", "python.exe"):
            if (folder / name).is_file():
                return str(folder / name)
    return sys.executable


def _has_pytest(python: str, root: Path) -> bool:
    if python == sys.executable:
        import importlib.util

        return importlib.util.find_spec("pytest") is not None
    venv = Path(python).parent.parent
    return (
        any(venv.glob("lib/python*/site-packages/pytest"))
        or (venv / "Lib" / "site-packages" / "pytest").is_dir()
    )


def _has_tests(root: Path) -> bool:
    if any(root.glob("test_*.py")):
        return True
    for folder in (root / "tests", root / "test"):
        if folder.is_dir() and (any(folder.rglob("test_*.py")) or any(folder.rglob("*_test.py"))):
            return True
    return False


def _has_ruff_config(root: Path) -> bool:
    if (root / "ruff.toml").is_file() or (root / ".ruff.toml").is_file():
        return True
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return False
    # Bounded: the workspace is untrusted, and this file could be huge or /dev/zero's twin.
    with pyproject.open("rb") as handle:
        return b"[tool.ruff" in handle.read(_MAX_CONFIG_READ)


def _find_program(name: str, root: Path) -> str | None:
    for folder in [*_venv_bin(root), Path(sys.executable).parent]:
        if (folder / name).is_file():
            return str(folder / name)
    return shutil.which(name)


def _dotnet_project(root: Path) -> str | None:
    for pattern in ("*.sln", "*.slnx", "*.csproj", "*/*.csproj"):
        found = sorted(root.glob(pattern))
        if found:
            return found[0].relative_to(root).as_posix()
    return None


class ProblemsArgs(ToolArgs):
    """No arguments: the commands come from configuration or detection."""


class ProblemsTool(Tool):
    """Run the project's diagnostics and list the problems found."""

    name = "problems"
    aliases = ("read/problems",)
    effect = Effect.READ
    args_model = ProblemsArgs
    # Test suites and builds compete for the same files and ports: never two at once.
    concurrent_safe = False
    description = (
        "Run the project's own diagnostics (tests, linters, type checkers, compilers) and list "
        "the problems they report, as `path:line:col: severity [code] message`. The commands "
        "come from the configuration (`[problems] commands` in hotfix.toml); without it they "
        "are detected: pytest when the workspace has tests, ruff when it is configured, "
        "`dotnet build` for a .NET solution. Use it to see what is broken before a fix and "
        "to confirm a fix before deploying. Failed tests are reported at the line where they "
        "failed. Takes as long as the commands do (each has a timeout); you cannot choose "
        "the commands. Returns per-command exit codes and counts, then the problems."
    )

    async def run(self, args: ProblemsArgs, ctx: ToolContext) -> ToolResult:
        del args
        root = workspace_root(ctx.workspace)
        configured = list(ctx.config.problems.commands)
        commands = configured or detect_commands(root)
        if not commands:
            text = (
                "No diagnostics commands are configured and none were detected (no tests, "
                "no ruff configuration, no .NET project). Configure them under [problems] "
                "in hotfix.toml."
            )
            return ToolResult(text, {"commands": [], "problems": []})
        env = scrubbed_environment(ctx.config.secrets.env_names)
        runs = [await run_command(command, root, env) for command in commands]
        origin = "configured" if configured else "detected"
        text = _render(runs, origin)
        data = {
            "origin": origin,
            "commands": [
                {
                    "name": r.name,
                    "command": r.command,
                    "exit_code": r.exit_code,
                    "timed_out": r.timed_out,
                    "duration_s": r.duration_s,
                    "error": r.error,
                    "counts": r.counts(),
                }
                for r in runs
            ],
            "problems": [asdict(p) for r in runs for p in r.problems][:1000],
        }
        return ToolResult(ctx.redactor.text(text), ctx.redactor.value(data))


def _render(runs: list[CommandRun], origin: str) -> str:
    lines = [f"Ran {len(runs)} diagnostics command(s) ({origin}):"]
    for run in runs:
        lines.append(f"- {run.name}: {_status(run)}")
    problems = [p for run in runs for p in run.problems]
    if problems:
        lines.append(f"\nProblems ({len(problems)}):")
        for p in problems[:_SHOWN_PROBLEMS]:
            where = ":".join(str(x) for x in (p.file or "-", p.line, p.column) if x is not None)
            code = f" [{p.code}]" if p.code else ""
            lines.append(f"  {where}: {p.severity}{code} {p.message} ({p.source})")
        if len(problems) > _SHOWN_PROBLEMS:
            lines.append(f"  … {len(problems) - _SHOWN_PROBLEMS} more")
    for run in runs:
        failed = run.timed_out or (run.exit_code not in (0, None) and not run.problems)
        if failed and run.output.strip():
            tail = "\n".join(run.output.rstrip().splitlines()[-_TAIL_LINES:])
            lines.append(f"\nLast lines of {run.name}'s output:\n{tail}")
    return "\n".join(lines)


def _status(run: CommandRun) -> str:
    if run.error:
        return f"did not run: {run.error}"
    counts = run.counts()
    found = ", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in counts.items() if n)
    ended = (
        f"timed out after {run.duration_s} s"
        if run.timed_out
        else f"exit {run.exit_code} after {run.duration_s} s"
    )
    last = next((ln.strip() for ln in reversed(run.output.splitlines()) if ln.strip()), "")
    summary = f' — "{last[:160]}"' if last else ""
    return f"{ended}, {found or 'no problems parsed'}{summary}  ({run.command})"
