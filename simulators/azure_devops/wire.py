"""Request and reply values passed between the HTTP front and the three hosts' handlers."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    base_url: str  # scheme://host:port as the client addressed this host

    def q(self, name: str) -> str | None:
        """First value of a query parameter (names compared case-insensitively, as ASP.NET binds them)."""
        for key, values in self.query.items():
            if key.lower() == name.lower():
                return values[0] if values else ""
        return None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def form(self) -> dict[str, str]:
        """The body as ``application/x-www-form-urlencoded`` (first value of each field)."""
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0] for k, v in parsed.items() if v}


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False  # close the connection without answering

    @classmethod
    def json(cls, status: int, body: Any, content_type: str = "application/json; charset=utf-8", **kw: Any) -> Reply:
        return cls(status, json.dumps(body).encode("utf-8"), content_type, **kw)

    @classmethod
    def html(cls, status: int, text: str, **kw: Any) -> Reply:
        return cls(status, text.encode("utf-8"), "text/html; charset=utf-8", **kw)

    def with_headers(self, *pairs: tuple[str, str]) -> Reply:
        self.headers.extend(pairs)
        return self


def vss_error(message: str, type_key: str, type_name: str | None = None, event_id: int = 3000) -> dict[str, Any]:
    """An Azure DevOps service error body, e.g. the ``VssVersionNotSpecifiedException`` answer::

    {"$id":"1","innerException":null,"message":"No api-version was supplied for the \\"POST\\" request. ...",
     "typeName":"Microsoft.VisualStudio.Services.WebApi.VssVersionNotSpecifiedException, ...",
     "typeKey":"VssVersionNotSpecifiedException","errorCode":0,"eventId":3000}
    """
    return {
        "$id": "1",
        "innerException": None,
        "message": message,
        "typeName": type_name
        or f"Microsoft.VisualStudio.Services.WebApi.{type_key}, Microsoft.VisualStudio.Services.WebApi",
        "typeKey": type_key,
        "errorCode": 0,
        "eventId": event_id,
    }


def activity_id() -> str:
    return str(uuid.uuid4())
