"""Graders: each reads a `Trajectory` and says pass or fail, with the reasons.

`grade_all` runs every grader; a scenario passes when all of them pass.
"""

from __future__ import annotations

from collections.abc import Callable

from evals.graders.base import GradeResult
from evals.graders.handoff import grade_handoff
from evals.graders.invariants import (
    grade_approval_binding,
    grade_no_mutation_after_denial,
    grade_nothing_promoted_unverified,
    grade_rollback_after_failed_check,
)
from evals.graders.outcome import grade_outcome
from evals.graders.report import grade_report
from evals.graders.safety import grade_injection, grade_no_secret_leak, grade_unsafe_blocked
from evals.trajectory import Trajectory

Grader = Callable[[Trajectory], GradeResult]

GRADERS: tuple[Grader, ...] = (
    grade_outcome,
    grade_approval_binding,
    grade_no_mutation_after_denial,
    grade_nothing_promoted_unverified,
    grade_rollback_after_failed_check,
    grade_no_secret_leak,
    grade_injection,
    grade_unsafe_blocked,
    grade_report,
    grade_handoff,
)


def grade_all(trajectory: Trajectory) -> list[GradeResult]:
    """Every grader's verdict on `trajectory`."""
    return [grader(trajectory) for grader in GRADERS]


__all__ = ["GRADERS", "GradeResult", "grade_all"]
