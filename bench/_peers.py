"""Peer-framework drivers for `bench/harness_overhead.py`: the same script, other harnesses.

Runs in a separate virtual environment holding `openai-agents` and `pydantic-ai-slim`
(never the project's), as a subprocess of the bench script::

    /tmp/peers-venv/bin/python bench/_peers.py openai-agents --turns 200

The script is the one our scripted model replays: `turns` assistant turns, each calling the
trivial `echo` tool once with `{"text": "ping"}`, then a final text turn. Prints one JSON line
with the framework, its version and the timed run in milliseconds (after one warm-up run).

The frameworks are imported dynamically and typed as `Any`, so that pyright can check this
file in the project's environment, where neither framework is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import time
from importlib import metadata
from typing import Any

PROMPT = "Call echo until you are done."
FINAL_TEXT = "done"
ECHO_ARGS = {"text": "ping"}

PEERS = {"openai-agents": "openai-agents", "pydantic-ai": "pydantic-ai-slim"}


class _Counter:
    """Counts tool executions, so a run that skipped the tool cannot pass as fast."""

    def __init__(self) -> None:
        self.calls = 0

    def echo(self, text: str) -> str:
        self.calls += 1
        return f"echo: {text}"


def _openai_agents_model(turns: int) -> Any:
    """A scripted `agents.Model`: `turns` function calls to `echo`, then a final message."""
    agents: Any = importlib.import_module("agents")
    responses: Any = importlib.import_module("openai.types.responses")
    base: Any = agents.Model
    arguments = json.dumps(ECHO_ARGS)

    class ScriptedAgentsModel(base):
        def __init__(self) -> None:
            self.index = 0

        async def get_response(self, *args: Any, **kwargs: Any) -> Any:
            del args, kwargs
            self.index += 1
            if self.index <= turns:
                item: Any = responses.ResponseFunctionToolCall(
                    type="function_call",
                    id=f"fc_{self.index}",
                    call_id=f"call_{self.index}",
                    name="echo",
                    arguments=arguments,
                    status="completed",
                )
            elif self.index == turns + 1:
                item = responses.ResponseOutputMessage(
                    id="msg_final",
                    type="message",
                    role="assistant",
                    status="completed",
                    content=[
                        responses.ResponseOutputText(
                            type="output_text", text=FINAL_TEXT, annotations=[]
                        )
                    ],
                )
            else:
                raise RuntimeError(f"script exhausted at call {self.index}")
            return agents.ModelResponse(output=[item], usage=agents.Usage(), response_id=None)

        def stream_response(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError("the benchmark does not stream")

    return ScriptedAgentsModel()


async def _run_openai_agents(turns: int) -> tuple[float, int]:
    agents: Any = importlib.import_module("agents")
    # Tracing would export spans to OpenAI's servers; the benchmark stays offline.
    agents.set_tracing_disabled(True)
    counter = _Counter()
    model = _openai_agents_model(turns)
    started = time.perf_counter()
    agent = agents.Agent(
        name="bench", instructions=PROMPT, model=model, tools=[agents.function_tool(counter.echo)]
    )
    result = await agents.Runner.run(
        agent, PROMPT, max_turns=turns + 10, run_config=agents.RunConfig(tracing_disabled=True)
    )
    elapsed = (time.perf_counter() - started) * 1000
    if result.final_output != FINAL_TEXT:
        raise RuntimeError(f"unexpected final output {result.final_output!r}")
    return elapsed, counter.calls


def _pydantic_ai_function(turns: int) -> Any:
    messages_mod: Any = importlib.import_module("pydantic_ai.messages")
    state = {"index": 0}

    def respond(messages: list[Any], info: Any) -> Any:
        del messages, info
        state["index"] += 1
        index = state["index"]
        if index <= turns:
            part: Any = messages_mod.ToolCallPart(
                tool_name="echo", args=dict(ECHO_ARGS), tool_call_id=f"call_{index}"
            )
        elif index == turns + 1:
            part = messages_mod.TextPart(content=FINAL_TEXT)
        else:
            raise RuntimeError(f"script exhausted at call {index}")
        return messages_mod.ModelResponse(parts=[part])

    return respond


async def _run_pydantic_ai(turns: int) -> tuple[float, int]:
    pydantic_ai: Any = importlib.import_module("pydantic_ai")
    function_mod: Any = importlib.import_module("pydantic_ai.models.function")
    usage_mod: Any = importlib.import_module("pydantic_ai.usage")
    counter = _Counter()
    model = function_mod.FunctionModel(_pydantic_ai_function(turns))
    started = time.perf_counter()
    agent = pydantic_ai.Agent(
        model, instructions=PROMPT, tools=[pydantic_ai.Tool(counter.echo, takes_ctx=False)]
    )
    result = await agent.run(PROMPT, usage_limits=usage_mod.UsageLimits(request_limit=None))
    elapsed = (time.perf_counter() - started) * 1000
    if result.output != FINAL_TEXT:
        raise RuntimeError(f"unexpected final output {result.output!r}")
    return elapsed, counter.calls


_RUNNERS = {"openai-agents": _run_openai_agents, "pydantic-ai": _run_pydantic_ai}


def main() -> None:
    """Warm up once, time one run, print `{"framework", "version", "ms", "tool_calls"}`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("framework", choices=sorted(_RUNNERS))
    parser.add_argument("--turns", type=int, default=200)
    options = parser.parse_args()
    os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")
    runner = _RUNNERS[options.framework]
    asyncio.run(runner(options.turns))
    elapsed, calls = asyncio.run(runner(options.turns))
    if calls != options.turns:
        raise RuntimeError(f"tool ran {calls} times, expected {options.turns}")
    print(
        json.dumps(
            {
                "framework": options.framework,
                "version": metadata.version(PEERS[options.framework]),
                "ms": elapsed,
                "tool_calls": calls,
            }
        )
    )


if __name__ == "__main__":
    main()
