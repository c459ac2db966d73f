"""HTTPS through the SSRF guard: connect to the checked IP, verify the certificate by name."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.config import FetchConfig, HotfixConfig
from agent.redaction import Redactor
from tools.base import ToolContext, ToolError
from tools.web.fetch import FetchArgs, FetchTool
from tools.web.ssrf import IPAddress


def _self_signed(name: str, directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        del format, args

    def do_GET(self) -> None:
        body = f"tls ok for {self.headers['Host']}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    cert, key = _self_signed("public.example", tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server.server_address[1], cert
    server.shutdown()
    server.server_close()


async def _to_loopback(host: str, port: int) -> list[IPAddress]:
    del host, port
    return [ipaddress.ip_address("127.0.0.1")]


def _fetch(url: str, cert: Path, tmp_path: Path) -> str:
    trust = ssl.create_default_context(cafile=str(cert))
    config = HotfixConfig(fetch=FetchConfig(allow_private=["127.0.0.1"]))
    ctx = ToolContext(workspace=tmp_path, config=config, redactor=Redactor())
    tool = FetchTool(resolver=_to_loopback, ssl_context=trust)
    return asyncio.run(tool.run(FetchArgs(url=url), ctx)).text


def test_https_goes_to_checked_ip_with_sni_and_name_verified_certificate(
    tmp_path: Path, tls_server: tuple[int, Path]
) -> None:
    port, cert = tls_server
    text = _fetch(f"https://public.example:{port}/", cert, tmp_path)
    assert f"tls ok for public.example:{port}" in text


def test_https_certificate_for_another_name_is_rejected(
    tmp_path: Path, tls_server: tuple[int, Path]
) -> None:
    port, cert = tls_server
    with pytest.raises(ToolError) as info:
        _fetch(f"https://other.example:{port}/", cert, tmp_path)
    message = str(info.value)
    assert message.startswith("could not connect to other.example (127.0.0.1)")
    assert "CERTIFICATE_VERIFY_FAILED" in message
