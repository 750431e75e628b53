"""The one HTTP seam. Nothing else in Feedkeeper builds an ``httpx.Client``.

It owns timeouts, the user agent, retries with exponential backoff and jitter that honour ``Retry-After``,
redaction of credentials in every error it raises, and the classification of transport failures.
Platform adapters map responses to their own errors on top of :func:`request`.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from core.redaction import redact

log = logging.getLogger(__name__)

USER_AGENT = "Feedkeeper/1.0 (+https://github.com/feedkeeper)"

_local = threading.local()


class TransportError(Exception):
    """The request got no HTTP answer. ``reason`` is ``dns``, ``refused``, ``timeout``, ``tls`` or ``other``;
    the message is already redacted."""

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


def client() -> httpx.Client:
    """The thread's shared client (connection pooling); created on first use."""
    c: httpx.Client | None = getattr(_local, "client", None)
    if c is None or c.is_closed:
        c = httpx.Client(
            headers={"User-Agent": USER_AGENT},
            timeout=httpx.Timeout(settings.HTTP_READ_TIMEOUT, connect=settings.HTTP_CONNECT_TIMEOUT),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
            trust_env=False,
        )
        _local.client = c
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
    if timeout is not None:
        kwargs["timeout"] = httpx.Timeout(timeout, connect=min(timeout, settings.HTTP_CONNECT_TIMEOUT))
    attempt = 0
    while True:
        try:
            response = client().request(method, url, **kwargs)
        except httpx.TransportError as exc:
            reason = _classify(exc)
            if retry.retry_transport and retriable and attempt + 1 < retry.attempts:
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
