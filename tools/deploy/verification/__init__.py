"""Deployment verification: health checks, smoke tests, metric analysis, traffic, prober.

Import the submodules directly (`from tools.deploy.verification.health import check_health`);
this package keeps its own import cheap and pulls nothing in.
"""
