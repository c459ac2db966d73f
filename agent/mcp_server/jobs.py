"""Long tool calls as jobs that outlive the request watching them.

A tool call that runs the agent loop or changes production runs as a `Job` in the server's
own task group. The request handler only watches it (`watch`): it forwards progress, shows
the job's approval forms, and returns the result. That one shape serves both protocol eras:

- handshake era (2025-11-25, what VS Code sends): the handler sends `elicitation/create`
  in the middle of the call and carries on watching;
- 2026-07-28: the handler returns an `input_required` result carrying the form; the
  client's retry brings the answer (`watch_retry`) and watches again.

If the request is cancelled or the client goes away while a job runs, the job is cancelled
and its clean-up (stop safely, roll back if mid-shift) runs to completion, shielded.
"""

from __future__ import annotations

import math
import secrets
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc
from mcp.server.mcpserver import Context
from mcp_types import (
    CallToolResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    InputRequiredResult,
    TextContent,
)
from mcp_types.version import is_version_at_least

from agent.mcp_server.approvals import FormAnswer

INPUT_REQUIRED_VERSION = "2026-07-28"
CANCELLED = "the MCP client cancelled the call or disconnected"


@dataclass
class Question:
    """An approval form a job is waiting on."""

    key: str
    message: str
    schema: dict[str, Any]
    deadline: float  # anyio.current_time() after which nobody waits any more
    answered: anyio.Event = field(default_factory=anyio.Event)
    answer: FormAnswer | None = None

    def settle(self, answer: FormAnswer) -> None:
        """Record the answer; the first one wins (a late answer after a timeout is ignored)."""
        if self.answer is None:
            self.answer = answer
            self.answered.set()


@dataclass(frozen=True)
class Progress:
    message: str


@dataclass(frozen=True)
class Finished:
    pass


JobEvent = Question | Progress | Finished
Work = Callable[["Job"], Awaitable[CallToolResult]]
Cleanup = Callable[["Job"], Awaitable[CallToolResult]]


class Job:
    """One long tool call; it is also the `Asker` its approver uses."""

    def __init__(self, job_id: str, tool: str) -> None:
        self.id = job_id
        self.tool = tool
        self.result: CallToolResult | None = None
        self.done = anyio.Event()
        self.pending: Question | None = None
        self.last_message = "starting"
        self._send, self._events = anyio.create_memory_object_stream[JobEvent](math.inf)
        self._scope = anyio.CancelScope()
        self._thread = threading.get_ident()
        self._token = anyio.lowlevel.current_token()

    def emit(self, message: str) -> None:
        """Report progress; safe to call from any thread (journal listeners may run anywhere)."""
        if threading.get_ident() == self._thread:
            self._post(Progress(message))
        else:
            anyio.from_thread.run_sync(self._post, Progress(message), token=self._token)

    async def ask(
        self, key: str, message: str, schema: dict[str, Any], timeout_s: float
    ) -> FormAnswer:
        """Post a form for whoever watches the job, and wait for its answer (or the timeout)."""
        question = Question(key, message, schema, anyio.current_time() + timeout_s)
        self.pending = question
        self._post(question)
        with anyio.move_on_after(timeout_s):
            await question.answered.wait()
        if self.pending is question:
            self.pending = None
        return question.answer or FormAnswer("timeout")

    def cancel(self) -> None:
        """Stop the job; its clean-up still runs (see `JobRegistry`)."""
        self._scope.cancel()

    async def next_event(self, timeout_s: float) -> JobEvent | None:
        """The next event, or None when none came within `timeout_s` (time for a heartbeat)."""
        with anyio.move_on_after(timeout_s):
            return await self._events.receive()
        return None

    def _post(self, event: JobEvent) -> None:
        if isinstance(event, Progress):
            self.last_message = event.message
        self._send.send_nowait(event)

    def _finish(self, result: CallToolResult) -> None:
        self.result = result
        self.done.set()
        self._post(Finished())


