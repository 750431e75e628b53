"""A small Databricks REST client on :class:`~targets.adapters.client.VendorClient`: authentication (PAT or OAuth
M2M with a cached hour-long token), the error envelope (``error_code``/``message``, OAuth's ``error`` and
``errorCode``/``errorSummary``, SCIM's ``detail``, HTML pages), and error codes that mean "try again"."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import httpx

from core import http
from targets.adapters.base import AdapterError
from targets.adapters.client import Failure, VendorClient

# Every Databricks call Feedkeeper makes is idempotent (scope create treats "exists" as success, put overwrites,
# update sends a whole merged map), so 429/503 are retried for POST too, as databricks-sdk does.
RETRY = http.RetryPolicy(
    attempts=4,
    base_delay=0.5,
    max_delay=10.0,
    statuses=frozenset({429, 503}),
    methods=frozenset({"GET", "POST"}),
)
# Error codes that mean "try again later" whatever the status they come with.
TRANSIENT_CODES = frozenset({"TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED"})
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
        if "errorCode" in body:  # an identity provider's OAuth error
            return str(body["errorCode"]), str(body.get("errorSummary") or body["errorCode"])
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


class DatabricksClient(VendorClient):
    """Calls one workspace as the target's identity."""

    vendor = "the workspace"
    retry = RETRY

    def __init__(self, *, url: str, auth_type: str, secret: str, client_id: str = "") -> None:
        super().__init__(url=url, secrets=(secret,))
        self.auth_type = auth_type
        self._secret = secret
        self._client_id = client_id

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (*super().secrets, self._cached_access_token()) if s)

    def _cached_access_token(self) -> str:
        hit = _oauth_cache.get((self.url, self._client_id, self._secret))
        return hit[0] if hit else ""

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._bearer()}"}

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
        response = self.send(
            "POST",
            f"{self.url}/oidc/v1/token",
            auth=(self._client_id, self._secret),
            data={"grant_type": "client_credentials", "scope": "all-apis"},
        )
        if response.status_code != 200:
            # {error, error_description} or, from some identity providers, {errorCode, errorSummary} (SDK oauth.py
            # reads both).
            code, message = parse_error(response)
            status = response.status_code
            text = f"OAuth token request refused ({status} {code}): {message}"
            if status == 401 or code in ("invalid_client", "unauthorized_client", "invalid_grant"):
                text = (
                    f"The workspace refused Feedkeeper's OAuth client credentials ({status} {code}): {message} "
                    "The client id or secret is wrong, expired or revoked."
                )
            raise AdapterError(
                text,
                permanent=status in (400, 401, 403),
                status=status,
                secrets=self.secrets,
            )
        body = response.json()
        return str(body["access_token"]), float(body.get("expires_in", 3600))

    def call(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """One API call; returns the JSON body (``{}`` for an empty one, ``{"items": [...]}`` for a list) or
        raises :class:`DatabricksError` (an :class:`AdapterError` when the workspace did not answer)."""
        body = self.fetch(method, f"{self.url}{path}", where=path, params=params, json=json)
        return body if isinstance(body, dict) else {"items": body}

    # --- errors -----------------------------------------------------------------------------------------------
    def raise_for_response(self, response: httpx.Response, where: str = "") -> None:
        """Read the error envelope (:func:`parse_error`) of an error answer and raise what it means."""
        if response.status_code < self.ok_below:
            return
        code, message = parse_error(response)
        raise self.status_error(response, where, message=message, code=code)

    def classify(self, status: int, code: str, message: str) -> Failure:
        if status == 401:
            # 401 UNAUTHENTICATED (SDK errors/platform.py: 401 is ``Unauthenticated``): the credential is bad.
            return Failure.CREDENTIAL
        if status == 403:
            # A bad token is also refused with 403 "Invalid access token." (integer error_code); other 403s are
            # about permissions.
            invalid = "invalid access token" in message.lower() or code == "403"
            return Failure.CREDENTIAL if invalid else Failure.FORBIDDEN
        if code in TRANSIENT_CODES and status < 500:
            return Failure.THROTTLED if code == "REQUEST_LIMIT_EXCEEDED" else Failure.UNAVAILABLE
        return super().classify(status, code, message)

    def describe(self, failure: Failure, response: httpx.Response, *, where: str, message: str, code: str) -> str:
        status = response.status_code
        if failure is Failure.CREDENTIAL:
            return (
                f"The workspace refused Feedkeeper's credential ({status} {code}): "
                f"{message or 'Invalid access token.'} The token or OAuth secret is wrong, expired or revoked."
            )
        if failure is Failure.FORBIDDEN:
            return f"Feedkeeper's identity may not do this ({status} {code}): {message}"
        if failure is Failure.THROTTLED:
            return f"{where}: rate limited by the workspace ({status} {code})"
        return f"{where}: {status} {code}: {message}".strip()

    def error(
        self,
        message: str,
        *,
        permanent: bool,
        status: int | None = None,
        retry_after: float | None = None,
        code: str = "",
        **extra: Any,
    ) -> AdapterError:
        """A :class:`DatabricksError` for an answer with an error code; a plain :class:`AdapterError` when the
        workspace did not answer or answered something unreadable (callers catch only the former)."""
        if not code:
            return AdapterError(
                message, permanent=permanent, status=status, retry_after=retry_after, secrets=self.secrets
            )
        return DatabricksError(
            message, code=code, status=status or 0, permanent=permanent, retry_after=retry_after, secrets=self.secrets
        )
