"""A `Verifier` that checks a `SimTarget` instead of sending HTTP requests.

Health checks follow the real check's rules (`consecutive_successes` probes in a row within
`max_wait_s`, one probe every `interval_s`) on the fake clock, so a slow warm-up or a
flapping version behaves as it would against a real endpoint, in no real time. Smoke tests
answer from each version's script; analysis windows "drive" synthetic traffic through the
target's weights and are judged by the real statistics (`verification.analysis.analyze`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evals.simulated.target import SimTarget
from tools.deploy.target import VersionMetrics
from tools.deploy.verification.analysis import analyze
from tools.deploy.verification.settings import VerificationSettings
from tools.deploy.verifier import observation_window


class SimVerifier:
    """Health, smoke and analysis answered from a simulated target's scripts."""

    def __init__(self, target: SimTarget, settings: VerificationSettings) -> None:
        self.target = target
        self.settings = settings
        self.clock = target.clock

    @property
    def analysis_window_s(self) -> float:
        return self.settings.analysis.window_s

    @property
    def generates_load(self) -> bool:
        return True

    def window_for(self, percent: int) -> float:
        return observation_window(self.settings.analysis, percent, True)

    async def health(self, base_url: str) -> dict[str, Any]:
        settings = self.settings.health
        started = self.clock()
        label = self.target.label_at(base_url)
        probes = failures = streak = 0
        deadline = started + settings.max_wait_s
        while True:
            probes += 1
            ok = self._probe(base_url, label)
            streak = streak + 1 if ok else 0
            failures += not ok
            if streak >= settings.consecutive_successes:
                break
            if self.clock() + settings.interval_s >= deadline:
                break
            self.clock.advance(settings.interval_s)
        passed = streak >= settings.consecutive_successes
        if passed:
            message = (
                f"healthy: {settings.consecutive_successes} consecutive successes after "
                f"{probes} probes ({failures} failed first)"
            )
        else:
            message = (
                f"not healthy within {settings.max_wait_s:g}s: no "
                f"{settings.consecutive_successes} consecutive successes in {probes} "
                f"probes ({failures} failed; last: {self._failure_text(label)})"
            )
        details = {
            "url": base_url,
            "message": message,
            "probes": probes,
            "failures": failures,
            "required_consecutive": settings.consecutive_successes,
            "final_streak": streak,
            "simulated_s": self.clock() - started,
        }
        return {
            "kind": "health",
            "name": f"health {settings.path}",
            "passed": passed,
            "details": details,
        }

    async def smoke(self, base_url: str, workdir: Path | None) -> list[dict[str, Any]]:
        del workdir
        target = self.target
        label = target.label_at(base_url)
        if label is None:  # through production: every version with traffic must pass
            serving = [target.behaviours[name] for name in target.weights]
            failing = next(
                (b for b in serving if b.smoke == "fail" or not b.smoke_via_production), None
            )
        else:
            behaviour = target.behaviours[label]
            failing = behaviour if behaviour.smoke == "fail" else None
        message = (
            "POST /checkout with an empty cart returned 200"
            if failing is None
            else ("; ".join([failing.smoke_message, *failing.log]))
        )
        return [
            {
                "kind": "smoke",
                "name": "checkout",
                "passed": failing is None,
                "details": {"url": base_url, "message": message},
            }
        ]

    async def drive_load(self, base_url: str, duration_s: float) -> dict[str, Any]:
        count = int(self.settings.analysis.load_rps * duration_s)
        self.target.serve(count)
        self.clock.advance(duration_s)
        return {"sent": count, "failed": 0, "simulated": True, "url": base_url}

    def analyze(self, baseline: VersionMetrics, candidate: VersionMetrics) -> dict[str, Any]:
        return analyze(baseline, candidate, self.settings.analysis).to_dict()

    def _probe(self, base_url: str, label: str | None) -> bool:
        if label is not None:
            return self.target.probe(label)
        if base_url != self.target.profile.production_url:
            return False
        if self.target.production_broken_by_flags() is not None:
            return False
        return all(self.target.probe(name) for name in self.target.weights)

    def _failure_text(self, label: str | None) -> str:
        target = self.target
        labels = [label] if label is not None else list(target.weights)
        for name in labels:
            behaviour = target.behaviours.get(name)
            if behaviour is None:
                continue
            if target.clock() - target.running.get(name, 0.0) < behaviour.warmup_s:
                return f"{name} is still warming up (503)"
            if behaviour.health != "healthy":
                return "; ".join(
                    [f"expected status 200, got 503: {behaviour.health_body}", *behaviour.log]
                )
        flag = target.production_broken_by_flags()
        if flag is not None:
            return f"expected status 200, got 500 (flag {flag}={target.flags.get(flag)})"
        return "expected status 200, got 503"
