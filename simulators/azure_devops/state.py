"""In-memory state shared by the three simulated hosts (Entra, vssps, pkgs), behind one lock.

One tenant, one app registration, users, consent grants, authorization codes, refresh tokens, organizations with
projects and feeds, and personal access tokens. Every timestamp comes from :meth:`State.now`, the wall clock plus
``clock_offset`` seconds, so tests can move time forward (tokens, codes and PATs expire) without sleeping.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from simulators._pypi import SimpleIndex

# The Azure DevOps resource: "The scope for the token should be 499b84ac-1321-427f-aa17-267ca6975798/.default"
# (Microsoft Learn, "Tokens - REST API (Azure DevOps)"). Its application ID URI is accepted as an alias.
ADO_RESOURCE = "499b84ac-1321-427f-aa17-267ca6975798"
ADO_RESOURCE_ALIASES = ("https://app.vssps.visualstudio.com",)
# Microsoft Graph: what a token request naming only OpenID Connect scopes gets an access token for.
GRAPH_RESOURCE = "00000003-0000-0000-c000-000000000000"
GRAPH_RESOURCE_ALIASES = ("https://graph.microsoft.com",)
OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
# The delegated permission an app registration adds for Azure DevOps ("Azure DevOps -> user_impersonation",
# Microsoft Learn "Manage personal access tokens using REST API").
ADO_DELEGATED_SCOPE = "user_impersonation"

DEFAULT_ORGANIZATION = "acme"
DEFAULT_PROJECT = "data"
DEFAULT_FEED = "private"
DEFAULT_USER = "admin@acme.example"
DEFAULT_USER_NAME = "Acme Admin"


def new_guid(rng: random.Random | None = None) -> str:
    """A version-4 GUID; deterministic when an RNG is given (seeded ids), random otherwise."""
    if rng is None:
        return str(uuid.uuid4())
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass
class User:
    upn: str
    display_name: str
    oid: str
    puid: str

    def dump(self) -> dict[str, Any]:
        return {"upn": self.upn, "display_name": self.display_name, "oid": self.oid}


@dataclass
class App:
    """The app registration Feedkeeper signs in with (a confidential web app)."""

    client_id: str
    client_secret: str
    display_name: str
    service_principal_oid: str
    redirect_uris: list[str] = field(default_factory=list)
    certificates: list[bytes] = field(default_factory=list)

    def dump(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "display_name": self.display_name,
            "service_principal_oid": self.service_principal_oid,
            "redirect_uris": list(self.redirect_uris),
            "certificates": len(self.certificates),
        }


@dataclass
class Grant:
    """A user's consent to the app for a set of resources; withdrawing it breaks its refresh tokens."""

    user_oid: str
    client_id: str
    resources: set[str] = field(default_factory=set)
    withdrawn: bool = False


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    scopes: list[str]
    user_oid: str
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None
    issued_at: float
    used: bool = False


@dataclass
class RefreshToken:
    value: str
    client_id: str
    user_oid: str
    scopes: list[str]
    issued_at: float
    last_used: float
    revoked: str | None = None  # None, "revoked", "consent", "expired" or "rotated"

    def dump(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "client_id": self.client_id,
            "user_oid": self.user_oid,
            "scopes": list(self.scopes),
            "issued_at": self.issued_at,
            "last_used": self.last_used,
            "revoked": self.revoked,
        }


@dataclass
class Feed:
    name: str
    id: str
    project: str | None  # None: an organization-scoped feed
    index: SimpleIndex

    def dump(self) -> dict[str, Any]:
        return {"name": self.name, "id": self.id, "project": self.project, "packages": self.index.projects()}


@dataclass
class Organization:
    name: str
    id: str
    members: set[str] = field(default_factory=set)  # user oids
    projects: dict[str, str] = field(default_factory=dict)  # lower-cased name -> name as created
    feeds: list[Feed] = field(default_factory=list)

    def feed(self, project: str | None, name_or_id: str) -> Feed | None:
        key = name_or_id.lower()
        for feed in self.feeds:
            same_scope = (feed.project or "").lower() == (project or "").lower()
            if same_scope and key in (feed.name.lower(), feed.id.lower()):
                return feed
        return None

    def dump(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": self.id,
            "members": sorted(self.members),
            "projects": sorted(self.projects.values()),
            "feeds": [f.dump() for f in self.feeds],
        }


@dataclass
class Pat:
    authorization_id: str
    user_oid: str
    display_name: str
    scope: str
    valid_from: datetime
    valid_to: datetime
    target_accounts: list[str] | None  # organization ids; None = all of the user's organizations (global)
    token: str
    revoked: bool = False

    def scopes(self) -> set[str]:
        return set(self.scope.split())


