"""The one HTTP seam. Nothing else in Feedkeeper builds an ``httpx.Client``.

It owns timeouts, the user agent, retries with exponential backoff and jitter that honour ``Retry-After``,
redaction of credentials in every error it raises, and the classification of transport failures.
Platform adapters map responses to their own errors on top of :func:`request`.
"""

from __future__ import annotations

import functools
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import certifi
import httpx
from django.conf import settings
from django.core import checks

from core.redaction import redact
from core.transport import BlockedAddress, checked_transport

log = logging.getLogger(__name__)

USER_AGENT = "Feedkeeper/1.0 (+https://github.com/feedkeeper)"

_local = threading.local()


class TransportError(Exception):
    """The request got no HTTP answer. ``reason`` is ``dns``, ``refused``, ``timeout``, ``tls``, ``blocked`` (the
    host resolved to a loopback, private, link-local or metadata address) or ``other``; the message is already
    redacted."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry, and on what. ``methods`` limits retries to idempotent calls unless widened."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 20.0
    statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    retry_transport: bool = True
    methods: frozenset[str] = frozenset({"GET", "HEAD", "DELETE", "PUT", "OPTIONS"})

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempt + 1``: ``Retry-After`` when given, else backoff with jitter."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay) + random.uniform(0, 0.25)
        backoff = min(self.max_delay, self.base_delay * (2**attempt))
        return random.uniform(backoff / 2, backoff)


NO_RETRY = RetryPolicy(attempts=1)


@functools.cache
def ssl_context(ca_bundle: str = "") -> ssl.SSLContext:
    """The TLS trust of every outgoing request: the system's CAs, certifi's, and ``CA_BUNDLE`` when set (a corporate
    CA). Never ``REQUESTS_CA_BUNDLE``/``SSL_CERT_FILE`` from the environment (``trust_env`` is off)."""
    context = ssl.create_default_context(cafile=certifi.where())
    context.load_default_certs()
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context


@checks.register(checks.Tags.security)
def check_ca_bundle(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``manage.py check``: a ``CA_BUNDLE`` that cannot be loaded would fail every outgoing request."""
    if not settings.CA_BUNDLE:
        return []
    try:
        ssl_context(settings.CA_BUNDLE)
    except (OSError, ssl.SSLError) as exc:
        return [checks.Error(f"CA_BUNDLE {settings.CA_BUNDLE!r} cannot be loaded: {exc}", id="feedkeeper.E003")]
    return []


def client() -> httpx.Client:
    """The thread's shared client (connection pooling); created on first use, and again when the settings it is
    built from change. Its transport checks the resolved address of every connection (:mod:`core.transport`)."""
    key = (
        settings.CA_BUNDLE,
        settings.HTTP_READ_TIMEOUT,
        settings.HTTP_CONNECT_TIMEOUT,
    )
    c: httpx.Client | None = getattr(_local, "client", None)
    if c is None or c.is_closed or getattr(_local, "key", None) != key:
        if c is not None and not c.is_closed:
            c.close()
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=20)
        c = httpx.Client(
            headers={"User-Agent": USER_AGENT},
            timeout=httpx.Timeout(settings.HTTP_READ_TIMEOUT, connect=settings.HTTP_CONNECT_TIMEOUT),
            follow_redirects=False,
            transport=checked_transport(verify=ssl_context(settings.CA_BUNDLE), limits=limits, trust_env=False),
            trust_env=False,
        )
        _local.client, _local.key = c, key
    return c


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (integer form only; HTTP dates are treated as absent)."""
    if not value:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None


def _classify(exc: httpx.TransportError) -> str:
    text = str(exc).lower()
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, BlockedAddress):
            return "blocked"
        if isinstance(cause, ssl.SSLError):
            return "tls"
        cause = cause.__cause__ or cause.__context__
    if "certificate" in text or "ssl" in text or "tls" in text:
        return "tls"
    if "name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return "dns"
    if "temporary failure in name resolution" in text or "no address associated" in text:
        return "dns"
    if "connection refused" in text or "errno 111" in text:
        return "refused"
    return "other"


_REASON_TEXT = {
    "dns": "the host name could not be resolved",
    "refused": "the connection was refused",
    "timeout": "the request timed out",
    "tls": "the TLS handshake failed",
    "blocked": "the address is not allowed",
    "other": "the connection failed",
}


def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    data: Mapping[str, str] | None = None,
    content: str | bytes | None = None,
    timeout: float | None = None,
    retry: RetryPolicy = NO_RETRY,
    secrets: Iterable[str] = (),
    sleep: Callable[[float], None] = time.sleep,
) -> httpx.Response:
    """Send one request and return the final response (any status). Redirects are never followed.

    Retries on ``retry.statuses`` and on transport failures (for ``retry.methods`` only), honouring
    ``Retry-After``. A request that never gets an answer raises :class:`TransportError` with a redacted message
    that never contains the URL's credentials, the ``Authorization`` header or any string in ``secrets``.
    """
    secrets = tuple(secrets) + tuple(v for v in (auth or ()) if v)
    method = method.upper()
    retriable = method in retry.methods
    kwargs: dict[str, Any] = {"headers": headers, "params": params, "auth": auth}
    if json is not None:
        kwargs["json"] = json
    if data is not None:
        kwargs["data"] = data
    if content is not None:
        kwargs["content"] = content
    if timeout is not None:
        kwargs["timeout"] = httpx.Timeout(timeout, connect=min(timeout, settings.HTTP_CONNECT_TIMEOUT))
    attempt = 0
    while True:
        try:
            response = client().request(method, url, **kwargs)
        except httpx.TransportError as exc:
            reason = _classify(exc)
            if reason != "blocked" and retry.retry_transport and retriable and attempt + 1 < retry.attempts:
                wait = retry.delay(attempt, None)
                log.info("%s %s: %s; retrying in %.1fs", method, redact(url, secrets), reason, wait)
                sleep(wait)
                attempt += 1
                continue
            detail = f"{_REASON_TEXT[reason]} ({redact(str(exc) or type(exc).__name__, secrets)})"
            raise TransportError(reason, redact(detail, secrets)) from None
        except httpx.InvalidURL as exc:
            raise TransportError("other", f"invalid URL ({redact(str(exc), secrets)})") from None
        if response.status_code in retry.statuses and retriable and attempt + 1 < retry.attempts:
            response.read()
            wait = retry.delay(attempt, parse_retry_after(response.headers.get("Retry-After")))
            log.info("%s %s: HTTP %s; retrying in %.1fs", method, redact(url, secrets), response.status_code, wait)
            sleep(wait)
            attempt += 1
            continue
        return response


class MsalHttpClient:
    """msal's ``http_client`` (its ``get``/``post`` interface, ``msal.oauth2cli.http``) over this seam, so the Entra
    sign-in gets the same connect-time address check, ``CA_BUNDLE``, timeouts and redaction as everything else.
    A request that gets no answer raises :class:`TransportError`, as requests would raise its own error."""

    def get(
        self, url: str, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        response = request("GET", url, params=params, headers=headers, timeout=kwargs.get("timeout"))
        response.read()
        return response

    def post(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        if isinstance(data, str | bytes):
            response = request("POST", url, params=params, headers=headers, content=data, timeout=kwargs.get("timeout"))
        else:
            response = request("POST", url, params=params, headers=headers, data=data, timeout=kwargs.get("timeout"))
        response.read()
        return response

    def close(self) -> None:
        """Nothing to close: the seam's client is shared by the thread."""
