"""Client of the environment daemon's control API (stdlib `http.client`, blocking).

It finds the daemon through `state.json` and the token file in the state directory, so any
process of the same user can drive an environment another process started.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tools.deploy.target import TargetError
from tools.deploy.targets.local.state import StatePaths, read_state, read_token


class EnvironmentUnavailable(TargetError):
    """No environment answers for this state directory."""


class ControlClient:
    """Calls one environment's control API.

    Args:
        state_dir: The environment's state directory.
        timeout_s: Default socket timeout of a call.
    """

    def __init__(self, state_dir: Path, *, timeout_s: float = 10.0) -> None:
        self.paths = StatePaths(state_dir)
        self.timeout_s = timeout_s

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
    ) -> Any:
        """One request; the decoded JSON answer.

        Raises:
            EnvironmentUnavailable: Nothing (or something else) answers.
            TargetError: The environment refused the request; its message says why.
        """
        record = read_state(self.paths)
        token = read_token(self.paths)
        if record is None or token is None:
            raise EnvironmentUnavailable(f"no local environment is running in {self.paths.root}")
        conn = http.client.HTTPConnection(
            "127.0.0.1", record.control_port, timeout=timeout_s or self.timeout_s
        )
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        try:
            payload = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            status, raw = response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise EnvironmentUnavailable(
                f"the local environment in {self.paths.root} does not answer: {exc}"
            ) from exc
        finally:
            conn.close()
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise EnvironmentUnavailable(
                f"unexpected answer from port {record.control_port}"
            ) from exc
        if status == 401:
            raise EnvironmentUnavailable(f"the control token in {self.paths.root} was refused")
        if status != 200:
            message = data.get("error") if isinstance(data, dict) else None
            raise TargetError(str(message or f"control API answered {status}"))
        return data

    def state(self) -> dict[str, Any]:
        """The environment's state (the content of state.json, live)."""
        return self.call("GET", "/state")

    def stage(
        self,
        label: str,
        ref: str,
        *,
        env: dict[str, str] | None = None,
        command: str | None = None,
        startup_timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """Check out `ref` and start it as `label`; returns once it accepts connections."""
        body: dict[str, Any] = {"label": label, "ref": ref, "env": env or {}, "command": command}
        wait = startup_timeout_s or 20.0
        body["startup_timeout_s"] = wait
        return self.call("POST", "/stage", body, timeout_s=wait + 120.0)

    def set_weights(self, weights: dict[str, int]) -> dict[str, Any]:
        """Apply a traffic split; returns the new state."""
        return self.call("POST", "/weights", {"weights": weights})

    def retire(self, label: str, *, timeout_s: float = 60.0) -> dict[str, Any]:
        """Drain and stop a version without traffic."""
        return self.call("POST", "/retire", {"label": label}, timeout_s=timeout_s)

    def metrics(self, label: str, since: float) -> dict[str, Any]:
        """Requests, errors and latencies the router saw for `label` since `since`."""
        return self.call("GET", "/metrics?" + urlencode({"label": label, "since": since}))

    def operations(self, since: int = 0) -> dict[str, Any]:
        """The changes the environment applied after operation `since`, and the next number.

        Each is `{seq, ts, op: stage|weights|retire, label, weights, changed}`; `changed` is
        false when the environment found the change already made (an idempotent repeat).
        """
        return self.call("GET", "/operations?" + urlencode({"since": since}))

    def shutdown(self) -> None:
        """Ask the daemon to stop everything and exit (returns before it has)."""
        self.call("POST", "/shutdown", {})
