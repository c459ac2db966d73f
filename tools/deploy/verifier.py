"""What the deployment engine asks of verification, and the real implementation.

The engine talks to a `Verifier` rather than to the verification functions directly, so
tests can script verdicts (`tests/fakes`) while production code delegates to
`tools.deploy.verification`. Results are plain JSON-ready dicts (`CheckResult.to_dict()`,
`AnalysisResult.to_dict()`): they go straight into the journal.
"""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from tools.deploy.target import VersionMetrics

if TYPE_CHECKING:
    from tools.deploy.verification.settings import AnalysisSettings, VerificationSettings


class Verifier(Protocol):
    """Health checks, smoke tests, synthetic traffic and metric analysis."""

    @property
    def analysis_window_s(self) -> float:
        """How long one analysis step observes traffic."""
        ...

    @property
    def generates_load(self) -> bool:
        """Whether `drive_load` sends synthetic traffic (else it only waits)."""
        ...

    def window_for(self, percent: int) -> float:
        """How long to observe a candidate with `percent` % of traffic to judge it."""
        ...

    async def health(self, base_url: str) -> dict[str, Any]:
        """One health check; the dict has at least `kind`, `name` and `passed`."""
        ...

    async def smoke(self, base_url: str, workdir: Path | None) -> list[dict[str, Any]]:
        """Every configured smoke test; command tests run in `workdir`."""
        ...

    async def drive_load(self, base_url: str, duration_s: float) -> dict[str, Any]:
        """Send synthetic traffic for `duration_s` (or just wait that long); a load report."""
        ...

    def analyze(self, baseline: VersionMetrics, candidate: VersionMetrics) -> dict[str, Any]:
        """Compare two windows of traffic; the dict has `outcome`, `score` and `reasons`."""
        ...


def is_loopback_url(url: str) -> bool:
    """True when `url` points at this machine (synthetic traffic may only go there)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def observation_window(settings: AnalysisSettings, percent: int, generates_load: bool) -> float:
    """The analysis window, stretched so a small canary share still gets `min_requests`.

    At 10 % of 100 req/s a 3 s window gives the candidate 30 requests, fewer than the 50 the
    analysis needs: it would always be inconclusive. With real traffic the rate is unknown,
    so the configured window stands.
    """
    if not generates_load or percent <= 0:
        return settings.window_s
    needed = settings.min_requests / (settings.load_rps * percent / 100)
    return max(settings.window_s, round(needed * 1.2, 1))


class DefaultVerifier:
    """`Verifier` over `tools.deploy.verification` (real HTTP, real statistics)."""

    def __init__(
        self, settings: VerificationSettings, *, workspace: Path, generate_load: bool = True
    ) -> None:
        """Args:
        settings: Health check, smoke tests and analysis thresholds.
        workspace: Working directory for command smoke tests when a version has none.
        generate_load: Send synthetic traffic during analysis windows (loopback only).
        """
        self.settings = settings
        self.workspace = workspace
        self._generate_load = generate_load

    @property
    def analysis_window_s(self) -> float:
        return self.settings.analysis.window_s

    @property
    def generates_load(self) -> bool:
        return self._generate_load

    def window_for(self, percent: int) -> float:
        return observation_window(self.settings.analysis, percent, self._generate_load)

    async def health(self, base_url: str) -> dict[str, Any]:
        from tools.deploy.verification.health import check_health

        return (await check_health(base_url, self.settings.health)).to_dict()

    async def smoke(self, base_url: str, workdir: Path | None) -> list[dict[str, Any]]:
        from tools.deploy.verification.smoke import run_smoke_tests

        results = await run_smoke_tests(
            base_url, self.settings.smoke, cwd=workdir or self.workspace
        )
        return [result.to_dict() for result in results]

    async def drive_load(self, base_url: str, duration_s: float) -> dict[str, Any]:
        if not (self._generate_load and is_loopback_url(base_url)):
            # Real users provide the traffic; the window still has to elapse.
            await asyncio.sleep(duration_s)
            return {"sent": 0, "failed": 0, "note": "no synthetic traffic; observed real traffic"}
        from tools.deploy.verification.load import drive_traffic

        analysis = self.settings.analysis
        report = await drive_traffic(
            base_url,
            analysis.load_paths,
            analysis.load_rps,
            duration_s,
            analysis.load_concurrency,
        )
        return report.to_dict()

    def analyze(self, baseline: VersionMetrics, candidate: VersionMetrics) -> dict[str, Any]:
        from tools.deploy.verification.analysis import analyze

        return analyze(baseline, candidate, self.settings.analysis).to_dict()
