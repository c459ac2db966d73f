"""The fast simulated environment of the eval suite: in-memory targets, a fake clock, faults."""

from evals.simulated.behaviour import Fault, VersionBehaviour
from evals.simulated.clock import FakeClock
from evals.simulated.target import PROFILES, SimKubernetesTarget, SimOp, SimTarget, build_target
from evals.simulated.verifier import SimVerifier

__all__ = [
    "PROFILES",
    "FakeClock",
    "Fault",
    "SimKubernetesTarget",
    "SimOp",
    "SimTarget",
    "SimVerifier",
    "VersionBehaviour",
    "build_target",
]