class JobRegistry:
    """The server's running jobs, hosted by a task group that the server lifespan owns."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._group: anyio.abc.TaskGroup | None = None

    @asynccontextmanager
    async def running(self) -> AsyncGenerator[None]:
        """Host jobs while the server runs; on exit every live job is stopped safely."""
        async with anyio.create_task_group() as group:
            self._group = group
            try:
                yield
            finally:
                self._group = None
                group.cancel_scope.cancel()

    def start(self, tool: str, work: Work, cleanup: Cleanup) -> Job:
        """Start `work` as a job; `cleanup` runs (shielded) if the job is cancelled."""
        if self._group is None:
            raise RuntimeError("the MCP server is not running (no job task group)")
        self._prune()
        job = Job(secrets.token_urlsafe(12), tool)
        self._jobs[job.id] = job
        self._group.start_soon(self._host, job, work, cleanup)
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    async def _host(self, job: Job, work: Work, cleanup: Cleanup) -> None:
        with job._scope:
            try:
                job._finish(await work(job))
            except anyio.get_cancelled_exc_class():
                with anyio.CancelScope(shield=True):
                    job._finish(await cleanup(job))
                raise
            except Exception as exc:  # a broken job must answer, not hang its caller
                job._finish(error_result(f"{job.tool} failed: {type(exc).__name__}: {exc}"))

    def _prune(self, keep: int = 20) -> None:
        finished = [job_id for job_id, job in self._jobs.items() if job.done.is_set()]
        for job_id in finished[: max(0, len(finished) - keep)]:
            del self._jobs[job_id]


def error_result(text: str) -> CallToolResult:
    """A tool error the model reads (not a protocol error)."""
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def uses_input_required(ctx: Context[Any, Any]) -> bool:
    """Whether this request must ask through `input_required` rounds (2026-07-28 and later)."""
    version = ctx.protocol_version
    return version is not None and is_version_at_least(version, INPUT_REQUIRED_VERSION)


async def watch(
    job: Job, ctx: Context[Any, Any], heartbeat_s: float
) -> CallToolResult | InputRequiredResult:
    """Follow `job` for this request until it ends or needs an answer this request cannot get.

    Progress notifications carry each journal step; without news for `heartbeat_s` a
    heartbeat repeats the last step, so the client sees the call is alive.
    """
    reporter = _Reporter(ctx)
    pending = job.pending
    if pending is not None and pending.answer is None and uses_input_required(ctx):
        return _input_required(job, pending)  # a retry that did not answer: ask again
    try:
        while True:
            event = await job.next_event(heartbeat_s)
            if event is None:
                await reporter.send(f"still working: {job.last_message}")
            elif isinstance(event, Progress):
                await reporter.send(event.message)
            elif isinstance(event, Finished):
                assert job.result is not None
                return job.result
            elif event.answer is None:
                if uses_input_required(ctx):
                    return _input_required(job, event)
                await _ask_now(ctx, event)
    except anyio.get_cancelled_exc_class():
        with anyio.CancelScope(shield=True):
            job.cancel()
            await job.done.wait()
        raise


def apply_retry(registry: JobRegistry, ctx: Context[Any, Any], tool: str) -> Job | None:
    """The job a 2026-07-28 retry belongs to, with the answer it brought applied."""
    job_id, _, key = (ctx.request_state or "").partition("/")
    job = registry.get(job_id)
    if job is None or job.tool != tool:
        return None
    answer = (ctx.input_responses or {}).get(key)
    question = job.pending
    if question is not None and question.key == key and isinstance(answer, ElicitResult):
        question.settle(FormAnswer(answer.action, answer.content))
    return job


def _input_required(job: Job, question: Question) -> InputRequiredResult:
    request = ElicitRequest(
        params=ElicitRequestFormParams(message=question.message, requested_schema=question.schema)
    )
    return InputRequiredResult(
        input_requests={question.key: request}, request_state=f"{job.id}/{question.key}"
    )


async def _ask_now(ctx: Context[Any, Any], question: Question) -> None:
    capabilities = ctx.client_capabilities
    if capabilities is None or capabilities.elicitation is None:
        question.settle(FormAnswer("error", detail="the MCP client does not support forms"))
        return
    with anyio.move_on_after(max(0.0, question.deadline - anyio.current_time())):
        try:
            result = await ctx.session.elicit_form(
                question.message, question.schema, related_request_id=ctx.request_id
            )
        except Exception as exc:  # the client failed to show it: a denial, not a crash
            question.settle(FormAnswer("error", detail=f"{type(exc).__name__}: {exc}"))
        else:
            question.settle(FormAnswer(result.action, result.content))
    question.settle(FormAnswer("timeout"))


class _Reporter:
    """Progress notifications for one request; the count only ever goes up."""

    def __init__(self, ctx: Context[Any, Any]) -> None:
        self._ctx = ctx
        self._count = 0

    async def send(self, message: str) -> None:
        self._count += 1
        try:
            await self._ctx.report_progress(self._count, None, message)
        except Exception:  # progress is best effort: a gone client must not fail the job
            return
