"""HTTP front of the Azure DevOps simulator and the :class:`AzureDevOpsSimulator` facade.

Three servers share one :class:`~.state.State`, like three hosts: Entra (``login.microsoftonline.com``, always
https), vssps (``vssps.dev.azure.com``: the PAT API and the ``/_sim/`` control API) and pkgs
(``pkgs.dev.azure.com``: the feeds), the last two over http unless ``tls=True``.

Pipeline of a call (everything but ``/_sim/``): record ``(host, method, path)``, sleep ``latency``, answer a planned
fault if one matches (state untouched), then the host's handler under the state lock (authentication first).
"""

from __future__ import annotations

import socket
import ssl
import threading
import uuid
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from simulators._common import FaultInjector, JSONRequestHandler, ServerHandle, SimHTTPServer

from . import entra, feeds, pats
from .control import OPTIONS, handle_control
from .crypto import SigningKey, TLSMaterial, make_tls_material
from .faults import fault_reply
from .state import (
    ADO_RESOURCE,
    DEFAULT_FEED,
    DEFAULT_ORGANIZATION,
    DEFAULT_PROJECT,
    DEFAULT_USER,
    DEFAULT_USER_NAME,
    State,
)
from .wire import Reply, Request

HOSTS = ("entra", "vssps", "pkgs")
_CHOICES: dict[str, tuple[Any, ...]] = {
    "bad_credentials_status": (203, 401),
    "feed_bad_credentials_status": (401, 203),
    "pat_error_status": (200, 400),
    "consent_error": ("invalid_grant", "interaction_required"),
}


