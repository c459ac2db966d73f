"""The SSRF guard's building blocks: libc-compatible IP parsing, classification, allow-list."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tools.web.ssrf import AllowList, parse_ip_literal, refusal_reason


def _spell(number: int, style: str) -> str:
    if style == "hex":
        return hex(number)
    if style == "octal":
        return "0" + oct(number)[2:]
    return str(number)


_PART = st.tuples(st.integers(0, 2**32 - 1), st.sampled_from(["dec", "hex", "octal"]))


@given(st.lists(_PART, min_size=1, max_size=4))
def test_ip_parsing_agrees_with_libc_inet_aton(parts: list[tuple[int, str]]) -> None:
    text = ".".join(_spell(number, style) for number, style in parts)
    try:
        expected: ipaddress.IPv4Address | None = ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        expected = None
    assert parse_ip_literal(text) == expected


@pytest.mark.parametrize(
    "text",
    ["example.com", "08.0.0.1", "1.2.3.4.5", "1..2", "", "0x", "1_0.0.0.1", "0x-1", "1.2.3.0x"],
)
def test_host_names_and_invalid_spellings_are_not_ip_literals(text: str) -> None:
    libc_accepts = True
    try:
        socket.inet_aton(text)
    except OSError:
        libc_accepts = False
    assert (parse_ip_literal(text) is not None) == libc_accepts


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "2002:5db8:d822::", "2001:0:4136:e378::1"],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("169.254.169.254", "a link-local/cloud-metadata address"),
        ("fd00:ec2::254", "a link-local/cloud-metadata address"),
        ("100.100.100.200", "a carrier-grade NAT (shared 100.64.0.0/10) address"),
        ("255.255.255.255", "a reserved address"),
        ("::ffff:10.0.0.1", "an IPv4-mapped IPv6 address embedding 10.0.0.1, a private-network"),
        ("2001:0:a00:1:8000:63bf:3fff:fdd2", "a Teredo IPv6 address embedding 10.0.0.1"),
    ],
)
def test_non_public_addresses_are_classified(address: str, reason: str) -> None:
    found = refusal_reason(ipaddress.ip_address(address))
    assert found is not None and found.startswith(reason)


def test_allow_list_entries_can_be_limited_to_a_port() -> None:
    allow = AllowList.parse(["127.0.0.1:8080", "10.0.0.0/8", "intranet.example", "[::1]:9000"])
    loopback = ipaddress.ip_address("127.0.0.1")
    assert allow.allows("127.0.0.1", loopback, 8080)
    assert not allow.allows("127.0.0.1", loopback, 8081)
    assert allow.allows("db.internal", ipaddress.ip_address("10.9.8.7"), 5432)
    assert allow.allows("INTRANET.example.", ipaddress.ip_address("192.168.0.5"), 443)
    assert allow.allows("[::1]", ipaddress.ip_address("::1"), 9000)
    assert not allow.allows("[::1]", ipaddress.ip_address("::1"), 9001)
    assert not allow.allows("other.example", ipaddress.ip_address("192.168.0.5"), 443)


def test_allow_listed_ipv4_also_covers_its_ipv4_mapped_form() -> None:
    allow = AllowList.parse(["127.0.0.1"])
    assert allow.allows("::ffff:127.0.0.1", ipaddress.ip_address("::ffff:127.0.0.1"), 80)
