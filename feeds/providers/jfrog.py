"""JFrog Platform: mint and revoke access tokens with the Access API (docs/platforms.md §4).

- Check: ``GET /access/api/v1/system/ping`` (JFrog REST APIs, "Get Ping Request") answers ``OK`` without
  authentication, then ``GET /access/api/v1/tokens`` ("Get Tokens") proves the connection's token is accepted.
- Mint: ``POST /access/api/v1/tokens`` ("Create Token"), form-encoded as in JFrog's examples: ``username`` (the
  feed's username: pip authenticates as the token's user), ``scope=applied-permissions/user`` (the user's own
  permissions), ``expires_in`` in seconds, ``description`` naming Feedkeeper, the feed and the rotation. Minted
  lifetimes stay far above the persistency threshold (10800 s), below which a token cannot be listed or revoked.
- Revoke: ``DELETE /access/api/v1/tokens/{token_id}`` ("Revoke Token by ID": 200 revoked, 204 already revoked);
  a token Feedkeeper did not mint by value with ``DELETE /access/api/v1/tokens/revoke`` ("Revoke Token by Value").
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from django.utils import timezone

from core import http
from core.vendor import VendorClient, first_line
from feeds.providers.base import CheckOutcome, ConnectionField, Minted, Provider, ProviderError

if TYPE_CHECKING:
    from feeds.models import Feed

ACCESS = "/access/api/v1"
USER_SCOPE = "applied-permissions/user"
# Tokens shorter-lived than the persistency threshold (10800 s by default) are not stored, so they can be neither
# listed nor revoked; JFrog also refuses to revoke tokens under its revocable threshold (6 h by default). A minted
# token lives at least a day.
MIN_LIFETIME = timedelta(days=1)


class JFrogClient(VendorClient):
    vendor = "JFrog"
    error_class: ClassVar[type[ProviderError]] = ProviderError
    retry = http.RetryPolicy(attempts=3, methods=frozenset({"GET", "DELETE"}))

    def __init__(self, *, url: str, token: str) -> None:
        super().__init__(url=url, secrets=[token])
        self._token = token

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def raise_for_response(self, response: httpx.Response, where: str = "") -> None:
        if response.status_code < 300:
            return
        message, code = first_line(response), ""
        try:
            errors = response.json().get("errors") or []
            if errors:
                message = str(errors[0].get("message") or message)
                code = str(errors[0].get("code") or "")
        except (ValueError, AttributeError):
            pass
        raise self.status_error(response, where, message=message, code=code)

    def form(self, method: str, path: str, data: dict[str, str]) -> Any:
        where = path
        response = self.send(
            method, self.url + path, headers={**self.auth_headers(), "Accept": "application/json"}, data=data
        )
        self.raise_for_response(response, where)
        return self.json_body(response, where)


class JFrogProvider(Provider):
    key = "jfrog"
    label = "JFrog Access tokens"
    feed_kinds = ("jfrog",)
    fields = (
        ConnectionField(
            "token",
            "Access token",
            secret=True,
            help="A JFrog access token allowed to create and revoke tokens for the feeds' users (an admin token).",
        ),
    )
    url_help = "The JFrog Platform base URL, e.g. https://acme.jfrog.io (the Access API is under /access/api/v1/)."
    revokes_by_value = True

    def client(self) -> JFrogClient:
        return JFrogClient(url=self.connection.url, token=self.connection.reveal("credential"))

    def check(self) -> CheckOutcome:
        api = self.client()
        ping = api.send("GET", api.url + ACCESS + "/system/ping", headers=api.auth_headers())
        if ping.status_code != 200:
            api.raise_for_response(ping, "system/ping")
            return CheckOutcome("failing", f"The ping answered HTTP {ping.status_code}.")
        try:
            body = api.fetch("GET", api.url + ACCESS + "/tokens", where="tokens")
        except ProviderError as exc:
            return CheckOutcome("failing", str(exc))
        count = len(body.get("tokens") or []) if isinstance(body, dict) else 0
        return CheckOutcome("ok", f"JFrog answers and accepts the connection's token ({count} tokens visible).")

    def mint(self, feed: Feed, *, lifetime: timedelta, description: str) -> Minted:
        if not feed.username:
            raise ProviderError("A JFrog feed needs the username its tokens belong to.", permanent=True)
        lifetime = max(lifetime, MIN_LIFETIME)
        seconds = int(lifetime.total_seconds())
        body = self.client().form(
            "POST",
            ACCESS + "/tokens",
            {"username": feed.username, "scope": USER_SCOPE, "expires_in": str(seconds), "description": description},
        )
        token, token_id = str(body.get("access_token") or ""), str(body.get("token_id") or "")
        if not token or not token_id:
            raise ProviderError("JFrog answered a token request without a token or its id.", permanent=False)
        expires_in = body.get("expires_in")
        expires_at = timezone.now() + timedelta(seconds=int(expires_in)) if expires_in else None
        return Minted(token=token, token_id=token_id, expires_at=expires_at)

    def revoke(self, *, token_id: str = "", token: str = "") -> str:
        api = self.client()
        if token_id:
            response = api.send("DELETE", f"{api.url}{ACCESS}/tokens/{token_id}", headers=api.auth_headers())
            where = "tokens/{id}"
        elif token:
            api.add_secret(token)
            response = api.send(
                "DELETE", f"{api.url}{ACCESS}/tokens/revoke", headers=api.auth_headers(), json={"token": token}
            )
            where = "tokens/revoke"
        else:
            raise ProviderError("Nothing names the token to revoke.", permanent=True)
        if response.status_code in (200, 204):
            return "Revoked at JFrog." if response.status_code == 200 else "JFrog had already revoked it."
        if response.status_code == 404:
            return "JFrog no longer knows this token (already revoked or expired)."
        api.raise_for_response(response, where)
        return ""

    def find_minted(self, description: str) -> list[str]:
        api = self.client()
        body = api.fetch("GET", api.url + ACCESS + "/tokens", where="tokens")
        tokens = body.get("tokens") or [] if isinstance(body, dict) else []
        return [str(t["token_id"]) for t in tokens if t.get("description") == description and t.get("token_id")]
