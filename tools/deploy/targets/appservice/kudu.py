"""Zip deploy to a slot's Kudu (SCM) site with an Entra bearer token.

`POST <scm>/api/zipdeploy?isAsync=true` answers 202 with a `Location` to poll; the
deployment is done when that resource says `complete`, and succeeded when its `status` is
4 (Kudu: 0 pending, 1 building, 2 deploying, 3 failed, 4 success).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx2

from tools.deploy.target import TargetError
from tools.deploy.targets.appservice.operations import OperationLog
from tools.deploy.verification._http import describe_error, excerpt

KUDU_SUCCESS = 4
KUDU_FAILED = 3


class KuduClient:
    """Deploys packages to one slot's SCM endpoint, recording each call."""

    def __init__(
        self,
        base_url: str,
        token: str,
        log: OperationLog,
        resource: str,
        *,
        timeout_s: float = 900.0,
        poll_interval_s: float = 2.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.log = log
        self.resource = resource
        self.timeout_s = timeout_s
        self.poll_interval_s = poll_interval_s

    async def zip_deploy(self, package: Path) -> dict[str, Any]:
        """Upload `package`, wait for Kudu to finish; the final deployment record.

        Raises:
            TargetError: The upload was refused, the deployment failed or timed out.
        """
        data = await asyncio.to_thread(package.read_bytes)
        details: dict[str, Any] = {
            "package": package.name,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        started = time.monotonic()
        try:
            async with httpx2.AsyncClient(timeout=60.0, trust_env=False) as client:
                location = await self._upload(client, data)
                details["location"] = location
                result = (
                    await self._wait(client, location)
                    if location
                    else {"complete": True, "status": 4}
                )
        except TargetError as exc:
            self.log.record(
                "kudu",
                "zipdeploy",
                self.resource,
                mutating=True,
                started=started,
                details=details,
                error=str(exc),
            )
            raise
        details |= {key: result.get(key) for key in ("id", "status", "status_text", "log_url")}
        self.log.record(
            "kudu", "zipdeploy", self.resource, mutating=True, started=started, details=details
        )
        return result

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    async def _upload(self, client: httpx2.AsyncClient, data: bytes) -> str | None:
        url = f"{self.base_url}/api/zipdeploy?isAsync=true"
        headers = {**self._headers(), "Content-Type": "application/zip"}
        try:
            response = await client.post(url, content=data, headers=headers)
        except httpx2.HTTPError as exc:
            raise TargetError(
                f"zip deploy to {self.base_url} failed: {describe_error(exc, 60.0)}"
            ) from exc
        if response.status_code in (401, 403):
            raise TargetError(
                f"Kudu at {self.base_url} refused the Azure credential "
                f"({response.status_code}); the identity needs Website Contributor on the app"
            )
        if response.status_code == 200:
            return None  # deployed synchronously
        if response.status_code != 202:
            raise TargetError(
                f"zip deploy to {self.base_url} was rejected "
                f"({response.status_code}): {excerpt(response.text)}"
            )
        location = response.headers.get("Location")
        if not location:
            raise TargetError("Kudu accepted the zip deploy but gave no Location to poll")
        location = urljoin(url, location)
        if _origin(location) != _origin(self.base_url):
            # The token must never follow a redirect to another host.
            raise TargetError(f"Kudu's Location {location!r} is not on {self.base_url}")
        return location

    async def _wait(self, client: httpx2.AsyncClient, location: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                response = await client.get(location, headers=self._headers())
            except httpx2.HTTPError as exc:
                raise TargetError(
                    f"polling the zip deploy at {location} failed: {describe_error(exc, 60.0)}"
                ) from exc
            if response.status_code not in (200, 202):
                raise TargetError(
                    f"polling the zip deploy at {location} answered "
                    f"{response.status_code}: {excerpt(response.text)}"
                )
            record: dict[str, Any] = response.json() if response.content else {}
            if record.get("complete") is True:
                if record.get("status") == KUDU_SUCCESS:
                    return record
                text = record.get("status_text") or "no reason given"
                raise TargetError(
                    f"the zip deploy failed on Kudu (status {record.get('status')}"
                    f"): {text}; log: {record.get('log_url') or location}"
                )
            if time.monotonic() >= deadline:
                raise TargetError(
                    f"the zip deploy did not finish within {self.timeout_s:g}s "
                    f"(last status {record.get('status')}); see {location}"
                )
            await asyncio.sleep(self.poll_interval_s)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc
