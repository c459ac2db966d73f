"""SSRF guard: decide which address a URL may be fetched from, or refuse with the reason.

Every hop (the first URL and each redirect) is checked: the host is parsed the way libc
does (`2130706433`, `0177.0.0.1`, `0x7f.1`, `127.1` are all 127.0.0.1), names are resolved,
and ALL resolved addresses must be public unless `[fetch] allow_private` lists them. The
caller then connects to the checked address itself, so a second DNS answer cannot differ.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import httpx2

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Maps (host, port) to the addresses it resolves to; injectable for tests and sandboxes.
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

_METADATA_NAMES = frozenset(
    [
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    ]
)
_METADATA_IPS = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254")
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ATON_PART = re.compile(r"0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*)")

_V4_RULES: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "an unspecified ('this host') address"),
    ("127.0.0.0/8", "a loopback address"),
    ("169.254.0.0/16", "a link-local address"),
    ("10.0.0.0/8", "a private-network address"),
    ("172.16.0.0/12", "a private-network address"),
    ("192.168.0.0/16", "a private-network address"),
    ("100.64.0.0/10", "a carrier-grade NAT (shared 100.64.0.0/10) address"),
    ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", "a reserved address"),
)
_V6_RULES: tuple[tuple[str, str], ...] = (
    ("::/128", "an unspecified ('this host') address"),
    ("::1/128", "a loopback address"),
    ("fe80::/10", "a link-local address"),
    ("fc00::/7", "a private-network (unique local) address"),
    ("fec0::/10", "a private-network (site-local) address"),
    ("ff00::/8", "a multicast address"),
)
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
# Deprecated forms that still carry an IPv4 address in their last 32 bits: IPv4-compatible
# (`::127.0.0.1`, which `ipaddress` calls global) and SIIT IPv4-translated (`::ffff:0:a.b.c.d`).
_V4_TAILS = (
    (ipaddress.IPv6Network("::/96"), "an IPv4-compatible IPv6 address"),
    (ipaddress.IPv6Network("::ffff:0:0:0/96"), "an IPv4-translated IPv6 address"),
)


def _compile(rules: tuple[tuple[str, str], ...]) -> list[tuple[IPNetwork, str]]:
    return [(ipaddress.ip_network(net), reason) for net, reason in rules]


_RULES = _compile(_V4_RULES) + _compile(_V6_RULES)


class SsrfRefused(Exception):
    """The URL points somewhere the fetch tool must not go; the message says why."""


@dataclass(frozen=True)
class Target:
    """A checked destination: connect to `address`, but speak HTTP/TLS as `host`."""

    host: str
    port: int
    address: IPAddress


def parse_ip_literal(host: str) -> IPAddress | None:
    """Parse `host` as an IP address the way libc's `inet_aton` / `getaddrinfo` would.

    Accepts IPv6 (with or without brackets) and the IPv4 shorthands `a`, `a.b`, `a.b.c`,
    each part decimal, octal (leading 0) or hex (0x). Returns None for a host name.
    """
    text = host.strip("[]")
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text.replace("%25", "%"))
        except ValueError:
            return None
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = [_inet_aton_part(p) for p in parts]
    if None in values:
        return None
    nums = [v for v in values if v is not None]
    # The last part fills every byte the earlier parts left: 127.1 == 127.0.0.1.
    last_bits = 8 * (5 - len(nums))
    if any(n > 255 for n in nums[:-1]) or nums[-1] >= 1 << last_bits:
        return None
    value = nums[-1]
    for index, number in enumerate(nums[:-1]):
        value |= number << (24 - 8 * index)
    return ipaddress.IPv4Address(value)


def _inet_aton_part(part: str) -> int | None:
    # Strict shapes only: `int()` alone would also take "1_0", " 7" or "-1".
    match = _ATON_PART.fullmatch(part)
    if match is None:
        return None
    hex_digits, octal_digits, decimal = match.groups()
    if hex_digits is not None:
        return int(hex_digits, 16)
    if octal_digits is not None:
        return int(octal_digits, 8)
    return int(decimal, 10)


def refusal_reason(address: IPAddress) -> str | None:
    """Why `address` is not a public destination, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = refusal_reason(embedded[1])
            return None if inner is None else f"{embedded[0]} embedding {embedded[1]}, {inner}"
    if address in _METADATA_IPS:
        return "a link-local/cloud-metadata address"
    for network, reason in _RULES:
        if address.version == network.version and address in network:
            return reason
    if not address.is_global:
        return "a reserved, non-public address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    if address.ipv4_mapped is not None:
        return "an IPv4-mapped IPv6 address", address.ipv4_mapped
    if address.sixtofour is not None:
        return "a 6to4 IPv6 address", address.sixtofour
    if address.teredo is not None:
        return "a Teredo IPv6 address", address.teredo[0]
    tail = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if any(address in net for net in _NAT64):
        return "a NAT64 IPv6 address", tail
    if int(address) > 1:  # `::` and `::1` have rules of their own
        for network, kind in _V4_TAILS:
            if address in network:
                return kind, tail
    return None


