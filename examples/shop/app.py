"""A tiny shop API, the service `hotfix demo` deploys (stdlib only).

Endpoints:
    GET  /healthz        {"status": "ok", "version": ...}
    GET  /api/products   the catalogue
    POST /api/checkout   {"items": [{"sku": ..., "qty": ...}]} -> line items and totals

Feature flags come from the JSON object in the file named by `HOTFIX_FLAGS_FILE`, re-read on
every request so a flag flip takes effect at once; `{"empty_cart_fix": false}` switches the
1.4.3 fix off (it defaults to on). Run: `python app.py --port 8080`.

This file is release 1.4.3 (the fixed one); `examples/demo_repo.py` derives the buggy 1.4.2
and the broken 1.4.3 variants from it for the demo's git history.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
VERSION = (HERE / "VERSION").read_text(encoding="utf-8").strip()

PRODUCTS: dict[str, dict[str, Any]] = {
    "COF-1": {"name": "Coffee beans 1 kg", "price_cents": 2450},
    "MUG-2": {"name": "Enamel mug", "price_cents": 1200},
    "FLT-3": {"name": "Paper filters (100)", "price_cents": 450},
    "GRD-4": {"name": "Hand grinder", "price_cents": 6900},
}
LOYALTY_THRESHOLD_CENTS = 2000  # average unit price above which the 5 % discount applies


class CheckoutError(ValueError):
    """The cart cannot be checked out; the message is shown to the client."""


def flags() -> dict[str, Any]:
    """Feature flags from $HOTFIX_FLAGS_FILE (an empty set when unset or unreadable)."""
    path = os.environ.get("HOTFIX_FLAGS_FILE")
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def list_products() -> list[dict[str, Any]]:
    """The catalogue, one entry per SKU."""
    return [{"sku": sku, **info} for sku, info in PRODUCTS.items()]


def checkout_total(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Price a cart: line totals, subtotal, loyalty discount and total, in cents."""
    lines: list[dict[str, Any]] = []
    for item in items:
        sku, qty = item.get("sku"), item.get("qty", 1)
        if sku not in PRODUCTS:
            raise CheckoutError(f"unknown sku {sku!r}")
        if not isinstance(qty, int) or qty < 1:
            raise CheckoutError(f"bad quantity {qty!r} for {sku}")
        price = int(PRODUCTS[sku]["price_cents"])
        lines.append({"sku": sku, "qty": qty, "line_cents": price * qty})
    subtotal = sum(line["line_cents"] for line in lines)
    units = sum(line["qty"] for line in lines)
    if flags().get("empty_cart_fix", True):
        average_unit_cents = subtotal / units if units else 0
    else:  # the 1.4.2 behaviour, kept switchable for a feature-flag rollout
        average_unit_cents = subtotal / units
    discount = round(subtotal * 0.05) if average_unit_cents > LOYALTY_THRESHOLD_CENTS else 0
    return {
        "lines": lines,
        "subtotal_cents": subtotal,
        "discount_cents": discount,
        "total_cents": subtotal - discount,
        "total": f"{(subtotal - discount) / 100:.2f}",
    }


def fault_injected() -> bool:
    """True when the flags file lists this running version under `inject_fault_in`.

    A deliberate fault switch for demos and tests: `{"inject_fault_in": ["v1.4.3"]}` makes
    that version answer 500 to everything, as a bad release would after promotion.
    """
    running = os.environ.get("HOTFIX_VERSION")
    targets = flags().get("inject_fault_in") or []
    return running is not None and isinstance(targets, list) and running in targets


class ShopHandler(BaseHTTPRequestHandler):
    """Routes the three endpoints; any uncaught error becomes a JSON 500."""

    protocol_version = "HTTP/1.1"  # keep-alive, as behind a real proxy
    disable_nagle_algorithm = True  # head and body are separate writes: don't delay the body
    server_version = "shop/" + VERSION

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if fault_injected():
            self._send(500, {"error": "fault injected", "version": VERSION})
        elif path == "/healthz":
            self._guarded(lambda: (200, {"status": "ok", "version": VERSION, "flags": flags()}))
        elif path == "/api/products":
            self._guarded(lambda: (200, {"products": list_products()}))
        else:
            self._send(404, {"error": f"no route for GET {path}"})

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if fault_injected():
            self._send(500, {"error": "fault injected", "version": VERSION})
            return
        if path != "/api/checkout":
            self._send(404, {"error": f"no route for POST {path}"})
            return
        try:
            payload = json.loads(raw or b"{}")
            items = payload["items"]
            if not isinstance(items, list):
                raise TypeError("items must be a list")
        except (ValueError, KeyError, TypeError) as exc:
            self._send(400, {"error": f"bad request: {exc}"})
            return
        self._guarded(lambda: (200, checkout_total(items)))

    def _guarded(self, produce: Callable[[], tuple[int, dict[str, Any]]]) -> None:
        try:
            status, body = produce()
        except CheckoutError as exc:
            status, body = 422, {"error": str(exc)}
        except Exception as exc:
            self.log_error("unhandled %s: %s", type(exc).__name__, exc)
            status, body = 500, {"error": "internal server error"}
        self._send(status, body)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"[shop {VERSION}] {format % args}\n")


def main(argv: list[str] | None = None) -> int:
    """Serve on 127.0.0.1 (port from --port, else $PORT, else 8080) until interrupted."""
    parser = argparse.ArgumentParser(description="tiny shop API")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), ShopHandler)
    server.daemon_threads = True
    print(f"shop {VERSION} listening on http://{args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
