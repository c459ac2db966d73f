"""The verdict of one grader."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class GradeResult:
    """Pass or fail, and why it failed."""

    name: str
    failures: list[str] = field(default_factory=list[str])
    skipped: bool = False

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "grader": self.name,
            "passed": self.passed,
            "skipped": self.skipped,
            "failures": self.failures,
        }
