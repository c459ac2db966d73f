"""Stopping safely when the MCP client cancels a call or goes away mid-rollout.

The implementation is shared with the command line (Ctrl-C, SIGTERM) and lives in
`agent.safe_stop`; this module keeps the MCP server's imports working.
"""

from __future__ import annotations

from agent.safe_stop import Level, settle_production, stop_run_safely

__all__ = ["Level", "settle_production", "stop_run_safely"]
