"""A small Valohai REST client on :class:`~targets.adapters.client.VendorClient`: token auth bound to the target's
origin, DRF error bodies (``detail``, field errors, ``non_field_errors``) flattened into messages, "already exists"
told apart, and origin-checked pagination."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from core import http
from targets.adapters.base import AdapterError
from targets.adapters.client import Failure, VendorClient, first_line

# Only idempotent calls are retried by the seam (docs/platforms.md §2.5, §6: "never blind-retry a Valohai create").
# A POST that fails is re-read by the adapter before anything is sent again.
RETRY = http.RetryPolicy(
    attempts=4,
    base_delay=0.5,
    max_delay=10.0,
    statuses=frozenset({429, 502, 503, 504}),
    methods=frozenset({"GET", "DELETE"}),
)
API_PREFIX = "/api/v0/"
PAGE_SIZE = 100
_DEFAULT_PORTS = {"http": 80, "https": 443}
_EXISTS = re.compile(r"already exists|must make a unique set", re.I)
# How an installation may refuse a POST of an existing name: undocumented, so both (docs/platforms.md §2.3).
CONFLICT_STATUSES = frozenset({400, 409})
_NAME_OR_GENERAL = frozenset({"name", "detail", "non_field_errors", "__all__", "message", "code"})


class ValohaiError(AdapterError):
    """An error answer from Valohai. ``exists`` hints that the name is already taken (a 409, or a 400 worded so);
    the wording is not documented, so callers that must know read the place back (:attr:`conflict`).
    ``fields`` are the top-level keys of a DRF error body (which fields the refusal blames)."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status: int | None = None,
        retry_after: float | None = None,
        secrets: tuple[str, ...] = (),
        exists: bool = False,
        ambiguous: bool = False,
        fields: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(message, permanent=permanent, status=status, retry_after=retry_after, secrets=secrets)
        self.exists = exists
        # True when the request may or may not have been applied (no answer, 5xx): a write must be re-read.
        self.ambiguous = ambiguous
        self.fields = fields
        # Set by the project push when it had deleted the variable and could not create it again.
        self.missing = False

    @property
    def conflict(self) -> bool:
        """A 400 or 409 that may mean "this name exists", whatever its wording (docs/platforms.md §2.3): one that
        blames only the name, or no field at all. A refusal blaming another field (``value``) is not one."""
        return self.status in CONFLICT_STATUSES and not (self.fields - _NAME_OR_GENERAL)


