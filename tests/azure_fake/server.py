"""A loopback HTTP server speaking ARM (web apps), Kudu zip deploy and the sites themselves.

One port, three prefixes:
- `/subscriptions/.../providers/Microsoft.Web/sites/<app>[/...]`: ARM, answered
  synchronously with 200 so the SDK's pollers finish at once;
- `/kudu/<app>/<slot>/api/...`: Kudu (zipdeploy 202 + Location, deployment status);
- `/site/<app>/<slot>/...`: what the slot serves (production applies routing rules).
ARM and Kudu require `Authorization: Bearer <token>`. Each ARM/Kudu request is logged.
"""

from __future__ import annotations

import io
import json
import threading
import uuid
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .model import PRODUCTION, FakeApp

_READS = ("/list", "/slotsdiffs")


@dataclass(frozen=True)
class Request:
    service: str  # arm | kudu
    method: str
    path: str  # relative to the app (ARM) or to the slot's Kudu site
    body: Any = field(default=None, compare=False)  # parsed JSON of ARM requests

    @property
    def mutating(self) -> bool:
        if self.method == "GET":
            return False
        return not (self.method == "POST" and self.path.endswith(_READS))

    def __str__(self) -> str:
        return f"{self.method} {self.path}".rstrip()


class FakeAzure:
    """The server and the apps it serves; use as a context manager."""

    def __init__(self, app: FakeApp, *, token: str = "fake-token-0123456789") -> None:
        self.app = app
        self.token = token
        self.subscription = "00000000-0000-0000-0000-000000000000"
        self.resource_group = "rg-shop"
        self.log: list[Request] = []
        self.deployments: dict[str, dict[str, Any]] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeAzure:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def mutations(self) -> list[str]:
        """Every changing ARM/Kudu request, in order (`POST slots/staging/slotsswap`)."""
        return [f"{r.service} {r}" for r in self.log if r.mutating]

    def target_settings(self, **overrides: Any) -> dict[str, Any]:
        """`[deploy.appservice]` settings pointing at this fake."""
        base = self.base_url
        return {
            "subscription_id": self.subscription,
            "resource_group": self.resource_group,
            "app_name": self.app.name,
            "arm_endpoint": base,
            "kudu_endpoint_template": base + "/kudu/{app}/{slot}",
            "production_url": f"{base}/site/{self.app.name}/{PRODUCTION}",
            "slot_url_template": base + "/site/{app}/{slot}",
            "deploy_poll_interval_s": 0.01,
            "probe_interval_s": 0.01,
            "preview_check_timeout_s": 1.0,
            "preview_check_interval_s": 0.01,
            **overrides,
        }

    # -- ARM ---------------------------------------------------------------------------

    def arm(self, method: str, rel: str, body: Any) -> tuple[int, Any]:
        app = self.app
        parts = rel.split("/") if rel else []
        slot = PRODUCTION
        if len(parts) >= 2 and parts[0] == "slots":
            slot, parts = parts[1], parts[2:]
        action = "/".join(parts)
        with app.lock:
            if slot not in app.slots and not (method == "PUT" and action == ""):
                return 404, _error("ResourceNotFound", f"slot {slot} of {app.name} not found")
            if action == "" and method == "GET":
                return 200, self._site_json(slot)
            if action == "" and method == "PUT":
                app.create_slot(slot)
                return 200, self._site_json(slot)
            if action in ("slotsswap", "applySlotConfig"):
                source = slot if slot != PRODUCTION else str(body.get("targetSlot"))
                if source not in app.slots or source == PRODUCTION:
                    return 400, _error("BadRequest", f"cannot swap {source!r}")
                if action == "applySlotConfig":
                    app.apply_slot_config(source)
                    return 200, None
                if app.faults.swap_conflicts > 0:
                    app.faults.swap_conflicts -= 1
                    return 409, _error("Conflict", "There is a swap operation in progress")
                app.swap(source)
                return 200, None
            if action == "resetSlotConfig":
                app.reset_slot_config()
                return 200, None
            if action in ("start", "stop", "restart"):
                app.slots[slot].state = "Stopped" if action == "stop" else "Running"
                return 200, None
            if action == "config/appsettings/list":
                return 200, {"name": "appsettings", "properties": dict(app.slots[slot].settings)}
            if action == "config/appsettings" and method == "PUT":
                app.slots[slot].settings = {str(k): str(v) for k, v in body["properties"].items()}
                return 200, {"name": "appsettings", "properties": dict(app.slots[slot].settings)}
            if action == "config/slotConfigNames":
                names = {"appSettingNames": sorted(app.sticky), "connectionStringNames": []}
                return 200, {"name": "slotConfigNames", "properties": names}
            if action == "slotsdiffs":
                return 200, {"value": app.differences(slot)}
            if action == "config/web":
                return self._config(slot, method, body)
        return 400, _error("BadRequest", f"the fake does not know {method} {rel}")

    def _config(self, slot: str, method: str, body: Any) -> tuple[int, Any]:
        app = self.app
        if method == "PATCH":
            props = dict(body.get("properties") or {})
            experiments = props.pop("experiments", None)
            if experiments is not None:
                if slot != PRODUCTION:
                    return 400, _error("BadRequest", "routing rules live on production")
                app.routing = list(experiments.get("rampUpRules") or [])
            app.slots[slot].config.update(props)
        props = {**app.slots[slot].config}
        if slot == PRODUCTION:
            props["experiments"] = {"rampUpRules": list(app.routing)}
        return 200, {"name": "web", "properties": props}

    def _site_json(self, slot: str) -> dict[str, Any]:
        app = self.app
        rid = (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Web/sites/{app.name}"
        )
        is_slot = slot != PRODUCTION
        return {
            "id": rid + (f"/slots/{slot}" if is_slot else ""),
            "name": f"{app.name}/{slot}" if is_slot else app.name,
            "type": "Microsoft.Web/sites/slots" if is_slot else "Microsoft.Web/sites",
            "location": app.location,
            "properties": {
                "state": app.slots[slot].state,
                "defaultHostName": app.host(slot),
                "serverFarmId": app.server_farm_id,
                "enabled": True,
            },
        }

    # -- Kudu --------------------------------------------------------------------------

    def kudu(
        self, method: str, slot: str, rel: str, body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        if method == "POST" and rel == "api/zipdeploy":
            content = _site_json_of(body)
            if content is None:
                return 400, {"error": "not a zip"}, {}
            dep_id = uuid.uuid4().hex
            self.deployments[dep_id] = {
                "slot": slot,
                "content": content,
                "polls": 0,
                "fails": self.app.faults.deploy_fails,
            }
            location = f"{self.base_url}/kudu/{self.app.name}/{slot}/api/deployments/{dep_id}"
            return 202, None, {"Location": location}
        if method == "GET" and rel.startswith("api/deployments/"):
            dep = self.deployments.get(rel.rsplit("/", 1)[-1])
            if dep is None:
                return 404, {"error": "no such deployment"}, {}
            dep["polls"] += 1
            record = {"id": rel.rsplit("/", 1)[-1], "complete": False, "status": 1}
            if dep["polls"] <= self.app.faults.deploy_polls:
                return 202, record, {}
            if dep["fails"]:
                return (
                    200,
                    {
                        **record,
                        "complete": True,
                        "status": 3,
                        "status_text": "Oryx build failed: pip install exited 1",
                        "log_url": f"{self.base_url}/kudu/log",
                    },
                    {},
                )
            with self.app.lock:
                self.app.slots[dep["slot"]].content = dep["content"]
            return 200, {**record, "complete": True, "status": 4, "status_text": ""}, {}
        return 404, {"error": f"unknown kudu path {rel}"}, {}


def _site_json_of(body: bytes) -> dict[str, Any] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            names = archive.namelist()
            return json.loads(archive.read("site.json")) if "site.json" in names else {}
    except zipfile.BadZipFile:
        return None


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _handler(fake: FakeAzure) -> type[BaseHTTPRequestHandler]:
    from .handler import make_handler

    return make_handler(fake)
