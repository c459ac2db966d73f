"""Test doubles shared by the test suite (in-memory deployment target and verifier)."""

from .memory_target import Behaviour, FakeClock, MemoryTarget, MemoryVerifier, SimulatedCrash
from .rig import Rig, make_rig

__all__ = [
    "Behaviour",
    "FakeClock",
    "MemoryTarget",
    "MemoryVerifier",
    "Rig",
    "SimulatedCrash",
    "make_rig",
]
