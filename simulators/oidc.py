"""A loopback OpenID Connect provider (authorization-code flow) for tests: discovery, ``/authorize`` (the user is
whoever :attr:`OIDCProvider.signed_in` names, and consents at once), ``/token``, ``/userinfo`` and ``/jwks``.
Standard library plus ``cryptography`` (RS256 signatures).

Built from OpenID Connect Core 1.0 and RFC 6749 / RFC 7636, taking the strict reading where they leave room:

- the ``redirect_uri`` must equal a registered one exactly, at ``/authorize`` and again at ``/token``;
- a code is single-use, expires after 60 s, and is bound to its client, redirect URI, nonce and PKCE challenge
  (``S256`` only; a code requested with a challenge needs the matching ``code_verifier``);
- the client authenticates with ``client_secret_basic`` or ``client_secret_post``;
- the ID token carries ``iss``, ``sub``, ``aud``, ``exp``, ``iat`` and the ``nonce``, signed RS256 with ``kid``.

    with OIDCProvider(client_id="feedkeeper", client_secret="s3cret", redirect_uris=[...]) as idp:
        idp.users["alice"] = {"email": "alice@example.com", "groups": ["feedkeeper-admins"]}
        idp.signed_in = "alice"
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

CODE_LIFETIME = 60
TOKEN_LIFETIME = 300


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    user: str
    nonce: str | None
    challenge: str | None
    expires: float


@dataclass
class OIDCProvider:
    client_id: str = "feedkeeper"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    redirect_uris: list[str] = field(default_factory=list)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    signed_in: str | None = None
    # Tests may make the provider misbehave: sign with another key, or name another audience or issuer.
    audience: str | None = None
    issuer_override: str | None = None

    def __post_init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_hex(8)
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> OIDCProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> OIDCProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def endpoint(self, name: str) -> str:
        return f"{self.issuer}/{name}"

    def settings(self) -> dict[str, Any]:
        """The Django settings that point Feedkeeper at this provider."""
        return {
            "OIDC_RP_CLIENT_ID": self.client_id,
            "OIDC_RP_CLIENT_SECRET": self.client_secret,
            "OIDC_OP_ISSUER": self.issuer,
            "OIDC_OP_AUTHORIZATION_ENDPOINT": self.endpoint("authorize"),
            "OIDC_OP_TOKEN_ENDPOINT": self.endpoint("token"),
            "OIDC_OP_USER_ENDPOINT": self.endpoint("userinfo"),
            "OIDC_OP_JWKS_ENDPOINT": self.endpoint("jwks"),
        }

    # --- protocol ------------------------------------------------------------------------------------------
    def _id_token(self, user: str, nonce: str | None) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer_override or self.issuer,
            "sub": self.users[user].get("sub", f"sub-{user}"),
            "aud": self.audience or self.client_id,
            "iat": now,
            "exp": now + TOKEN_LIFETIME,
            **({"nonce": nonce} if nonce else {}),
        }
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"

    def jwks(self) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "alg": "RS256",
                    "kid": self.kid,
                    "n": _int_b64(numbers.n),
                    "e": _int_b64(numbers.e),
                }
            ]
        }

    def public_pem(self) -> str:
        return (
            self._key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def _authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], dict[str, Any] | None]:
        if query.get("client_id") != self.client_id:
            return 400, {}, {"error": "unauthorized_client"}
        redirect = query.get("redirect_uri", "")
        if redirect not in self.redirect_uris:
            return 400, {}, {"error": "invalid_request", "error_description": "redirect_uri is not registered"}
        params: dict[str, str] = {"state": query.get("state", "")}
        if query.get("response_type") != "code" or "openid" not in query.get("scope", "").split():
            params.update(error="invalid_request")
        elif query.get("code_challenge") and query.get("code_challenge_method") != "S256":
            params.update(error="invalid_request", error_description="only S256")
        elif self.signed_in is None or self.signed_in not in self.users:
            params.update(error="access_denied")
        else:
            code = secrets.token_urlsafe(24)
            with self._lock:
                self._codes[code] = _Code(
                    self.client_id,
                    redirect,
                    self.signed_in,
                    query.get("nonce"),
                    query.get("code_challenge"),
                    time.time() + CODE_LIFETIME,
                )
            params["code"] = code
        return 302, {"Location": f"{redirect}?{urlencode(params)}"}, None

    def _client(self, headers: Any, form: dict[str, str]) -> bool:
        auth = headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        return client_id == self.client_id and secrets.compare_digest(secret, self.client_secret)

    def _token(self, headers: Any, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if not self._client(headers, form):
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        with self._lock:
            code = self._codes.pop(form.get("code", ""), None)  # single use, whatever happens next
        if code is None or code.expires < time.time() or code.redirect_uri != form.get("redirect_uri"):
            return 400, {"error": "invalid_grant"}
        if code.challenge:
            verifier = form.get("code_verifier", "")
            if _b64(hashlib.sha256(verifier.encode()).digest()) != code.challenge:
                return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        access = secrets.token_urlsafe(24)
        with self._lock:
            self._access[access] = (code.user, time.time() + TOKEN_LIFETIME)
        return 200, {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME,
            "id_token": self._id_token(code.user, code.nonce),
        }

    def _userinfo(self, headers: Any) -> tuple[int, dict[str, Any]]:
        auth = headers.get("Authorization", "")
        held = self._access.get(auth[7:]) if auth.startswith("Bearer ") else None
        if held is None or held[1] < time.time():
            return 401, {"error": "invalid_token"}
        user = held[0]
        return 200, {
            "sub": self.users[user].get("sub", f"sub-{user}"),
            "preferred_username": user,
            **{k: v for k, v in self.users[user].items() if k != "sub"},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
                payload = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query))
                if parts.path == "/.well-known/openid-configuration":
                    self._send(
                        200,
                        {
                            "issuer": idp.issuer,
                            "authorization_endpoint": idp.endpoint("authorize"),
                            "token_endpoint": idp.endpoint("token"),
                            "userinfo_endpoint": idp.endpoint("userinfo"),
                            "jwks_uri": idp.endpoint("jwks"),
                            "response_types_supported": ["code"],
                            "id_token_signing_alg_values_supported": ["RS256"],
                            "code_challenge_methods_supported": ["S256"],
                        },
                    )
                elif parts.path == "/authorize":
                    status, headers, body = idp._authorize(query)
                    self._send(status, body, headers)
                elif parts.path == "/userinfo":
                    self._send(*idp._userinfo(self.headers))
                elif parts.path == "/jwks":
                    self._send(200, idp.jwks())
                else:
                    self._send(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                if urlsplit(self.path).path == "/token":
                    self._send(*idp._token(self.headers, form))
                else:
                    self._send(404, {"error": "not_found"})

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
