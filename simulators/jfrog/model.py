"""Requests, replies and the two error shapes of the JFrog simulator.

JFrog Access (``/access/…``) answers errors as ``{"errors": [{"code": "…", "message": "…"}]}`` (the shape JFrog's
Create Token clients decode); Artifactory (``/artifactory/…``) as ``{"errors": [{"status": 404, "message": "…"}]}``
(JFrog REST APIs: "Error Responses"). Codes and messages are the simulator's own unless a README note says otherwise.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

__all__ = [
    "ACCESS_CODES",
    "ARTIFACTORY_REALM",
    "AccessError",
    "ArtifactoryError",
    "Reply",
    "Request",
    "access_body",
    "artifactory_body",
]

ARTIFACTORY_REALM = 'Basic realm="Artifactory Realm"'
ACCESS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_SERVER_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}


def access_body(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    """``{"errors": [{"code", "message"}]}``."""
    return {"errors": [{"code": code or ACCESS_CODES.get(status, f"HTTP_{status}"), "message": message}]}


def artifactory_body(status: int, message: str) -> dict[str, Any]:
    """``{"errors": [{"status", "message"}]}``."""
    return {"errors": [{"status": status, "message": message}]}


class AccessError(Exception):
    """An Access API failure."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def reply(self) -> Reply:
        return Reply.json(self.status, access_body(self.status, self.message), self.headers)


class ArtifactoryError(Exception):
    """An Artifactory failure; 401s carry ``WWW-Authenticate: Basic realm="Artifactory Realm"``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        if status == 401:
            self.headers.setdefault("WWW-Authenticate", ARTIFACTORY_REALM)

    def reply(self) -> Reply:
        return Reply.json(self.status, artifactory_body(self.status, self.message), self.headers)


@dataclass
class Request:
    """One API call as the handlers see it."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: Message
    body: bytes

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return None if value is None else str(value)

    def param(self, name: str) -> str | None:
        """Last value of a query parameter."""
        values = [v for k, v in self.query if k == name]
        return values[-1] if values else None

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower case ('' when absent)."""
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    def basic_credentials(self) -> tuple[str, str] | None:
        """``(user, password)`` of an ``Authorization: Basic`` header, None for other schemes or garbage."""
        scheme, _, value = (self.header("Authorization") or "").strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        return (user, password) if sep else None

    def json_object(self) -> dict[str, Any] | None:
        """The body as a JSON object, None if it is not one."""
        try:
            data = json.loads(self.body or b"null")
        except (ValueError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None


@dataclass
class Reply:
    """A status, a body (bytes) with its content type, and extra headers."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
        payload = b"" if body is None else json.dumps(body).encode()
        return cls(status, payload, "application/json" if payload else None, dict(headers or {}))

    @classmethod
    def text(cls, status: int, text: str, content_type: str = "text/plain") -> Reply:
        return cls(status, text.encode(), content_type)
