"""The console prompt: y (once) / N (no) / a (always, this run; never for production)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from agent._approval import Approval, ApprovalRequest

if TYPE_CHECKING:
    from rich.console import Console

_MAX_ATTEMPTS = 3
_DEFAULT_TIMEOUT_S = 600.0


class TerminalApprover:
    """Asks the person at the terminal.

    End of input, a non-interactive stdin, a timeout or three unreadable answers all mean
    "no". `input_fn` reads one answer (default: the console's `input`); it runs in a daemon
    thread so a prompt nobody answers cannot keep the process alive.
    """

    name = "terminal"

    def __init__(
        self,
        console: Console,
        input_fn: Callable[[str], str] | None = None,
        *,
        timeout_s: float | None = _DEFAULT_TIMEOUT_S,
        interactive: bool | None = None,
    ) -> None:
        self.console = console
        self._input: Callable[[str], str] = input_fn or (
            lambda text: console.input(text, markup=False)
        )
        if interactive is None:
            interactive = input_fn is not None or (sys.stdin is not None and sys.stdin.isatty())
        self.interactive = interactive
        self.timeout_s = timeout_s

    async def request(self, req: ApprovalRequest) -> Approval:
        if not self.interactive:
            return req.deny(self.name, "no interactive terminal to ask (stdin is not a tty)")
        self._show(req)
        choices = "[y]es / [N]o / [a]lways this run" if req.run_scope_allowed else "[y]es / [N]o"
        for _ in range(_MAX_ATTEMPTS):
            try:
                answer = await self._read(f"Run this call? {choices}: ")
            except EOFError:
                return req.deny(self.name, "no answer (end of input)")
            except TimeoutError:
                return req.deny(self.name, f"no answer within {self.timeout_s:g} s")
            reply = answer.strip().lower()
            if reply in ("y", "yes"):
                return req.approve(self.name, "once", "approved at the terminal")
            if reply in ("a", "always") and req.run_scope_allowed:
                return req.approve(self.name, "run", "approved at the terminal for this run")
            if reply in ("", "n", "no"):
                return req.deny(self.name, "declined at the terminal")
            self.console.print(f"Please answer {choices}.", markup=False)
        return req.deny(self.name, "no valid answer")

    def _show(self, req: ApprovalRequest) -> None:
        from rich.markup import escape
        from rich.panel import Panel

        lines = [
            f"[bold]{escape(req.summary)}[/]",
            f"effect: [bold]{req.effect.value}[/]",
            f"rule: {escape(req.verdict.rule or '(default for this effect)')}",
            f"why: {escape(req.verdict.reason)}",
        ]
        if not req.run_scope_allowed:
            lines.append("[yellow]production call: approval covers this one call only[/]")
        self.console.print(Panel("\n".join(lines), title="approval needed", expand=False))

    async def _read(self, prompt: str) -> str:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()

        def settle(value: str | None, error: BaseException | None) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value or "")

        def worker() -> None:
            try:
                result: tuple[str | None, BaseException | None] = (self._input(prompt), None)
            except BaseException as exc:  # EOFError above all; passed to the awaiting task
                result = (None, exc)
            with contextlib.suppress(RuntimeError):  # the loop closed while the prompt waited
                loop.call_soon_threadsafe(settle, *result)

        threading.Thread(target=worker, name="approval-prompt", daemon=True).start()
        return await asyncio.wait_for(future, self.timeout_s)