class State:
    """Everything the simulator knows; hold ``lock`` while reading or changing it."""

    def __init__(self, seed: int | None = 0) -> None:
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self.clock_offset = 0.0
        self.tenant_id = new_guid(self.rng)
        self.tenant_domain = "acme.example"
        self.users: dict[str, User] = {}  # oid -> user
        self.apps: dict[str, App] = {}  # client_id -> app
        self.grants: dict[tuple[str, str], Grant] = {}  # (user oid, client id) -> grant
        self.codes: dict[str, AuthCode] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.organizations: dict[str, Organization] = {}  # lower-cased name -> organization
        self.pats: dict[str, Pat] = {}  # authorization id -> PAT
        self.signed_in_oid: str | None = None  # who the authorize endpoint plays

    # ---- time -------------------------------------------------------------------------------------------------

    def now_ts(self) -> float:
        return time.time() + self.clock_offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_ts(), UTC)

    # ---- seeding ----------------------------------------------------------------------------------------------

    def add_user(self, upn: str, display_name: str | None = None) -> User:
        with self.lock:
            found = self.user_by_upn(upn)
            if found is not None:
                return found
            user = User(
                upn, display_name or upn.split("@")[0], new_guid(self.rng), f"1003{self.rng.getrandbits(48):012X}"
            )
            self.users[user.oid] = user
            if self.signed_in_oid is None:
                self.signed_in_oid = user.oid
            return user

    def user_by_upn(self, upn: str) -> User | None:
        with self.lock:
            for user in self.users.values():
                if user.upn.lower() == upn.lower():
                    return user
            return None

    def add_app(self, client_id: str | None, client_secret: str | None, display_name: str) -> App:
        with self.lock:
            cid = client_id or new_guid(self.rng)
            secret = client_secret or (
                "".join(
                    self.rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(3)
                )
                + "8Q~"
                + "".join(
                    self.rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
                    for _ in range(34)
                )
            )
            app = App(cid, secret, display_name, new_guid(self.rng))
            self.apps[cid] = app
            return app

    def add_organization(self, name: str, members: list[str] | None = None) -> Organization:
        with self.lock:
            org = self.organizations.get(name.lower())
            if org is None:
                org = Organization(name, new_guid(self.rng))
                self.organizations[name.lower()] = org
            oids = [u.oid for u in self.users.values()] if members is None else [self._oid(m) for m in members]
            org.members.update(oids)
            return org

    def add_project(self, org_name: str, project: str) -> None:
        with self.lock:
            org = self.organization(org_name)
            if org is None:
                raise KeyError(f"no organization {org_name!r}")
            org.projects.setdefault(project.lower(), project)

    def add_feed(
        self,
        org_name: str,
        name: str,
        project: str | None = None,
        packages: list[tuple[str, str]] | None = None,
    ) -> Feed:
        with self.lock:
            org = self.organization(org_name)
            if org is None:
                raise KeyError(f"no organization {org_name!r}")
            if project is not None:
                self.add_project(org_name, project)
            found = org.feed(project, name)
            if found is not None:
                return found
            feed = Feed(name, new_guid(self.rng), project, SimpleIndex(packages))
            org.feeds.append(feed)
            return feed

    def organization(self, name: str) -> Organization | None:
        with self.lock:
            return self.organizations.get(name.lower())

    def _oid(self, upn_or_oid: str) -> str:
        if upn_or_oid in self.users:
            return upn_or_oid
        user = self.user_by_upn(upn_or_oid)
        if user is None:
            raise KeyError(f"no user {upn_or_oid!r}")
        return user.oid

    # ---- Entra artefacts ----------------------------------------------------------------------------------------

    def grant(self, user_oid: str, client_id: str) -> Grant:
        key = (user_oid, client_id)
        found = self.grants.get(key)
        if found is None:
            found = Grant(user_oid, client_id)
            self.grants[key] = found
        return found

    def new_code(self, **kwargs: Any) -> AuthCode:
        # Entra codes are long opaque strings ("Authorization codes are short lived", v2 auth code flow page).
        code = AuthCode(code="1.AXsim" + secrets.token_urlsafe(96), issued_at=self.now_ts(), **kwargs)
        self.codes[code.code] = code
        return code

    def new_refresh_token(self, client_id: str, user_oid: str, scopes: list[str]) -> RefreshToken:
        now = self.now_ts()
        rt = RefreshToken("1.AXsimRT" + secrets.token_urlsafe(160), client_id, user_oid, list(scopes), now, now)
        self.refresh_tokens[rt.value] = rt
        return rt

    def revoke_refresh_tokens(self, reason: str, user_oid: str | None = None) -> int:
        """Mark every live refresh token (of ``user_oid``, or all) revoked; ``reason="consent"`` also withdraws
        the consent grants, so the next sign-in asks for consent again."""
        with self.lock:
            count = 0
            for rt in self.refresh_tokens.values():
                if rt.revoked is None and (user_oid is None or rt.user_oid == user_oid):
                    rt.revoked = reason
                    count += 1
            if reason == "consent":
                for grant in self.grants.values():
                    if user_oid is None or grant.user_oid == user_oid:
                        grant.withdrawn = True
                        grant.resources.clear()
            return count

    # ---- PATs -------------------------------------------------------------------------------------------------

    def pat_by_token(self, token: str) -> Pat | None:
        with self.lock:
            for pat in self.pats.values():
                if secrets.compare_digest(pat.token, token):
                    return pat
            return None

    def is_live(self, pat: Pat) -> bool:
        return not pat.revoked and pat.valid_to > self.now()

    def pat_status(self, pat: Pat) -> str:
        if pat.revoked:
            return "revoked"
        return "active" if pat.valid_to > self.now() else "expired"

    def dump_pat(self, pat: Pat) -> dict[str, Any]:
        user = self.users.get(pat.user_oid)
        return {
            "authorizationId": pat.authorization_id,
            "displayName": pat.display_name,
            "scope": pat.scope,
            "validFrom": pat.valid_from.isoformat(),
            "validTo": pat.valid_to.isoformat(),
            "targetAccounts": None if pat.target_accounts is None else list(pat.target_accounts),
            "token": pat.token,
            "user": user.upn if user else pat.user_oid,
            "revoked": pat.revoked,
            "status": self.pat_status(pat),
        }

    def dump(self) -> dict[str, Any]:
        with self.lock:
            return {
                "tenant_id": self.tenant_id,
                "clock_offset": self.clock_offset,
                "now": self.now().isoformat(),
                "users": [u.dump() for u in self.users.values()],
                "signed_in": self.users[self.signed_in_oid].upn if self.signed_in_oid else None,
                "apps": [a.dump() for a in self.apps.values()],
                "grants": [
                    {
                        "user_oid": g.user_oid,
                        "client_id": g.client_id,
                        "resources": sorted(g.resources),
                        "withdrawn": g.withdrawn,
                    }
                    for g in self.grants.values()
                ],
                "refresh_tokens": [rt.dump() for rt in self.refresh_tokens.values()],
                "authorization_codes": [
                    {"code": c.code, "client_id": c.client_id, "issued_at": c.issued_at, "used": c.used}
                    for c in self.codes.values()
                ],
                "organizations": [o.dump() for o in self.organizations.values()],
                "pats": [self.dump_pat(p) for p in self.pats.values()],
            }


