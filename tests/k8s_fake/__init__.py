"""A loopback protocol fake of the Kubernetes API server for the Kubernetes target's tests.

The official `kubernetes` client talks to it over HTTP on 127.0.0.1; a controller thread
rolls Deployments out through ReplicaSets and pods, and a data plane answers requests sent
through Services and HTTPRoutes (see `FakeCluster`).
"""

from .cluster import FakeCluster, Recorded
from .pods import Behaviour

__all__ = ["Behaviour", "FakeCluster", "Recorded"]