def origin(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` with the scheme's default port filled in, for same-origin checks."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme, 0)


def flatten_errors(body: Any, prefix: str = "") -> list[str]:
    """Flatten a DRF error body into lines, as valohai-cli's ``utils/error_fmt.py`` does (docs/platforms.md §2.5):
    ``{"field": ["msg"]}``, ``{"field": [{"message", "code"}]}``, ``non_field_errors``, ``detail`` and a top-level
    ``{"code", "message"}``; any dict with ``message`` is a leaf."""
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):
            return [f"{prefix}{body['message']}"]
        lines: list[str] = []
        for key, value in body.items():
            if key == "code":
                continue
            label = "" if key in ("detail", "non_field_errors", "__all__") else f"{key}: "
            lines.extend(flatten_errors(value, prefix + label))
        return lines
    if isinstance(body, list):
        return [line for item in body for line in flatten_errors(item, prefix)]
    if body is None or body == "":
        return []
    return [f"{prefix}{body}"]


def _error_codes(body: Any) -> set[str]:
    if isinstance(body, dict):
        found = {str(body["code"])} if "code" in body else set()
        for value in body.values():
            found |= _error_codes(value)
        return found
    if isinstance(body, list):
        return {code for item in body for code in _error_codes(item)}
    return set()


class ValohaiClient(VendorClient):
    """Calls one Valohai installation with the target's token. The token is sent only to the target's own
    origin (scheme, host and port), as the official CLI's ``TokenAuth`` does."""

    vendor = "Valohai"
    retry = RETRY
    ok_below = 400

    def __init__(self, *, url: str, token: str, secrets: tuple[str, ...] = ()) -> None:
        super().__init__(url=url, secrets=(token, *secrets))
        self.origin = origin(self.url)
        self._token = token

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self._token}"}

    def absolute(self, path: str) -> str:
        return path if "://" in path else f"{self.url}{API_PREFIX}{path.lstrip('/')}"

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        retry: http.RetryPolicy = RETRY,
    ) -> Any:
        """One API call; returns the JSON body (``{}`` when empty) or raises :class:`ValohaiError`.
        ``path`` is relative to ``/api/v0/`` or an absolute URL on the target's origin."""
        url = self.absolute(path)
        if origin(url) != self.origin:
            raise ValohaiError(
                f"Valohai pointed Feedkeeper at another host ({_host(url)}); the token is only sent "
                f"to {_host(self.url)}.",
                permanent=True,
                secrets=self.secrets,
            )
        return self.fetch(method, url, where=_short(url), params=params, json=json, retry=retry)

    # --- errors -----------------------------------------------------------------------------------------------
    def raise_for_response(self, response: httpx.Response, where: str = "") -> None:
        """Flatten a DRF error body (:func:`flatten_errors`) and raise what the answer means; a 409 or a 400 saying the
        name is taken sets ``exists``, and a 5xx ``ambiguous`` (the write may have been applied)."""
        status = response.status_code
        if status < self.ok_below:
            return
        body: Any = None
        if "html" not in response.headers.get("Content-Type", "").lower():
            try:
                body = response.json()
            except ValueError:
                body = None
        text = "; ".join(flatten_errors(body)) if body is not None else ""
        exists = status == 409 or (status == 400 and ("unique" in _error_codes(body) or bool(_EXISTS.search(text))))
        fields = frozenset(str(k) for k in body) if isinstance(body, dict) else frozenset()
        raise self.status_error(response, where, message=text, exists=exists, fields=fields)

    def describe(self, failure: Failure, response: httpx.Response, *, where: str, message: str, code: str) -> str:
        status = response.status_code
        if failure is Failure.UNAVAILABLE:
            # An HTML error page carries nothing useful; valohai-cli prints "Internal error" too.
            return f"{message or 'Internal error'} (HTTP {status})"
        if failure in (Failure.CREDENTIAL, Failure.FORBIDDEN):
            return f"The Valohai token was refused (HTTP {status}): {message or 'no detail'}"
        if failure is Failure.THROTTLED:
            return f"Rate limited by Valohai (HTTP 429): {message or 'throttled'}"
        return f"{where}: HTTP {status}: {message or first_line(response) or response.reason_phrase}"

    def error(
        self,
        message: str,
        *,
        permanent: bool,
        status: int | None = None,
        retry_after: float | None = None,
        code: str = "",
        exists: bool = False,
        fields: frozenset[str] = frozenset(),
        **extra: Any,
    ) -> ValohaiError:
        """A :class:`ValohaiError`; ``ambiguous`` unless the answer was a refusal (a 4xx): with no answer, an
        unreadable one or a 5xx, a write may or may not have been applied."""
        return ValohaiError(
            message,
            permanent=permanent,
            status=status,
            retry_after=retry_after,
            secrets=self.secrets,
            exists=exists,
            ambiguous=status is None or not 400 <= status < 500,
            fields=fields,
        )

    def paginate(
        self, path: str, params: dict[str, Any] | None = None, *, limit: int | None = None, max_pages: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """Yield every item of a DRF ``limit``/``offset`` listing. ``next`` is an absolute URL (docs/platforms.md §2.5):
        it is followed only on the target's own origin (see :meth:`same_origin`); a foreign one is an error, so the
        token never leaves."""
        url: str | None = self.absolute(path)
        query: dict[str, Any] | None = {**(params or {}), "limit": limit or PAGE_SIZE}
        for _ in range(max_pages):
            assert url is not None
            url = self.same_origin(url)
            body = self.call("GET", url, params=query)
            if isinstance(body, list):  # an unpaginated installation
                yield from body
                return
            yield from body.get("results") or []
            url, query = body.get("next"), None  # next carries its own query string
            if not url:
                return
        raise ValohaiError(f"{_short(path)}: more than {max_pages} pages.", permanent=False)

    def same_origin(self, url: str) -> str:
        """``url`` when it is on the target's origin. A private installation behind a TLS-terminating proxy builds
        ``http://`` links to its own host (docs/platforms.md §2.5): the same host over ``http`` on the default or
        the target's port is taken as the target's origin, with the scheme upgraded. Anything else (another host,
        another port, a downgrade) raises, so the token is never sent elsewhere."""
        if origin(url) == self.origin:
            return url
        parts, mine = urlsplit(url), urlsplit(self.url)
        scheme, host, port = origin(url)
        if (
            scheme == "http"
            and self.origin[0] == "https"
            and host == self.origin[1]
            and port in (_DEFAULT_PORTS["http"], self.origin[2])
            and not parts.username
        ):
            return urlunsplit((mine.scheme, mine.netloc, parts.path, parts.query, ""))
        raise ValohaiError(
            f"Valohai's pagination link points at another host ({_host(url)}); Feedkeeper "
            f"does not send its token there. Check the target URL ({self.url}) matches the "
            "installation's own address.",
            permanent=True,
            secrets=self.secrets,
        )

    # --- the calls Feedkeeper makes ------------------------------------------------------------------------
    def me(self) -> dict[str, Any]:
        """``users/me/``: the call ``vh login`` validates a token with."""
        return dict(self.call("GET", "users/me/"))

    def project(self, project_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"projects/{project_id}/"))

    def create_variable(self, project_id: str, name: str, value: str) -> None:
        """POST one secret variable. Never retried here: a failure may have been applied (docs/platforms.md §2.3)."""
        self.call(
            "POST",
            f"projects/{project_id}/environment_variable/",
            json={"name": name, "value": value, "secret": True},
            retry=http.NO_RETRY,
        )

    def delete_variable(self, project_id: str, name: str) -> bool:
        """DELETE with a JSON body ``{"name"}``; False when it was not there (404)."""
        try:
            self.call("DELETE", f"projects/{project_id}/environment_variable/", json={"name": name})
        except ValohaiError as exc:
            if exc.status == 404:
                return False
            raise
        return True


def _host(url: str) -> str:
    scheme, host, port = origin(url)
    return f"{scheme}://{host}:{port}"


def _short(url: str) -> str:
    path = urlsplit(url).path if "://" in url else url
    return path.removeprefix(API_PREFIX.rstrip("/")) or path
