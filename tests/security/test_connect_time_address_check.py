"""The HTTP seam checks the address it connects to, not only the URL's text: a name that resolves (or rebinds) to a
loopback, private, link-local or metadata address is refused at connect time, in every spelling of the address."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pytest_django.fixtures import Settings

from core import http, transport
from simulators.azure_devops.crypto import make_tls_material

_real_getaddrinfo = socket.getaddrinfo


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> list[str]:
    """Answer ``getaddrinfo`` for the names in ``answers`` (one list per successive lookup, the last repeating);
    returns the names looked up, in order."""
    asked: list[str] = []
    calls: dict[str, int] = {}

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in answers:
            return _real_getaddrinfo(host, port, *args, **kwargs)
        asked.append(name)
        n = calls[name] = calls.get(name, 0) + 1
        address = answers[name][min(n, len(answers[name])) - 1]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sockaddr: tuple[Any, ...] = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


class _Seen:
    hosts: list[str]
    sni: list[str | None]


@pytest.fixture
def tls_server() -> Iterator[tuple[int, str, _Seen]]:
    """An https server on 127.0.0.1 whose certificate names only ``feed.internal.test``; yields its port, the CA
    file, and the Host headers and SNI names it saw."""
    material = make_tls_material(("feed.internal.test",))
    seen = _Seen()
    seen.hosts, seen.sni = [], []

    def sni_callback(sock: ssl.SSLSocket, name: str | None, ctx: ssl.SSLContext) -> None:
        seen.sni.append(name)

    material.context.sni_callback = sni_callback

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.hosts.append(self.headers.get("Host", ""))
            body = b"<html>ok</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = material.context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], material.ca_path, seen
    server.shutdown()
    server.server_close()
    material.cleanup()


@pytest.fixture(autouse=True)
def _fresh_client() -> Iterator[None]:
    http._local.__dict__.clear()
    yield
    http._local.__dict__.clear()


def refused(url: str) -> http.TransportError:
    with pytest.raises(http.TransportError) as caught:
        http.request("GET", url)
    return caught.value


@pytest.mark.parametrize(
    "address",
    ["169.254.169.254", "10.1.2.3", "192.168.0.10", "127.0.0.1", "::ffff:127.0.0.1", "64:ff9b::a9fe:a9fe", "::1"],
)
def test_a_name_resolving_to_a_non_public_address_is_refused_at_connect_time(
    monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    fake_dns(monkeypatch, {"feed.example.com": [address]})
    error = refused("https://feed.example.com/simple/")
    assert error.reason == "blocked"
    assert "feed.example.com" in str(error) and "PRIVATE_NETWORK_HOSTS" in str(error)


@pytest.mark.parametrize(
    "host",
    ["2130706433", "0x7f000001", "127.1", "[::ffff:127.0.0.1]", "[::ffff:a9fe:a9fe]", "[64:ff9b::a9fe:a9fe]"],
)
def test_loopback_and_metadata_addresses_in_unusual_spellings_are_refused(host: str) -> None:
    assert refused(f"http://{host}:9/simple/").reason == "blocked"


def test_an_octal_address_never_gets_a_connection() -> None:
    # httpx itself refuses 0177.0.0.1 as an invalid IPv4 address; were it passed on, the check reads it as octal.
    error = refused("http://0177.0.0.1:9/simple/")
    assert "invalid URL" in str(error)
    literal = transport.parse_literal("0177.0.0.1")
    assert literal is not None and str(literal) == "127.0.0.1" and not transport.is_public(literal)
    with pytest.raises(transport.BlockedAddress):
        transport.resolve("0177.0.0.1", 80)


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "0177.0.0.1", "127.1", "localhost."])
def test_the_resolver_check_reads_every_spelling_of_loopback(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    fake_dns(monkeypatch, {"localhost": ["127.0.0.1"]})
    with pytest.raises(transport.BlockedAddress):
        transport.resolve(host, 80)


def test_a_trailing_dot_does_not_turn_a_listed_host_into_an_unlisted_one_that_may_be_private(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
) -> None:
    settings.PLAIN_HTTP_HOSTS = ["localhost"]
    fake_dns(monkeypatch, {"localhost": ["127.0.0.1"]})
    assert refused("http://localhost.:9/simple/").reason == "blocked"


def test_a_name_that_rebinds_after_the_check_is_resolved_only_once_and_the_checked_address_is_used(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, tls_server: tuple[int, str, _Seen]
) -> None:
    port, ca_path, seen = tls_server
    settings.CA_BUNDLE = ca_path
    settings.PRIVATE_NETWORK_HOSTS = ["feed.internal.test"]
    # First answer is the server; any later lookup would point at the metadata address.
    asked = fake_dns(monkeypatch, {"feed.internal.test": ["127.0.0.1", "169.254.169.254"]})
    response = http.request("GET", f"https://feed.internal.test:{port}/simple/")
    assert response.status_code == 200
    assert asked == ["feed.internal.test"]
    # TLS verified the certificate for the name, sent it as SNI, and Host stayed the name.
    assert seen.sni == ["feed.internal.test"]
    assert seen.hosts == [f"feed.internal.test:{port}"]


def test_a_rebinding_name_is_refused_when_the_single_lookup_gives_a_private_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A save-time check may have seen a public address; the lookup the connection uses is the one checked.
    fake_dns(monkeypatch, {"rebind.example.com": ["10.0.0.7", "93.184.216.34"]})
    assert refused("https://rebind.example.com/").reason == "blocked"


def test_a_name_with_one_public_and_one_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("169.254.169.254", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    assert refused("https://mixed.example.com/").reason == "blocked"


def test_hosts_in_private_network_hosts_may_resolve_to_private_addresses(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, tls_server: tuple[int, str, _Seen]
) -> None:
    port, ca_path, _ = tls_server
    settings.CA_BUNDLE = ca_path
    fake_dns(monkeypatch, {"feed.internal.test": ["127.0.0.1"]})
    settings.PRIVATE_NETWORK_HOSTS = []
    assert refused(f"https://feed.internal.test:{port}/").reason == "blocked"
    settings.PRIVATE_NETWORK_HOSTS = ["feed.internal.test"]
    assert http.request("GET", f"https://feed.internal.test:{port}/").status_code == 200


def test_ca_bundle_is_what_lets_a_corporate_ca_be_trusted(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, tls_server: tuple[int, str, _Seen]
) -> None:
    port, ca_path, _ = tls_server
    settings.PRIVATE_NETWORK_HOSTS = ["feed.internal.test"]
    fake_dns(monkeypatch, {"feed.internal.test": ["127.0.0.1"]})
    settings.CA_BUNDLE = ""
    assert refused(f"https://feed.internal.test:{port}/").reason == "tls"
    settings.CA_BUNDLE = ca_path
    assert http.request("GET", f"https://feed.internal.test:{port}/").status_code == 200


def test_the_environment_ca_variables_are_ignored(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, tls_server: tuple[int, str, _Seen]
) -> None:
    port, ca_path, _ = tls_server
    settings.PRIVATE_NETWORK_HOSTS = ["feed.internal.test"]
    settings.CA_BUNDLE = ""
    fake_dns(monkeypatch, {"feed.internal.test": ["127.0.0.1"]})
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(name, ca_path)
    assert refused(f"https://feed.internal.test:{port}/").reason == "tls"


def test_a_blocked_address_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = fake_dns(monkeypatch, {"feed.example.com": ["169.254.169.254"]})
    waits: list[float] = []
    with pytest.raises(http.TransportError):
        http.request("GET", "https://feed.example.com/", retry=http.RetryPolicy(attempts=4), sleep=waits.append)
    assert waits == [] and asked == ["feed.example.com"]


def test_the_loopback_simulators_of_the_tests_stay_reachable_through_plain_http_hosts(
    settings: Settings, private_index: Any
) -> None:
    assert "127.0.0.1" in settings.PLAIN_HTTP_HOSTS
    assert http.request("GET", private_index.url).status_code in (200, 401)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("100.100.100.200", False),
        ("fd00:ec2::254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("2002:a9fe:a9fe::1", False),  # 6to4 wrapping 169.254.169.254
        ("fe80::1", False),
        ("::a9fe:a9fe", False),
    ],
)
def test_public_addresses_are_told_apart_from_the_rest(address: str, public: bool) -> None:
    import ipaddress

    assert transport.is_public(ipaddress.ip_address(address)) is public


def test_the_entra_sign_in_goes_through_the_same_checked_seam(monkeypatch: pytest.MonkeyPatch) -> None:
    from feeds.providers.azure_devops import _entra_session

    fake_dns(monkeypatch, {"login.example.com": ["169.254.169.254"]})
    with pytest.raises(http.TransportError) as caught:
        _entra_session().post("https://login.example.com/tenant/oauth2/v2.0/token", data={"grant_type": "x"})
    assert caught.value.reason == "blocked"
