"""A small Databricks REST client on top of the HTTP seam: authentication (PAT or OAuth M2M with a cached
hour-long token), the error envelope, and the permanent/transient split (PLATFORMS.md §1.1, §1.2, §1.9)."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import httpx

from core import http
from targets.adapters.base import AdapterError

# Every Databricks call Feedkeeper makes is idempotent (scope create treats "exists" as success, put overwrites,
# update sends a whole merged map), so 429/503 are retried for POST too, as databricks-sdk does.
RETRY = http.RetryPolicy(
    attempts=4,
    base_delay=0.5,
    max_delay=10.0,
    statuses=frozenset({429, 503}),
    methods=frozenset({"GET", "POST"}),
)
_TITLE = re.compile(r"<(?:title|pre)>(.*?)</(?:title|pre)>", re.I | re.S)
_oauth_cache: dict[tuple[str, str, str], tuple[str, float]] = {}
_oauth_lock = threading.Lock()


class DatabricksError(AdapterError):
    """An error answer from a workspace, with its ``error_code`` (a string such as ``RESOURCE_DOES_NOT_EXIST``)."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int,
        permanent: bool,
        retry_after: float | None = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, permanent=permanent, status=status, retry_after=retry_after, secrets=secrets)
        self.code = code


def parse_error(response: httpx.Response) -> tuple[str, str]:
    """``(error_code, message)`` from any of the shapes the SDK parses (errors/deserializer.py)."""
    text = response.text or ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        if "error_code" in body:
            return str(body["error_code"]), str(body.get("message", ""))
        if "error" in body:
            return str(body.get("error")), str(body.get("error_description") or body.get("error"))
        if "detail" in body:  # SCIM
            return f"SCIM_{body.get('status', response.status_code)}", str(body["detail"])
    match = _TITLE.search(text)
    if match:
        return str(response.status_code), " ".join(match.group(1).split())
    reason = response.headers.get("X-Databricks-Reason-Phrase") or response.reason_phrase or ""
    plain = text.strip().splitlines()[0][:200] if text.strip() else ""
    if ":" in plain and plain.split(":", 1)[0].isupper():
        code, msg = plain.split(":", 1)
        return code.strip(), msg.strip()
    return str(response.status_code), plain or reason


class DatabricksClient:
    """Calls one workspace as the target's identity. Never builds its own HTTP client."""

    def __init__(self, *, url: str, auth_type: str, secret: str, client_id: str = "") -> None:
        self.url = url.rstrip("/")
        self.auth_type = auth_type
        self._secret = secret
        self._client_id = client_id

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self._secret, self._cached_access_token()) if s)

    def _cached_access_token(self) -> str:
        hit = _oauth_cache.get((self.url, self._client_id, self._secret))
        return hit[0] if hit else ""

    def _bearer(self) -> str:
        if self.auth_type != "oauth_m2m":
            return self._secret
        key = (self.url, self._client_id, self._secret)
        with _oauth_lock:
            hit = _oauth_cache.get(key)
            if hit and hit[1] > time.monotonic() + 60:  # renew a minute before it runs out
                return hit[0]
            token, lifetime = self._fetch_oauth_token()
            _oauth_cache[key] = (token, time.monotonic() + lifetime)
            return token

    def _fetch_oauth_token(self) -> tuple[str, float]:
        try:
            response = http.request(
                "POST",
                f"{self.url}/oidc/v1/token",
                auth=(self._client_id, self._secret),
                data={"grant_type": "client_credentials", "scope": "all-apis"},
                retry=RETRY,
                secrets=(self._secret,),
            )
        except http.TransportError as exc:
            raise AdapterError(f"Workspace unreachable: {exc}", permanent=False) from None
        if response.status_code != 200:
            code, message = parse_error(response)
            raise AdapterError(
                f"OAuth token request refused ({response.status_code} {code}): {message}",
                permanent=response.status_code in (400, 401, 403),
                status=response.status_code,
                secrets=self.secrets,
            )
        body = response.json()
        return str(body["access_token"]), float(body.get("expires_in", 3600))

    def call(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """One API call; returns the JSON body (``{}`` for an empty one) or raises :class:`DatabricksError`."""
        headers = {"Authorization": f"Bearer {self._bearer()}", "Accept": "application/json"}
        try:
            response = http.request(
                method,
                f"{self.url}{path}",
                headers=headers,
                params=params,
                json=json,
                retry=RETRY,
                secrets=self.secrets,
            )
        except http.TransportError as exc:
            raise AdapterError(f"Workspace unreachable: {exc}", permanent=False) from None
        if response.status_code < 300:
            if not response.content:
                return {}
            try:
                body = response.json()
            except ValueError:
                raise AdapterError(
                    f"{path}: the workspace answered with something that is not JSON.",
                    permanent=False,
                    status=response.status_code,
                ) from None
            return body if isinstance(body, dict) else {"items": body}
        raise self._error(response, path)

    def _error(self, response: httpx.Response, path: str) -> DatabricksError:
        status = response.status_code
        code, message = parse_error(response)
        retry_after = http.parse_retry_after(response.headers.get("Retry-After"))
        if status in (401, 403) and ("invalid access token" in message.lower() or code in ("403", "401")):
            text = f"The workspace refused Feedkeeper's credential ({status}): {message or 'Invalid access token.'}"
            return DatabricksError(text, code=code, status=status, permanent=True, secrets=self.secrets)
        if status in (401, 403):
            text = f"Feedkeeper's identity may not do this ({status} {code}): {message}"
            return DatabricksError(text, code=code, status=status, permanent=True, secrets=self.secrets)
        transient = status == 429 or status >= 500 or code in ("TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED")
        text = f"{path}: {status} {code}: {message}".strip()
        if status == 429:
            text = f"{path}: rate limited by the workspace (429 {code})"
        return DatabricksError(
            text, code=code, status=status, permanent=not transient, retry_after=retry_after, secrets=self.secrets
        )