@dataclass(frozen=True)
class AllowList:
    """Entries of `[fetch] allow_private`: host names, IPs or CIDRs, each optionally `:port`."""

    networks: tuple[tuple[IPNetwork, int | None], ...] = ()
    hosts: tuple[tuple[str, int | None], ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        networks: list[tuple[IPNetwork, int | None]] = []
        hosts: list[tuple[str, int | None]] = []
        for raw in entries:
            entry, port = _split_port(raw.strip())
            try:
                networks.append((ipaddress.ip_network(entry.strip("[]"), strict=False), port))
            except ValueError:
                hosts.append((_normalise_host(entry), port))
        return cls(tuple(networks), tuple(hosts))

    def allows(self, host: str, address: IPAddress | None, port: int) -> bool:
        """True when an entry covers this host name or address on this port."""
        name = _normalise_host(host)
        if any(h == name and p in (None, port) for h, p in self.hosts):
            return True
        if address is None:
            return False
        candidates: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        return any(
            a.version == net.version and a in net and p in (None, port)
            for net, p in self.networks
            for a in candidates
        )


def _split_port(entry: str) -> tuple[str, int | None]:
    host, sep, port = entry.rpartition(":")
    # `::1` or `fd00::/8` has colons but no port; `[::1]:8080` and `host:8080` have one.
    if sep and port.isdigit() and (entry.startswith("[") or ":" not in host):
        return host, int(port)
    return entry, None


def _normalise_host(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Resolve `host` with the system resolver (`getaddrinfo`, run off the event loop)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def _refusal(subject: str, reason: str, what: str) -> SsrfRefused:
    return SsrfRefused(
        f"refused: {subject} {reason} (SSRF guard); add {what} to [fetch] allow_private only "
        "if you trust it"
    )


async def check_url(url: httpx2.URL, allow: AllowList, resolver: Resolver) -> Target:
    """Check one hop and return the address to connect to.

    Raises:
        SsrfRefused: Bad scheme, credentials in the URL, or a non-public destination.
        OSError: The host name could not be resolved (`socket.gaierror`).
    """
    if url.scheme not in _DEFAULT_PORTS:
        raise SsrfRefused(f"refused: only http and https URLs can be fetched, not {url.scheme!r}")
    if url.userinfo:
        raise SsrfRefused("refused: URLs with credentials (user:password@) are not fetched")
    host = url.host
    port = url.port or _DEFAULT_PORTS[url.scheme]
    if not host:
        raise SsrfRefused(f"refused: {url} has no host")
    literal = parse_ip_literal(host)
    if literal is not None:
        return check_host_address(host, literal, port, allow, resolved=False)
    name = _normalise_host(host)
    if not allow.allows(name, None, port):
        if name in _METADATA_NAMES:
            raise _refusal(name, "is a cloud-metadata host name", "it")
        if name == "localhost" or name.endswith(".localhost"):
            raise _refusal(name, "is a loopback host name", "it")
    addresses = await resolver(host, port)
    if not addresses:
        raise OSError(f"{host} did not resolve to any address")
    for address in addresses:
        check_host_address(host, address, port, allow, resolved=True)
    return Target(host=host, port=port, address=addresses[0])


def check_host_address(
    host: str, address: IPAddress, port: int, allow: AllowList, *, resolved: bool
) -> Target:
    """Refuse `address` (what `host` stands for) unless it is public or allow-listed.

    `resolved` says whether the address came from DNS or from an IP literal in the URL.
    """
    reason = refusal_reason(address)
    if reason is not None and not allow.allows(host, address, port):
        if resolved:
            subject = f"{host} resolves to {address},"
        elif _normalise_host(host) == str(address):
            subject = f"{address} is"
        else:
            subject = f"{host} (= {address}) is"
        raise _refusal(subject, reason, str(address))
    return Target(host=host, port=port, address=address)
