"""A loopback stand-in for Microsoft Entra ID, ARM and Key Vault, for the real Azure MCP server.

`@azure/mcp` is a .NET program: its HTTP stack honours `HTTPS_PROXY`/`HTTP_PROXY`, and its
certificate checks honour `SSL_CERT_FILE`. Pointing the first at this proxy and the second at
a throw-away CA (`FakeCloud.env()`) makes every request the server sends arrive here,
decrypted, and go nowhere else (a host we do not impersonate fails the TLS check). A CONNECT
tunnel is answered with a certificate signed by that CA. Entra grants any client-secret
token request (with `token`); ARM and Key Vault answer 401. Every request is recorded, so a
test can see what the server sent, the credentials included.
"""

from __future__ import annotations

import datetime
import json
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Hosts the fake answers for; any other HTTPS host fails certificate validation.
HOSTS = ("login.microsoftonline.com", "management.azure.com", "*.vault.azure.net")


@dataclass(frozen=True)
class CloudRequest:
    """One request the server sent (through a tunnel: `host` is the tunnel's target)."""

    host: str
    method: str
    path: str
    headers: dict[str, str]
    body: str


class FakeCloud:
    """The proxy, its CA, and the record of everything the server asked for.

    Args:
        directory: Where the CA certificate and its key pair are written (one per fake).
        token: The access token Entra hands out.
    """

    def __init__(self, directory: Path, *, token: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.token = token
        self.ca_file = directory / "fake-cloud-ca.pem"
        self.tunnels: list[str] = []  # CONNECT targets, and plain-HTTP URLs (refused)
        self.requests: list[CloudRequest] = []
        self._lock = threading.Lock()
        self._tls = _tls_context(self.ca_file, directory)
        handler = type("Proxy", (_ProxyHandler,), {"cloud": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def env(self) -> dict[str, str]:
        """Environment that routes the server's HTTP(S) through this fake and trusts its CA."""
        return {
            "HTTPS_PROXY": self.proxy_url,
            "HTTP_PROXY": self.proxy_url,
            "NO_PROXY": "",
            "SSL_CERT_FILE": str(self.ca_file),
        }

    def record(self, request: CloudRequest | str) -> None:
        with self._lock:
            if isinstance(request, str):
                self.tunnels.append(request)
            else:
                self.requests.append(request)

    def seen(self) -> tuple[list[str], list[CloudRequest]]:
        """Tunnels and requests so far (copies)."""
        with self._lock:
            return list(self.tunnels), list(self.requests)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def tls_wrap(self, sock: Any) -> ssl.SSLSocket:
        return self._tls.wrap_socket(sock, server_side=True)


class _ProxyHandler(BaseHTTPRequestHandler):
    cloud: ClassVar[FakeCloud]

    def log_message(self, format: str, *args: Any) -> None:
        del format, args

    def do_CONNECT(self) -> None:
        self.cloud.record(self.path)
        self.send_response(200, "Connection established")
        self.end_headers()
        try:
            tunnel = self.cloud.tls_wrap(self.connection)
        except (ssl.SSLError, OSError):  # a host we do not impersonate: the client gave up
            self.close_connection = True
            return
        host = self.path.rsplit(":", 1)[0]
        # Serves the HTTP/1.1 requests inside the tunnel until the client closes it.
        type("Tunnel", (_ServiceHandler,), {"cloud": self.cloud, "host": host})(
            tunnel, self.client_address, self.server
        )
        self.close_connection = True

    def do_GET(self) -> None:  # plain HTTP through the proxy (IMDS would be one): refused
        self.cloud.record(self.path)
        self.send_error(403, "the fake cloud answers HTTPS only")

    do_POST = do_GET


class _ServiceHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cloud: ClassVar[FakeCloud]
    host: ClassVar[str]

    def log_message(self, format: str, *args: Any) -> None:
        del format, args

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.cloud.record(CloudRequest(self.host, self.command, self.path, headers, body))
        if self.host == "login.microsoftonline.com" and self.path.endswith("/oauth2/v2.0/token"):
            self._json(
                200,
                {
                    "token_type": "Bearer",
                    "expires_in": 3599,
                    "ext_expires_in": 3599,
                    "access_token": self.cloud.token,
                },
            )
        elif self.host == "login.microsoftonline.com":
            self._json(404, {"error": "not_found"})  # instance discovery: MSAL carries on
        else:
            self._json(
                401,
                {
                    "error": {
                        "code": "InvalidAuthenticationToken",
                        "message": "The access token is invalid.",
                    }
                },
            )

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _tls_context(ca_file: Path, directory: Path) -> ssl.SSLContext:
    """A CA written to `ca_file`, and a server context with a leaf for `HOSTS` it signed."""
    now = datetime.datetime.now(datetime.UTC)
    valid = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(hours=4))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hotfix-agent test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0]).not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOSTS[0])]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0]).not_valid_after(valid[1])
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in HOSTS]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    leaf_file, key_file = directory / "fake-cloud-leaf.pem", directory / "fake-cloud-leaf.key"
    leaf_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(leaf_file, key_file)
    return context


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=not ca, key_cert_sign=ca, crl_sign=ca,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
