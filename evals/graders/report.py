"""Report completeness: the seven deliverables, consistent with what happened."""

from __future__ import annotations

from evals.graders.base import GradeResult
from evals.graders.outcome import deployment_status
from evals.trajectory import Trajectory

# The seed's seven deliverables, as words their sections must contain.
DELIVERABLES = {
    "deployment report": "deployment",
    "health check results": "health",
    "smoke test results": "smoke",
    "configuration applied": "configuration",
    "rollback plan": "rollback",
    "monitoring dashboards": "monitoring",
    "incident log": "incident",
}


def grade_report(trajectory: Trajectory) -> GradeResult:
    """report.md has every deliverable; report.json agrees with the journal."""
    result = GradeResult("report_complete")
    fail = result.failures.append
    if trajectory.report_md is None:
        fail("no report.md was written")
        return result
    headings = "\n".join(
        line.lower() for line in trajectory.report_md.splitlines() if line.startswith("#")
    )
    for deliverable, word in DELIVERABLES.items():
        if word not in headings:
            fail(f"report.md has no section for the {deliverable}")
    data = trajectory.report_json
    if data is None:
        fail("no report.json was written")
        return result
    status = deployment_status(trajectory)
    reported = (data.get("deployment") or {}).get("status") if data.get("deployment") else None
    if status != "none" and reported is not None and reported != status:
        fail(f"report says {reported}, the journal says {status}")
    if status in ("failed", "rolled_back", "needs_rollback") and not data.get("incidents"):
        fail(f"deployment {status} but the incident log is empty")
    if not data.get("rollback_plan"):
        fail("the rollback plan is empty")
    if trajectory.run_dir is not None and data.get("run_id") not in (None, trajectory.run_dir.name):
        fail(f"report.json is for run {data.get('run_id')}, not {trajectory.run_dir.name}")
    return result
