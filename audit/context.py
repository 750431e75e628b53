"""Who is acting in the current request, for audit events written by signals (user and group changes) that have
no request of their own; and the client's address, honouring ``TRUSTED_PROXIES``."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from django.conf import settings

_request: ContextVar[Any] = ContextVar("audit_request", default=None)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies if p.strip())


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in _networks(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request: Any) -> str:
    """The client's address: ``REMOTE_ADDR``, unless that is a trusted proxy; then ``X-Forwarded-For`` is read
    from the right, skipping trusted proxies, and the first address that is not one is the client. A header from
    anyone else is ignored, so a client cannot choose the address recorded."""
    if request is None:
        return ""
    meta = getattr(request, "META", {})
    remote = str(meta.get("REMOTE_ADDR", "") or "")
    if not remote or not _trusted(remote):
        return remote
    forwarded = [part.strip() for part in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",") if part.strip()]
    client = remote
    for address in reversed(forwarded):
        try:
            ipaddress.ip_address(address)
        except ValueError:
            break  # a garbled hop: stop at the last address a trusted proxy vouched for
        client = address
        if not _trusted(address):
            break
    return client


def current_request() -> Any:
    return _request.get()


def current_actor() -> Any:
    """The signed-in user of the current request, else ``"system"`` (a command, a task, a migration)."""
    request = _request.get()
    user = getattr(request, "user", None) if request is not None else None
    return user if getattr(user, "is_authenticated", False) else "system"


@contextmanager
def acting(request: Any) -> Iterator[None]:
    token = _request.set(request)
    try:
        yield
    finally:
        _request.reset(token)
