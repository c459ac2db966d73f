"""A deployment engine wired to a `MemoryTarget`, a `MemoryVerifier`, a fake clock and a
real journal in a temporary directory: the setting most engine tests start from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.journal import Journal, read_journal
from agent.redaction import Redactor
from tools.deploy.engine import DeploymentEngine
from tools.deploy.settings import StrategySettings
from tools.deploy.strategies.feature_flag import FlagStore

from .memory_target import FakeClock, MemoryTarget, MemoryVerifier


@dataclass
class Rig:
    """Engine, target, verifier, clock and journal of one test run."""

    engine: DeploymentEngine
    target: MemoryTarget
    verifier: MemoryVerifier
    clock: FakeClock
    journal_path: Path
    settings: StrategySettings
    journal: Journal

    def steps(self) -> list[tuple[str, str]]:
        """(step_id, phase) of every step event in the journal, in order."""
        return [
            (record["step_id"], record["phase"])
            for record in read_journal(self.journal_path)
            if record.get("type") == "step"
        ]

    def resume(self, flags: FlagStore | None = None) -> DeploymentEngine:
        """A new engine rebuilt from the journal, as after a crash (same target)."""
        self.journal.close()  # the crashed process's lock on the journal died with it
        return DeploymentEngine.resume(
            self.journal_path,
            self.target,
            verifier=self.verifier,
            settings=self.settings,
            clock=self.clock,
            sleep=self.clock.sleep,
            flags=flags,
        )


def make_rig(
    tmp_path: Path,
    *,
    target: MemoryTarget | None = None,
    settings: StrategySettings | None = None,
    flags: FlagStore | None = None,
    **verifier_options: Any,
) -> Rig:
    """Build a rig; `settings` default to a 10 s blue-green bake and canary 10/50/100."""
    clock = FakeClock()
    target = target or MemoryTarget(clock=clock)
    target.clock = clock
    settings = settings or StrategySettings()
    verifier = MemoryVerifier(target, clock=clock, **verifier_options)
    path = tmp_path / "runs" / "run-1" / "journal.jsonl"
    journal = Journal(path, Redactor(), "run-1")
    engine = DeploymentEngine(
        target,
        journal,
        verifier=verifier,
        settings=settings,
        clock=clock,
        sleep=clock.sleep,
        flags=flags,
    )
    return Rig(engine, target, verifier, clock, path, settings, journal)
