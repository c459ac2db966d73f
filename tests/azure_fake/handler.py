"""The HTTP side of the fake: parse, authenticate, dispatch, answer JSON."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from .server import FakeAzure

_SITES = "/providers/Microsoft.Web/sites/"


def make_handler(fake: FakeAzure) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to `fake`."""
    from .server import Request

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # One segment per response, sent at once: no 40 ms delayed-ACK stall per call.
        disable_nagle_algorithm = True
        wbufsize = 1 << 16

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def do_GET(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        def do_PUT(self) -> None:
            self._dispatch()

        def do_PATCH(self) -> None:
            self._dispatch()

        def _dispatch(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = parts.path
            if path.startswith("/site/"):
                self._site(path, parse_qs(parts.query))
                return
            if not self._authorized():
                self._send(
                    401,
                    {
                        "error": {
                            "code": "InvalidAuthenticationToken",
                            "message": "The access token is invalid.",
                        }
                    },
                )
                return
            if path.startswith("/subscriptions/") and _SITES in path:
                if "api-version" not in parse_qs(parts.query):
                    self._send(
                        400,
                        {
                            "error": {
                                "code": "MissingApiVersionParameter",
                                "message": "api-version is required",
                            }
                        },
                    )
                    return
                rel = path.split(_SITES, 1)[1].split("/", 1)
                if rel[0] != fake.app.name:
                    self._send(
                        404,
                        {
                            "error": {
                                "code": "ResourceNotFound",
                                "message": f"app {rel[0]} not found",
                            }
                        },
                    )
                    return
                rel_path = rel[1] if len(rel) > 1 else ""
                parsed = json.loads(body) if body else None
                fake.log.append(Request("arm", self.command, rel_path, parsed))
                status, payload = fake.arm(self.command, rel_path, parsed)
                self._send(status, payload)
                return
            if path.startswith("/kudu/"):
                _, _, _app, slot, rest = path.split("/", 4)
                fake.log.append(Request("kudu", self.command, f"{slot}/{rest}"))
                status, payload, headers = fake.kudu(self.command, slot, rest, body)
                self._send(status, payload, headers)
                return
            self._send(404, {"error": "unknown path"})

        def _authorized(self) -> bool:
            return self.headers.get("Authorization") == f"Bearer {fake.token}"

        def _site(self, path: str, query: dict[str, list[str]]) -> None:
            _, _, app, slot, *rest = path.split("/")
            if app != fake.app.name:
                self._send(404, {"error": "no such site"})
                return
            pin = (query.get("x-ms-routing-name") or [None])[0]
            serving = fake.app.route(slot, pin)
            status, payload = fake.app.serve(serving, "/" + "/".join(rest))
            self._send(status, payload)

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler
