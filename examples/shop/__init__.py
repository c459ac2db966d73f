"""The demo shop service (its files are copied into the demo repository)."""