class SimServer(SimHTTPServer):
    """``SimHTTPServer`` with a deeper backlog and optional TLS. The TLS handshake runs on the request's own
    thread (not in ``accept``), so a stuck client never blocks the listener; the TLS socket is tracked so ``stop``
    can cut kept-alive connections."""

    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        handler_cls: type[BaseHTTPRequestHandler],
        context: Any,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.ssl_context = ssl_context
        super().__init__(address, handler_cls, context)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(10)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        with self._connections_lock:
            self._connections.add(tls)
        try:
            super().finish_request(tls, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(tls)
            try:
                tls.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            tls.close()


class SimHandler(JSONRequestHandler):
    """Serves one host of one simulator; ``self.server.context`` is ``(simulator, host kind)``."""

    sys_version = ""
    server_version = "Microsoft-IIS/10.0"

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        sim, kind = self.server.context
        parts = urlsplit(self.path)
        path = parts.path
        raw = self.read_body()
        if path == "/_sim" or path.startswith("/_sim/"):
            if kind != "vssps":
                self._send(Reply.json(404, {"message": "the control API is on the vssps port"}))
                return
            status, body = handle_control(sim, self.command, path, raw)
            self._send(Reply.json(status, body))
            return
        sim.record(kind, self.command, path)
        if not self.pause(sim.latency):
            self.drop_connection()
            return
        fault = sim.faults.pick(self.command, path)
        if fault is not None:
            if fault.status == "timeout":
                self.pause(fault.hang)
                self.drop_connection()
            elif not isinstance(fault.status, int):
                self.drop_connection()
            else:
                self._send(fault_reply(kind, fault, sim.state.now_ts()))
            return
        scheme = "https" if (kind == "entra" or sim.tls) else "http"
        host = self.headers.get("Host") or f"{sim.host}:{sim.port_of(kind)}"
        request = Request(
            self.command,
            path,
            parse_qs(parts.query, keep_blank_values=True),
            {k.lower(): v for k, v in self.headers.items()},
            raw,
            f"{scheme}://{host}",
        )
        handler = {"entra": entra.handle, "vssps": pats.handle, "pkgs": feeds.handle}[kind]
        try:
            with sim.state.lock:  # one call at a time against the state, like one database transaction
                reply = handler(sim, request)
        except Exception as exc:  # noqa: BLE001 - a simulator bug answers 500 rather than dropping the connection
            reply = Reply.json(500, {"message": f"simulator bug: {exc!r}"})
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        if reply.drop:
            self.drop_connection()
            return
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        if reply.body and self.command != "HEAD":
            self.wfile.write(reply.body)


class AzureDevOpsSimulator:
    """Loopback Microsoft Entra ID + Azure DevOps PAT API + Azure Artifacts PyPI feed; see ``simulators/README.md``
    (## Azure DevOps and Entra). Seeds tenant, app registration, user ``admin@acme.example`` (who consents),
    organization ``acme``, project ``data`` and feed ``private`` holding ``feedkeeper-probe`` 1.0.0."""

    def __init__(
        self,
        latency: float = 0.0,
        seed: int | None = 0,
        tls: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        organization: str = DEFAULT_ORGANIZATION,
        project: str = DEFAULT_PROJECT,
        feed: str = DEFAULT_FEED,
        packages: list[tuple[str, str]] | None = None,
        user_login: str = DEFAULT_USER,
        user_name: str = DEFAULT_USER_NAME,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uris: list[str] | tuple[str, ...] = (),
        access_token_lifetime: int = 3600,
        auth_code_lifetime: int = 600,
        refresh_token_lifetime: int = 90 * 86400,
        require_pkce: bool = True,
        allow_plain_pkce: bool = False,
        revoke_used_refresh_tokens: bool = False,
        consent_error: str = "invalid_grant",
        bad_credentials_status: int = 203,
        feed_bad_credentials_status: int = 401,
        pat_error_status: int = 200,
        require_api_version_on_get: bool = True,
        pat_page_size: int = 20,
        max_lifespan_days: int | None = None,
        restrict_global: bool = True,
        restrict_full_scope: bool = False,
        authorize_outcome: str = "consent",
    ) -> None:
        self.state = State(seed)
        self.signing_key = SigningKey()
        self.faults = FaultInjector(seed=seed)
        self.latency = float(latency)
        self.tls = bool(tls)
        self.host = host
        self.port = port
        self.process_id = str(uuid.UUID(int=self.state.rng.getrandbits(128), version=4))
        self.requests: list[tuple[str, str, str]] = []
        self._requests_lock = threading.Lock()
        self._handles: dict[str, ServerHandle] = {}
        self._tls: TLSMaterial | None = None
        # options (each documented in the README; changeable later with set_option / POST /_sim/options)
        self.access_token_lifetime = int(access_token_lifetime)
        self.auth_code_lifetime = int(auth_code_lifetime)
        self.refresh_token_lifetime = int(refresh_token_lifetime)
        self.require_pkce = bool(require_pkce)
        self.allow_plain_pkce = bool(allow_plain_pkce)
        self.revoke_used_refresh_tokens = bool(revoke_used_refresh_tokens)
        self.consent_error = consent_error
        self.bad_credentials_status = bad_credentials_status
        self.feed_bad_credentials_status = feed_bad_credentials_status
        self.pat_error_status = pat_error_status
        self.require_api_version_on_get = bool(require_api_version_on_get)
        self.pat_page_size = int(pat_page_size)
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}")
        self.max_lifespan_days: int | None = None
        self.restrict_global = True
        self.restrict_full_scope = False
        self.set_policy(max_lifespan_days, restrict_global, restrict_full_scope)
        self.authorize_outcome = "consent"
        self.set_authorize_outcome(authorize_outcome)
        # seed
        self.state.add_user(user_login, user_name)
        self.user_login = user_login
        app = self.state.add_app(client_id, client_secret, "Feedkeeper")
        self.client_id = app.client_id
        self.client_secret = app.client_secret
        for uri in redirect_uris:
            self.register_redirect_uri(uri)
        self.state.add_organization(organization)
        self.organization = organization
        self.project = project
        self.feed = feed
        self.state.add_feed(organization, feed, project=project, packages=packages)

    # ---- lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> AzureDevOpsSimulator:
        """Generate the TLS material, bind the three ports (``port=0``: free ports; else PORT, PORT+1, PORT+2)."""
        if self._handles:
            return self
        self._tls = make_tls_material()
        try:
            for offset, kind in enumerate(HOSTS):
                port = 0 if self.port == 0 else self.port + offset
                ctx = self._tls.context if (kind == "entra" or self.tls) else None
                server = SimServer((self.host, port), SimHandler, context=(self, kind), ssl_context=ctx)
                self._handles[kind] = ServerHandle(server)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the three servers (hanging calls are released) and delete the CA file (idempotent)."""
        handles, self._handles = self._handles, {}
        for handle in handles.values():
            handle.stop()
        if self._tls is not None:
            self._tls.cleanup()
            self._tls = None

    def __enter__(self) -> AzureDevOpsSimulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def port_of(self, kind: str) -> int:
        handle = self._handles.get(kind)
        if handle is None:
            raise RuntimeError("the simulator is not running: call start() first")
        return handle.port

    def _url(self, kind: str) -> str:
        scheme = "https" if (kind == "entra" or self.tls) else "http"
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"{scheme}://{host}:{self.port_of(kind)}"

    @property
    def ca_path(self) -> str:
        """The PEM file of the CA that signed the simulator's TLS certificate (exists while running)."""
        if self._tls is None:
            raise RuntimeError("the simulator is not running: call start() first")
        return self._tls.ca_path

    @property
    def entra_url(self) -> str:
        """``https://127.0.0.1:PORT``; the authority msal takes is ``f"{entra_url}/{tenant_id}"``."""
        return self._url("entra")

    @property
    def vssps_url(self) -> str:
        """``http://127.0.0.1:PORT``: the PAT API is ``{vssps_url}/{organization}/_apis/tokens/pats``."""
        return self._url("vssps")

    @property
    def pkgs_url(self) -> str:
        return self._url("pkgs")

    @property
    def authority(self) -> str:
        return f"{self.entra_url}/{self.state.tenant_id}"

    @property
    def tenant_id(self) -> str:
        return self.state.tenant_id

    @property
    def feed_index_url(self) -> str:
        """The seeded feed's PEP 503 index URL (no credentials)."""
        return f"{self.pkgs_url}/{self.organization}/{self.project}/_packaging/{self.feed}/pypi/simple/"

    @property
    def pats_url(self) -> str:
        return f"{self.vssps_url}/{self.organization}/_apis/tokens/pats"

    @property
    def redirect_uris(self) -> list[str]:
        return list(self.state.apps[self.client_id].redirect_uris)

    # ---- pipeline ------------------------------------------------------------------------------------------------

    def record(self, kind: str, method: str, path: str) -> None:
        with self._requests_lock:
            self.requests.append((kind, method, path))

    # ---- configuration -------------------------------------------------------------------------------------------

    def set_option(self, name: str, value: Any) -> None:
        if name not in OPTIONS:
            raise ValueError(f"unknown option {name!r}")
        if name in _CHOICES and value not in _CHOICES[name]:
            raise ValueError(f"{name} must be one of {_CHOICES[name]}")
        current = getattr(self, name)
        if isinstance(current, bool):
            value = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
        elif isinstance(current, int):
            value = int(value)
        setattr(self, name, value)

    def set_policy(
        self,
        max_lifespan_days: Any = ...,
        restrict_global: Any = ...,
        restrict_full_scope: Any = ...,
    ) -> None:
        """Azure DevOps PAT policies ("Manage personal access tokens using policies"): ``max_lifespan_days``
        (None = no limit), ``restrict_global`` (global PATs refused; on by default: global PATs are retired),
        ``restrict_full_scope`` (full-scoped PATs refused). An argument left out keeps its current value."""
        with self.state.lock:
            if max_lifespan_days is not ...:
                self.max_lifespan_days = None if max_lifespan_days is None else int(max_lifespan_days)
            if restrict_global is not ...:
                self.restrict_global = bool(restrict_global)
            if restrict_full_scope is not ...:
                self.restrict_full_scope = bool(restrict_full_scope)

    def policy(self) -> dict[str, Any]:
        return {
            "max_lifespan_days": self.max_lifespan_days,
            "restrict_global": self.restrict_global,
            "restrict_full_scope": self.restrict_full_scope,
        }

    def set_authorize_outcome(self, outcome: str) -> None:
        """What the authorize endpoint's user does: ``consent`` (default), ``access_denied`` (declines),
        ``consent_required``, ``interaction_required`` (MFA needed) or ``login_required``."""
        if outcome not in entra.AUTHORIZE_OUTCOMES:
            raise ValueError(f"outcome must be one of {entra.AUTHORIZE_OUTCOMES}")
        self.authorize_outcome = outcome

    def register_redirect_uri(self, uri: str) -> None:
        """Add a redirect URI to the app registration. Entra's rules ("Redirect URI (reply URL) restrictions"):
        https, or http only for ``localhost``/``127.0.0.1``; no fragment. Matching is exact."""
        parts = urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an absolute http(s) URI: {uri!r}")
        if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1"):
            raise ValueError("http redirect URIs are allowed only for localhost and 127.0.0.1")
        if parts.fragment:
            raise ValueError("redirect URIs must not contain a fragment")
        with self.state.lock:
            uris = self.state.apps[self.client_id].redirect_uris
            if uri not in uris:
                uris.append(uri)

    def add_client_certificate(self, certificate_pem: bytes | str) -> None:
        """Register a certificate credential: msal's ``client_credential={"private_key", "public_certificate"}``
        then authenticates with a client assertion signed by that key."""
        pem = certificate_pem.encode() if isinstance(certificate_pem, str) else certificate_pem
        with self.state.lock:
            self.state.apps[self.client_id].certificates.append(pem)

    def set_clock_offset(self, seconds: float) -> None:
        """Shift the simulator's clock (all three hosts) by ``seconds`` from the wall clock."""
        with self.state.lock:
            self.state.clock_offset = float(seconds)

    # ---- users, organizations, feeds ---------------------------------------------------------------------------

    def add_user(
        self, upn: str, display_name: str | None = None, organizations: list[str] | None = None
    ) -> dict[str, Any]:
        """A user of the tenant, member of ``organizations`` (default: the seeded organization)."""
        with self.state.lock:
            user = self.state.add_user(upn, display_name)
            for name in organizations if organizations is not None else [self.organization]:
                org = self.state.organization(name) or self.state.add_organization(name, members=[])
                org.members.add(user.oid)
            return user.dump()

    def sign_in_as(self, upn: str) -> None:
        """Make ``upn`` the user the authorize endpoint plays (``login_hint`` also picks a known user)."""
        with self.state.lock:
            user = self.state.user_by_upn(upn)
            if user is None:
                raise KeyError(f"no user {upn!r}")
            self.state.signed_in_oid = user.oid

    def add_organization(self, name: str, members: list[str] | None = None) -> dict[str, Any]:
        return self.state.add_organization(name, members).dump()

    def add_feed(
        self,
        name: str,
        project: str | None = None,
        packages: list[tuple[str, str]] | None = None,
        organization: str | None = None,
    ) -> str:
        """Add a feed (``project=None``: organization-scoped); returns its simple index URL."""
        org = organization or self.organization
        self.state.add_feed(org, name, project=project, packages=packages)
        middle = f"{org}/{project}" if project else org
        return f"{self.pkgs_url}/{middle}/_packaging/{name}/pypi/simple/"

    def add_package(self, name: str, version: str, feed: str | None = None, project: str | None = "") -> None:
        """Publish a wheel to a feed (default: the seeded one)."""
        with self.state.lock:
            org = self.state.organization(self.organization)
            assert org is not None
            target = org.feed(self.project if project == "" else project, feed or self.feed)
            if target is None:
                raise KeyError(f"no feed {feed!r}")
            target.index.add(name, version)

    # ---- tokens and inspection ---------------------------------------------------------------------------------

    def issue_user_token(self, user: str | None = None, lifetime: int | None = None) -> str:
        """A delegated Entra access token for Azure DevOps (what the authorization code flow would give), for
        ``user`` (UPN; default the seeded user), without running the browser leg."""
        with self.state.lock:
            found = self.state.user_by_upn(user or self.user_login)
            if found is None:
                raise KeyError(f"no user {user!r}")
            saved = self.access_token_lifetime
            if lifetime is not None:
                self.access_token_lifetime = int(lifetime)
            try:
                token, _ = entra.user_access_token(self, found, self.client_id, ADO_RESOURCE, [".default"])
            finally:
                self.access_token_lifetime = saved
            return token

    def revoke_refresh_tokens(self, reason: str = "consent", user: str | None = None) -> int:
        """Break every live refresh token (of ``user``, or all): ``consent`` (default: consent withdrawn; the next
        refresh answers AADSTS65001 ``consent_required``), ``revoked`` (AADSTS50173) or ``expired``
        (AADSTS700082). Returns how many were live."""
        if reason not in ("consent", "revoked", "expired"):
            raise ValueError("reason must be consent, revoked or expired")
        with self.state.lock:
            oid = None
            if user is not None:
                found = self.state.user_by_upn(user)
                if found is None:
                    raise KeyError(f"no user {user!r}")
                oid = found.oid
            return self.state.revoke_refresh_tokens(reason, oid)

    def pats(self, user: str | None = None) -> list[dict[str, Any]]:
        """Every PAT (of ``user``, a UPN): authorizationId, displayName, scope, validFrom, validTo, targetAccounts,
        token, user, revoked, status."""
        with self.state.lock:
            found = [self.state.dump_pat(p) for p in self.state.pats.values()]
        return [p for p in found if user is None or p["user"].lower() == user.lower()]

    def is_live_pat(self, token: str) -> bool:
        """True when ``token`` is a PAT that is neither revoked nor expired (by the simulator's clock)."""
        with self.state.lock:
            pat = self.state.pat_by_token(token)
            return pat is not None and self.state.is_live(pat)

    def dump(self) -> dict[str, Any]:
        """The ``GET /_sim/state`` body."""
        with self._requests_lock:
            requests = [list(r) for r in self.requests]
        urls = {}
        if self._handles:
            urls = {
                "entra": self.entra_url,
                "vssps": self.vssps_url,
                "pkgs": self.pkgs_url,
                "authority": self.authority,
                "feed_index_url": self.feed_index_url,
                "ca_path": self.ca_path,
            }
        return {
            **self.state.dump(),
            "urls": urls,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "organization": self.organization,
            "options": {name: getattr(self, name) for name in OPTIONS},
            "policy": self.policy(),
            "authorize_outcome": self.authorize_outcome,
            "latency": self.latency,
            "faults": self.faults.describe(),
            "requests": requests,
        }
