"""A protocol fake of Azure Resource Manager (web apps) and Kudu for the App Service target.

The real `azure-mgmt-web` client talks to it over loopback HTTP; see `server.py`.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

from .model import PRODUCTION, FakeApp, Faults, Slot
from .server import FakeAzure, Request

__all__ = [
    "PRODUCTION",
    "FakeApp",
    "FakeAzure",
    "FakeCredential",
    "Faults",
    "Request",
    "Slot",
    "make_site_zip",
]


class FakeCredential:
    """An azure-identity-style credential handing out one fixed token; counts its calls."""

    def __init__(self, token: str = "fake-token-0123456789", *, fail: bool = False) -> None:
        self.token = token
        self.fail = fail
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken
        from azure.core.exceptions import ClientAuthenticationError

        self.calls += 1
        if self.fail:
            raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")
        return AccessToken(self.token, int(time.time()) + 3600)


def make_site_zip(path: Path, version: str, **behaviour: Any) -> Path:
    """Write a deployable zip whose `site.json` tells the fake how the version behaves."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("site.json", json.dumps({"version": version, **behaviour}))
        archive.writestr("app.py", f"VERSION = {version!r}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return path