def pat_token_value() -> str:
    """A PAT as the create example of "Pats - Create" shows one: 52 characters of lower-case base32."""
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    return "".join(secrets.choice(alphabet) for _ in range(52))


def ticks_round(when: datetime) -> datetime:
    """Round to SQL ``datetime`` precision (1/300 s), as Azure DevOps stores ``validTo``/``validFrom``: the create
    example sends ``2020-12-01T23:46:23.319Z`` and reads back ``2020-12-01T23:46:23.32Z``."""
    base = when.replace(microsecond=0)
    ticks = round(when.microsecond * 300 / 1_000_000)
    return base + timedelta(microseconds=ticks * 1_000_000 / 300)


def format_vss_date(when: datetime) -> str:
    """.NET round-trip format with trailing zeros of the seven-digit fraction trimmed, e.g.
    ``2020-11-02T22:56:52.1033333Z`` (Pats - List example) or ``2020-12-01T23:46:23.32Z``."""
    when = ticks_round(when.astimezone(UTC))
    # 1/300 s steps are 3.333... ms: .NET prints them with seven digits (.1033333), so recompute from ticks.
    ticks = round(when.microsecond * 300 / 1_000_000)
    fraction = f"{ticks * 10_000_000 // 300:07d}".rstrip("0")
    base = when.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{fraction}Z" if fraction else f"{base}Z"


def parse_vss_date(text: str) -> datetime:
    """Parse an ISO 8601 date-time as Azure DevOps accepts one (``Z``, an offset, or none = UTC; any fraction)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty date")
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    head, sep, rest = value.partition(".")
    if sep:
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        value = f"{head}.{(digits + '000000')[:6]}{rest}" if digits else head + rest
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
