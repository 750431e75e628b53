"""A small GitHub REST client on top of the HTTP seam.

GitHub REST docs, "Getting started with the REST API" and "Rate limits for the REST API":
- every call sends ``Authorization: Bearer <token>``, ``Accept: application/vnd.github+json`` and
  ``X-GitHub-Api-Version: 2022-11-28``; the base is ``https://api.github.com`` or ``https://HOST/api/v3``;
- errors are ``{"message", "documentation_url"}``; 401 is a bad or expired token;
- the primary rate limit answers 403 or 429 with ``x-ratelimit-remaining: 0`` (wait until ``x-ratelimit-reset``,
  epoch seconds); a secondary limit answers 403 or 429, with ``retry-after`` when GitHub gives one, else wait at
  least a minute;
- a token's expiry is in the ``github-authentication-token-expiration`` header when it has one;
- lists are paginated by the ``Link`` header (``rel="next"``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from core import http
from targets.adapters.base import AdapterError
from targets.adapters.client import Failure, VendorClient

API_VERSION = "2022-11-28"
# PUT of a secret and every GET are idempotent, so the seam may retry them; the seam honours Retry-After.
RETRY = http.RetryPolicy(
    attempts=3,
    base_delay=0.5,
    max_delay=10.0,
    statuses=frozenset({500, 502, 503, 504}),
    methods=frozenset({"GET", "PUT", "DELETE"}),
)
SECONDARY_LIMIT_WAIT = 60.0
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


class GitHubError(AdapterError):
    """An error answer from GitHub; ``message`` is GitHub's own (redacted)."""


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


class GitHubClient(VendorClient):
    """Calls one GitHub API base with one token. ``last_headers`` are the latest answer's headers (rate limit,
    token expiry)."""

    vendor = "GitHub"
    error_class = GitHubError
    retry = RETRY

    def __init__(self, *, url: str, token: str) -> None:
        super().__init__(url=url, secrets=(token,))
        self.token = token
        self.last_headers: httpx.Headers = httpx.Headers()

    def auth_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None) -> Any:
        """Send a call and return its JSON body (None for an empty one); raise :class:`GitHubError`."""
        return self.raw(method, f"{self.url}{path}", params=params, json=json)[1]

    def raw(
        self, method: str, url: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> tuple[httpx.Response, Any]:
        response = self.send(method, url, headers=self.auth_headers(), params=params, json=json)
        self.last_headers = response.headers
        self.raise_for_response(response, urlsplit(url).path)
        return response, (self.json_body(response, urlsplit(url).path) if response.content else None)

    def raise_for_response(self, response: httpx.Response, where: str = "") -> None:
        """GitHub's error body is ``{"message", "documentation_url"}``. A 403 or 429 that is a rate limit
        (``x-ratelimit-remaining: 0``, a ``retry-after``, or a message saying so) is transient: wait until the
        reset, the ``retry-after``, or a minute for a secondary limit without one."""
        if response.status_code < self.ok_below:
            return
        try:
            body = response.json()
        except ValueError:
            body = {}
        message = str(body.get("message") or "") if isinstance(body, dict) else ""
        headers = response.headers
        status = response.status_code
        if status in (403, 429) and (
            headers.get("x-ratelimit-remaining") == "0" or "retry-after" in headers or "rate limit" in message.lower()
        ):
            retry_after = http.parse_retry_after(headers.get("retry-after"))
            if retry_after is None and headers.get("x-ratelimit-remaining") == "0":
                try:
                    retry_after = max(0.0, float(headers.get("x-ratelimit-reset", "")) - time.time())
                except ValueError:
                    retry_after = None
            wait = retry_after if retry_after is not None else SECONDARY_LIMIT_WAIT
            raise self.error(
                f"GitHub's rate limit was reached ({message or status}); retrying in {wait:.0f}s.",
                permanent=False,
                status=status,
                retry_after=wait,
            )
        raise self.status_error(response, where, message=message)

    def describe(self, failure: Failure, response: httpx.Response, *, where: str, message: str, code: str) -> str:
        status = response.status_code
        if failure is Failure.CREDENTIAL:
            return f"GitHub refused the token ({message or 'Bad credentials'}): it is wrong, expired or revoked."
        if failure is Failure.FORBIDDEN:
            return (
                f"The token may not do this ({message or 'Forbidden'}); it needs the organization's Secrets "
                "permission (fine-grained) or the admin:org / repo scope (classic)."
            )
        if failure is Failure.NOT_FOUND:
            return f"Not found on GitHub ({message or 'Not Found'}), or not visible to this token: {where}."
        if failure is Failure.REFUSED:
            return f"GitHub refused the request (HTTP {status}: {message or 'no message'}): {where}."
        return super().describe(failure, response, where=where, message=message, code=code)

    def paginate(self, path: str, *, key: str | None = None, per_page: int = 100) -> Iterator[dict[str, Any]]:
        """Every item of a list, following ``Link: rel="next"`` only on the API's own origin (the token is
        never sent elsewhere)."""
        url: str | None = f"{self.url}{path}"
        params: dict[str, Any] | None = {"per_page": per_page}
        own = _origin(self.url)
        while url:
            response, body = self.raw("GET", url, params=params)
            items = body.get(key, []) if key and isinstance(body, dict) else body
            yield from items or []
            match = _NEXT.search(response.headers.get("link", ""))
            url, params = (match.group(1) if match else None), None
            if url and _origin(url) != own:
                raise GitHubError("GitHub's next-page link points to another host; not followed.", permanent=True)

    # --- calls --------------------------------------------------------------------------------------
    def me(self) -> dict[str, Any]:
        return dict(self.call("GET", "/user") or {})

    def organization(self, org: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/orgs/{org}") or {})

    def public_key(self, base: str) -> dict[str, str]:
        """``{"key_id", "key"}`` of ``/orgs/{org}`` or ``/repos/{owner}/{repo}`` (``base``)."""
        return dict(self.call("GET", f"{base}/actions/secrets/public-key") or {})

    def secret(self, base: str, name: str) -> dict[str, Any] | None:
        """The secret's metadata (never its value), or None when it does not exist."""
        try:
            return dict(self.call("GET", f"{base}/actions/secrets/{name}") or {})
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise

    def put_secret(self, base: str, name: str, body: dict[str, Any]) -> int:
        """Create or update; returns GitHub's status (201 created, 204 updated)."""
        response, _ = self.raw("PUT", f"{self.url}{base}/actions/secrets/{name}", json=body)
        return response.status_code

    def selected_repositories(self, org: str, name: str) -> list[dict[str, Any]]:
        return list(self.paginate(f"/orgs/{org}/actions/secrets/{name}/repositories", key="repositories"))

    def repository(self, owner: str, repo: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/repos/{owner}/{repo}") or {})
