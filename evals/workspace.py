"""The temporary workspace of one eval run: files, hotfix.toml, and a loopback web."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# Settings every scenario starts from; a scenario's `config` is merged over them.
BASE_CONFIG: dict[str, Any] = {
    "limits": {"max_turns": 30, "max_tool_calls": 80, "wall_clock_s": 120.0},
    "model": {"max_retries": 4},
    # Fetches need approval here, so that a read cannot carry data to an unknown host.
    "gate": {"ask": ["fetch"]},
    "fetch": {"allow_private": ["127.0.0.1"], "timeout_s": 5.0},
    "deploy": {
        "strategy": {"blue_green": {"bake_s": 10.0}, "feature_flag": {"name": "new-checkout"}},
        "verification": {
            "health": {"consecutive_successes": 3, "interval_s": 1.0, "max_wait_s": 30.0},
            "analysis": {"window_s": 3.0, "load_rps": 100.0},
        },
    },
}


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` deep-merged over `base` (tables merge, anything else replaces)."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = merge(current, value)  # pyright: ignore[reportUnknownArgumentType]
        else:
            merged[key] = value
    return merged


def to_toml(data: Mapping[str, Any]) -> str:
    """TOML text for nested tables of strings, numbers, booleans and lists."""
    lines: list[str] = []
    _emit_table(data, [], lines)
    return "\n".join(lines) + "\n"


def _emit_table(data: Mapping[str, Any], path: list[str], lines: list[str]) -> None:
    scalars = {k: v for k, v in data.items() if not _is_table(v) and not _is_table_list(v)}
    if path and (scalars or not data):
        lines.append(f"[{'.'.join(_key(p) for p in path)}]")
    lines.extend(f"{_key(k)} = {_value(v)}" for k, v in scalars.items())
    for key, value in data.items():
        if _is_table(value):
            _emit_table(value, [*path, key], lines)
        elif _is_table_list(value):
            for item in value:
                lines.append(f"[[{'.'.join(_key(p) for p in [*path, key])}]]")
                lines.extend(f"{_key(k)} = {_value(v)}" for k, v in item.items())


def _is_table(value: Any) -> bool:
    return isinstance(value, Mapping)


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)  # pyright: ignore[reportUnknownVariableType]


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"  # pyright: ignore[reportUnknownVariableType]
    return json.dumps(str(value))


def write_workspace(root: Path, files: Mapping[str, str], config: Mapping[str, Any]) -> Path:
    """Create the workspace: scenario files plus `hotfix.toml`; returns `root`."""
    root.mkdir(parents=True, exist_ok=True)
    for relative, content in files.items():
        path = (root / relative).resolve()
        if not path.is_relative_to(root.resolve()):
            raise ValueError(f"scenario file {relative!r} is outside the workspace")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    (root / "hotfix.toml").write_text(to_toml(config), encoding="utf-8")
    return root


_GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": "evals", "GIT_AUTHOR_EMAIL":
            "evals@example.invalid", "GIT_COMMITTER_NAME": "evals",
            "GIT_COMMITTER_EMAIL": "evals@example.invalid"}  # fmt: skip


def init_git(root: Path, refs: list[str]) -> None:
    """Commit the workspace on `main`, then give each fix ref its own branch and commit.

    Pre-deployment checks out the fix's ref into a worktree, so the ref must exist.
    """
    env = {**os.environ, **_GIT_ENV}

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "--allow-empty", "-m", "production release")
    for ref in refs:
        git("checkout", "-q", "-b", ref)
        git("commit", "-q", "--allow-empty", "-m", f"the fix on {ref}")
        git("checkout", "-q", "main")


@contextmanager
def serve_pages(pages: Mapping[str, str]) -> Generator[str]:
    """Serve `pages` (path -> HTML/text) on 127.0.0.1; yields the base URL ("" if none)."""
    if not pages:
        yield ""
        return

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path.split("?", 1)[0])
            data = (body if body is not None else "not found").encode()
            self.send_response(200 if body is not None else 404)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
