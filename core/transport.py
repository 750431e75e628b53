"""The connect-time address check of the one HTTP seam (:mod:`core.http`).

A URL is checked when it is saved (:mod:`core.urlpolicy`), but the name in it may resolve somewhere else by the time
a request goes out (DNS rebinding), and an address may be written in a form the save-time check does not read
(``2130706433``, ``0177.0.0.1``, ``0x7f000001``, ``::ffff:127.0.0.1``, ``64:ff9b::a9fe:a9fe``, ``localhost.``). So
every connection is made by :class:`CheckedBackend`: it resolves the host **once**, refuses the connection when any
address it resolves to is not a public one (loopback, private, link-local and cloud metadata, shared, reserved,
multicast; IPv4 addresses embedded in IPv6 forms are unwrapped first), and connects to the address it checked. TLS
still verifies the certificate for the name and sends it as SNI, and the ``Host`` header stays the name, because
httpcore passes the URL's host to the TLS layer independently of the address the socket connects to.

Hosts listed (exactly as written in the URL) in ``PLAIN_HTTP_HOSTS`` or ``PRIVATE_NETWORK_HOSTS`` may resolve to
non-public addresses: an on-premises feed or the loopback simulators of the tests.
"""

from __future__ import annotations

import ipaddress
import socket
import typing
from collections.abc import Iterable

import httpcore
import httpx
from django.conf import settings
from httpcore._backends.sync import SyncStream

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 prefixes that carry an IPv4 address in their last 32 bits (RFC 6052 NAT64, well-known and local-use).
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# Cloud metadata addresses that some Python versions count as global (Alibaba's sits in 100.64/10).
_METADATA = frozenset({ipaddress.ip_address("100.100.100.200"), ipaddress.ip_address("fd00:ec2::254")})


class BlockedAddress(httpcore.ConnectError):
    """The host resolved to an address Feedkeeper never connects to. The message names the host and the address
    (never a credential: the URL's userinfo is not part of either)."""


def unwrap(addr: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address stands for (IPv4-mapped, NAT64, 6to4, IPv4-compatible), else ``addr``."""
    if isinstance(addr, ipaddress.IPv4Address):
        return addr
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if any(addr in net for net in _NAT64):
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr.teredo is not None:
        return addr.teredo[1]
    if int(addr) >> 32 == 0 and int(addr) > 1:  # ::a.b.c.d (deprecated IPv4-compatible form)
        return ipaddress.IPv4Address(int(addr))
    return addr


def is_public(addr: IPAddress) -> bool:
    """True for an address on the public internet; False for loopback, private, link-local (cloud metadata),
    shared, reserved, unspecified and multicast addresses, in whatever IPv6 form they are wrapped."""
    inner = unwrap(addr)
    for candidate in {addr, inner}:
        if candidate in _METADATA or candidate.is_multicast or not candidate.is_global:
            return False
    return True


def parse_literal(host: str) -> IPAddress | None:
    """``host`` as an IP address when it is one in any form a C resolver accepts (dotted, decimal, octal, hex,
    short forms, bracketed IPv6 with a zone), else None."""
    host = host.strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def allowed_private_hosts() -> frozenset[str]:
    """Hosts that may resolve to non-public addresses: ``PLAIN_HTTP_HOSTS`` and ``PRIVATE_NETWORK_HOSTS``."""
    hosts: Iterable[str] = [*settings.PLAIN_HTTP_HOSTS, *getattr(settings, "PRIVATE_NETWORK_HOSTS", [])]
    return frozenset(h.strip().lower().strip("[]") for h in hosts if h.strip())


def resolve(host: str, port: int) -> list[tuple[int, tuple[typing.Any, ...]]]:
    """Resolve ``host`` once and check every address; returns ``(family, sockaddr)`` pairs to connect to, in the
    resolver's order. Raises :class:`BlockedAddress` when any address is not public and the host is not allowed to
    be private (a name with one public and one private address is refused: the resolver may pick either)."""
    name = host.strip("[]").lower()
    literal = parse_literal(name)
    if literal is not None:
        family = socket.AF_INET6 if literal.version == 6 else socket.AF_INET
        sockaddr: tuple[typing.Any, ...] = (str(literal), port, 0, 0) if literal.version == 6 else (str(literal), port)
        found: list[tuple[int, tuple[typing.Any, ...]]] = [(family, sockaddr)]
    else:
        try:
            infos = socket.getaddrinfo(name.rstrip("."), port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"getaddrinfo failed for {host}: {exc}") from exc
        found = [(int(info[0]), info[4]) for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)]
        if not found:
            raise httpcore.ConnectError(f"getaddrinfo failed for {host}: no address associated with the name")
    if name in allowed_private_hosts():  # as written: "localhost." is not "localhost"
        return found
    for _, sockaddr in found:
        addr = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if not is_public(addr):
            raise BlockedAddress(
                f"{host} resolves to {addr}, a loopback, private, link-local or metadata address; "
                "list the host in PRIVATE_NETWORK_HOSTS if it is meant to be reached"
            )
    return found


class CheckedBackend(httpcore.SyncBackend):
    """httpcore's synchronous network backend, connecting only to addresses :func:`resolve` checked."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve(host, port)
        last: Exception | None = None
        for family, sockaddr in addresses:
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            try:
                sock.settimeout(timeout)
                for option in socket_options or ():
                    sock.setsockopt(*option)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if local_address is not None:
                    sock.bind((local_address, 0))
                sock.connect(sockaddr)
            except TimeoutError as exc:
                sock.close()
                last = httpcore.ConnectTimeout(str(exc) or "timed out")
                continue
            except OSError as exc:
                sock.close()
                last = httpcore.ConnectError(str(exc))
                continue
            return SyncStream(sock)
        assert last is not None
        raise last


def checked_transport(**kwargs: typing.Any) -> httpx.HTTPTransport:
    """An ``httpx.HTTPTransport`` (no proxy) whose connections go through :class:`CheckedBackend`."""
    transport = httpx.HTTPTransport(**kwargs)
    pool = transport._pool
    assert isinstance(pool, httpcore.ConnectionPool)
    # httpx builds its pool without a network_backend argument; the pool reads this attribute for every connection.
    pool._network_backend = CheckedBackend()
    return transport
