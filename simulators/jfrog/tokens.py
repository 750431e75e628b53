"""Token formats of the JFrog simulator: JWT access tokens, reference tokens, refresh tokens, scopes.

Access tokens are JWTs (JFrog Platform Administration: "Introducing JFrog Access and Identity Tokens": "standard
JSON Web Tokens"). The claims follow JFrog's layout: ``sub`` is ``<issuer>/users/<username>``, ``scp`` the scope,
``aud`` the audience (default ``*@*``), ``iss`` the issuing service id (``jfac@…``), ``iat``/``exp`` epoch seconds
(no ``exp`` for a non-expiring token), ``jti`` the token id, and ``ext`` a JSON string carrying ``revocable``.
JFrog signs with RS256; the simulator signs with HS256 and a per-instance secret (clients must not verify
signatures themselves; the header still says ``"typ": "JWT"`` and the token reads ``eyJ…``).

Reference tokens (JFrog Platform Administration: "Understanding Identity Tokens") match
``cmVmd[A-Za-z0-9]{59}``: 64 characters, ``cmVmdGtuOjAx`` being base64 of ``reftkn:01``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import string
from typing import Any

__all__ = [
    "ADMIN_SCOPE",
    "REFERENCE_PATTERN",
    "USER_SCOPE",
    "decode_jwt",
    "encode_jwt",
    "make_reference",
    "make_refresh",
    "peek_jwt",
    "scope_error",
    "scope_groups",
    "scope_parts",
]

USER_SCOPE = "applied-permissions/user"
ADMIN_SCOPE = "applied-permissions/admin"
GROUPS_PREFIX = "applied-permissions/groups:"
ROLES_PREFIX = "applied-permissions/roles:"
REFERENCE_PREFIX = "cmVmdGtuOjAx"  # base64("reftkn:01")
REFERENCE_PATTERN = re.compile(r"^cmVmd[A-Za-z0-9]{59}$")
_ALNUM = string.ascii_letters + string.digits
_SYSTEM_SCOPE = re.compile(r"^system:[a-z]+:[rwx]+$")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_jwt(payload: dict[str, Any], secret: bytes, kid: str) -> str:
    """``header.payload.signature``, HS256 over the first two parts."""
    header = {"ver": "2", "typ": "JWT", "alg": "HS256", "kid": kid}
    head = _b64(json.dumps(header, separators=(",", ":")).encode())
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


def peek_jwt(token: str) -> dict[str, Any] | None:
    """The payload of something shaped like a JWT, signature not checked; None if it is not one."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        return None
    try:
        header = json.loads(_unb64(parts[0]))
        payload = json.loads(_unb64(parts[1]))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return None
    return payload


def decode_jwt(token: str, secret: bytes) -> dict[str, Any] | None:
    """The payload if ``token`` carries a valid HS256 signature made with ``secret``; None otherwise."""
    payload = peek_jwt(token)
    if payload is None:
        return None
    head, body, signature = token.split(".")
    expected = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    try:
        given = _unb64(signature)
    except ValueError:
        return None
    return payload if hmac.compare_digest(expected, given) else None


def make_reference(rng: random.Random) -> str:
    """A 64-character reference token of JFrog's pattern."""
    return REFERENCE_PREFIX + "".join(rng.choice(_ALNUM) for _ in range(64 - len(REFERENCE_PREFIX)))


def make_refresh(rng: random.Random) -> str:
    """An opaque refresh token (JFrog's docs don't describe its format; the simulator uses a UUID shape)."""
    hexdigits = f"{rng.getrandbits(128):032x}"
    return f"{hexdigits[:8]}-{hexdigits[8:12]}-{hexdigits[12:16]}-{hexdigits[16:20]}-{hexdigits[20:]}"


def scope_parts(scope: str) -> list[str]:
    """The space-separated scope tokens."""
    return scope.split()


def scope_groups(scope: str) -> set[str]:
    """Groups named by ``applied-permissions/groups:a,b`` (quotes around names allowed)."""
    groups: set[str] = set()
    for part in scope_parts(scope):
        if part.startswith(GROUPS_PREFIX):
            groups.update(g.strip().strip('"') for g in part[len(GROUPS_PREFIX) :].split(",") if g.strip().strip('"'))
    return groups


def scope_error(scope: str) -> str | None:
    """Why ``scope`` is not a scope the simulator knows (JFrog REST APIs: "Create Token", ``scope``); None if fine."""
    if len(scope) > 500:
        return "scope is limited to 500 characters"
    parts = scope_parts(scope)
    if not parts:
        return "scope must not be empty"
    for part in parts:
        if part in (USER_SCOPE, ADMIN_SCOPE) or _SYSTEM_SCOPE.match(part):
            continue
        if part.startswith(GROUPS_PREFIX) and scope_groups(part):
            continue
        if part.startswith(ROLES_PREFIX) and part.count(":") >= 2:
            continue
        return f"Unsupported scope: {part}"
    return None
