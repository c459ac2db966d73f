"""The environment's own record of the changes it made: stage, weights, retire.

Kept in the daemon's memory (bounded), served as `GET /operations?since=SEQ`. It lets a
caller see from the environment's side what was done, independently of any journal: crash
tests check with it that a resumed run did not repeat a change.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Literal

OperationKind = Literal["stage", "weights", "retire"]


class OperationLog:
    """The last `limit` operations, numbered from 1 in the order they were applied."""

    def __init__(self, limit: int = 1000) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)
        self._seq = 0

    def record(
        self,
        op: OperationKind,
        label: str | None = None,
        *,
        weights: dict[str, int] | None = None,
        changed: bool = True,
    ) -> None:
        """Append one operation; `changed` is False when it found the change already made."""
        self._seq += 1
        self._entries.append(
            {"seq": self._seq, "ts": time.time(), "op": op, "label": label,
             "weights": weights, "changed": changed}
        )  # fmt: skip

    def since(self, seq: int) -> dict[str, Any]:
        """Operations after `seq`, and the number to ask from next time."""
        return {
            "operations": [dict(entry) for entry in self._entries if entry["seq"] > seq],
            "next": self._seq,
        }
