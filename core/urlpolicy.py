"""Which URLs Feedkeeper may call: https only (plain http only for ``PLAIN_HTTP_HOSTS``), no credentials in
the URL, and never a link-local or cloud metadata address. Feeds and targets share this rule."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from core.transport import parse_literal, unwrap

_METADATA_HOSTS = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal"}
)
_BLOCKED_NETWORKS = (
    ipaddress.ip_network("169.254.0.0/16"),  # link-local, AWS/Azure/GCP metadata
    ipaddress.ip_network("fe80::/10"),  # IPv6 link-local
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS IMDS over IPv6
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud metadata
    ipaddress.ip_network("0.0.0.0/8"),
)


def _blocked_ip(host: str) -> bool:
    # Every spelling a resolver accepts (2130706433, 0251.0376.0251.0376, ::ffff:..., NAT64, a trailing dot).
    # This is the save-time check only: core.transport checks the resolved address of every connection.
    addr = parse_literal(host)
    if addr is None:
        return False
    return any(a in net for a in {addr, unwrap(addr)} for net in _BLOCKED_NETWORKS)


def validate_service_url(url: str, *, what: str = "URL", allow_query: bool = False) -> str:
    """Validate and normalise an outbound URL; raise ``ValidationError`` with a message that never repeats
    credentials found in it. Returns the URL with surrounding whitespace removed. ``allow_query`` admits a query
    string (webhook URLs that carry their signature there); a fragment is never allowed."""
    url = (url or "").strip()
    if not url:
        raise ValidationError(f"Enter the {what}.")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise ValidationError(f"The {what} is not a valid URL.") from None
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise ValidationError(
            f"The {what} must not contain credentials (user:token@). Enter the token in its own field."
        )
    if parts.scheme not in ("https", "http") or not host:
        raise ValidationError(f"The {what} must be an https:// URL with a host name.")
    if parts.scheme == "http" and host not in settings.PLAIN_HTTP_HOSTS:
        raise ValidationError(
            f"The {what} must use https. Plain http is allowed only for hosts listed in PLAIN_HTTP_HOSTS."
        )
    if host in _METADATA_HOSTS or _blocked_ip(host.strip("[]")):
        raise ValidationError(f"The {what} points at a link-local or metadata address, which is never allowed.")
    if (parts.query and not allow_query) or parts.fragment:
        raise ValidationError(f"The {what} must not have a query string or fragment.")
    return url


_DEFAULT_PORTS = {"https": 443, "http": 80}


def origin(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of ``url``, the default port filled in: where a credential sent with it goes."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError:
        return ("", (url or "").strip().lower(), None)
    scheme = parts.scheme.lower()
    return (scheme, (parts.hostname or "").lower().rstrip("."), port or _DEFAULT_PORTS.get(scheme))
