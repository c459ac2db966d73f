"""Makes `app` importable from tests/ (pytest puts the rootdir conftest's folder on sys.path)."""
