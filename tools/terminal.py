"""`runInTerminal`: run one shell command in the workspace, with a time limit and clean env."""

from __future__ import annotations

import signal
from typing import ClassVar

from pydantic import Field

from tools._process import ProcessResult, run_process, scrubbed_env
from tools.base import Effect, Tool, ToolArgs, ToolContext, ToolError, ToolResult


class RunInTerminalArgs(ToolArgs):
    command: str = Field(
        min_length=1,
        description="The bash command line to run, exactly as it should be approved and run.",
    )
    timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="Time limit in seconds; capped by the configured [terminal] timeout_s.",
    )


class RunInTerminalTool(Tool):
    """Runs `bash -c <command>` in the workspace and returns its exit code and output."""

    name: ClassVar[str] = "runInTerminal"
    description: ClassVar[str] = (
        "Run a bash command in the workspace directory and return its exit code and combined "
        "stdout/stderr. Non-interactive: stdin is empty, pagers and prompts are off, so pass "
        "flags like --yes / --no-pager where a tool would otherwise ask. Secret environment "
        "variables are not available to the command. Long output is cut in the middle. The "
        "command and everything it starts are stopped at the time limit, and background jobs "
        "(`&`) are stopped when the command ends. Each call runs in a fresh shell: `cd` and "
        "exported variables do not carry over. Prefer the read-only tools for reading files "
        "and searching code."
    )
    args_model: ClassVar[type[ToolArgs]] = RunInTerminalArgs
    effect: ClassVar[Effect] = Effect.LOCAL
    aliases: ClassVar[tuple[str, ...]] = ("execute/runInTerminal", "runCommands", "terminal")
    concurrent_safe: ClassVar[bool] = False

    async def run(self, args: RunInTerminalArgs, ctx: ToolContext) -> ToolResult:
        settings = ctx.config.terminal
        timeout = settings.timeout_s
        if args.timeout_s is not None:
            timeout = min(args.timeout_s, settings.timeout_s)
        env = scrubbed_env(extra_secret_names=ctx.config.secrets.env_names)
        try:
            result = await run_process(
                ["bash", "-c", args.command],
                cwd=ctx.workspace,
                timeout_s=timeout,
                env=env,
                output_limit=settings.output_chars,
            )
        except OSError as exc:
            raise ToolError(f"could not start bash in {ctx.workspace}: {exc}") from exc
        text = ctx.redactor.text(_describe(result, timeout))
        data: dict[str, object] = {
            "exit_code": result.exit_code,
            "duration_s": round(result.duration_s, 3),
            "timed_out": result.timed_out,
            "truncated": result.truncated,
        }
        return ToolResult(text=text, data=data, is_error=result.timed_out)


def _describe(result: ProcessResult, timeout_s: float) -> str:
    duration = f"{result.duration_s:.2f} s"
    if result.timed_out:
        status = (
            f"timed out after {timeout_s:g} s: the command and its child processes were "
            f"stopped (SIGTERM, then SIGKILL)"
        )
    elif result.exit_code < 0:
        status = f"killed by signal {_signal_name(-result.exit_code)} ({duration})"
    else:
        status = f"exit code {result.exit_code} ({duration})"
    output = result.output if result.output.strip() else "(no output)"
    return f"{status}\n{output}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
