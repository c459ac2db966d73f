"""Tests of the demo shop service (run inside the demo repository)."""
