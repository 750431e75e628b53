"""In-memory state of the JFrog simulator: policy, clock, users, PyPI repositories and tokens.

Token lifecycle (JFrog Platform Administration: "Use the Revocable and Persistency Thresholds"):

- a token whose expiry (``exp - iat``) is below ``persistency_threshold`` (``persistent-expiry-threshold``, default
  3 h = 10800 s) is not saved: it authenticates until it expires but cannot be listed, read by id or revoked;
- one below ``revocable_threshold`` (``revocable-expiry-threshold``, default 6 h = 21600 s) is saved but not
  revocable; non-expiring tokens (``expires_in=0``) are always saved and revocable; ``force_revocable`` makes a
  token revocable (and therefore saved) whatever its expiry. A negative persistency threshold saves everything;
  a negative revocable threshold makes every token with an expiry non-revocable.

The simulator keeps even unsaved tokens in memory (flagged ``persisted=False``) so it can check them, serve
refreshes and show them to tests; the API behaves as if they were not stored.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from simulators._pypi import SimpleIndex

from .tokens import (
    ADMIN_SCOPE,
    USER_SCOPE,
    decode_jwt,
    encode_jwt,
    make_reference,
    make_refresh,
    peek_jwt,
    scope_groups,
    scope_parts,
)

__all__ = ["ONE_YEAR", "Caller", "Policy", "Repo", "State", "TokenRecord", "User"]

ONE_YEAR = 31536000
NON_REVOCABLE_MODES = ("refuse", "ignore")


@dataclass
class Policy:
    """Platform settings and the simulator's choices where JFrog's docs are ambiguous (README ## JFrog)."""

    default_expiry: int = ONE_YEAR  # token.default-expiry; 0 = tokens without expires_in never expire
    max_expiry: int | None = None  # non-admin cap: None = default_expiry (no 0), 0 = unlimited, N = N s (no 0)
    persistency_threshold: int = 10800
    revocable_threshold: int = 21600
    allow_refreshable: bool = True  # token.allow-refreshable (non-admin tokens)
    refresh_grace: int = 0  # token.refresh-expiry: seconds after expiry a refresh token still works
    basic_auth_api: bool = False  # accept Basic user:token on /access/api/
    basic_username_must_match: bool = True  # Basic user:token only when user is the token's user
    unknown_revoke_status: int = 404  # revoke of an unknown or unsaved token: 404 (strict) or 204
    revoke_by_value_admin_only: bool = True
    non_revocable: str = "refuse"  # revoking a saved non-revocable token: "refuse" (400) or "ignore" (200, lives on)
    access_ping_auth: bool = True  # /access/api/v1/system/ping needs a valid token
    reference_needs_persistence: bool = True  # reference token for an unsaved expiry: 400 (True) or save it

    def __post_init__(self) -> None:
        if self.default_expiry < 0:
            raise ValueError("default_expiry must not be negative")
        if self.max_expiry is not None and self.max_expiry < 0:
            raise ValueError("max_expiry must not be negative")
        if self.max_expiry and self.default_expiry and self.max_expiry < self.default_expiry:
            raise ValueError("max_expiry must be at least default_expiry")
        if self.unknown_revoke_status not in (204, 404):
            raise ValueError("unknown_revoke_status must be 204 or 404")
        if self.non_revocable not in NON_REVOCABLE_MODES:
            raise ValueError(f"non_revocable must be one of {NON_REVOCABLE_MODES}")
        if self.refresh_grace < 0:
            raise ValueError("refresh_grace must not be negative")

    def non_admin_limit(self) -> int:
        """Longest expiry a non-admin may ask for; 0 = no limit (non-expiring allowed)."""
        return self.default_expiry if self.max_expiry is None else self.max_expiry

    def persists(self, expires_in: int, force_revocable: bool = False) -> bool:
        """Whether a token of this expiry (0 = never) is saved."""
        if expires_in == 0 or force_revocable or self.persistency_threshold < 0:
            return True
        return expires_in >= self.persistency_threshold

    def revocable(self, expires_in: int, force_revocable: bool = False) -> bool:
        """Whether a saved token of this expiry may be revoked."""
        if expires_in == 0 or force_revocable:
            return True
        if self.revocable_threshold < 0:
            return False
        return expires_in >= self.revocable_threshold

    def dump(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class User:
    """A platform user; ``groups`` give repository read access."""

    name: str
    admin: bool = False
    groups: set[str] = field(default_factory=set)
    transient: bool = False


@dataclass
class Repo:
    """A PyPI repository; users in one of ``read_groups`` (and admins) may read it."""

    key: str
    index: SimpleIndex
    read_groups: set[str] = field(default_factory=set)


@dataclass
class TokenRecord:
    """One issued access token."""

    token_id: str
    username: str
    subject: str
    issuer: str
    scope: str
    issued_at: int
    expires_in: int  # 0 = never
    audience: str
    access_token: str
    description: str | None = None
    refreshable: bool = False
    refresh_token: str | None = None
    reference_token: str | None = None
    persisted: bool = True
    revocable: bool = True
    force_revocable: bool = False
    project_key: str | None = None
    revoked: bool = False
    revoked_at: int | None = None
    revoked_how: str | None = None  # "id", "value", "refresh", "sim"
    replaced_by: str | None = None

    @property
    def expiry(self) -> int | None:
        """Epoch seconds of expiry, None for a non-expiring token."""
        return None if self.expires_in == 0 else self.issued_at + self.expires_in

    def expired(self, now: int) -> bool:
        expiry = self.expiry
        return expiry is not None and now >= expiry

    def live(self, now: int) -> bool:
        return not self.revoked and not self.expired(now)

    def info(self) -> dict[str, Any]:
        """The Access API view (JFrog REST APIs: "Get Token by ID")."""
        body: dict[str, Any] = {"token_id": self.token_id, "subject": self.subject}
        if self.expiry is not None:
            body["expiry"] = self.expiry
        body["issued_at"] = self.issued_at
        body["issuer"] = self.issuer
        if self.description is not None:
            body["description"] = self.description
        body["refreshable"] = self.refreshable
        return body

    def dump(self, now: int) -> dict[str, Any]:
        """Everything, for tests and ``/_sim/state``."""
        return {
            "token_id": self.token_id,
            "username": self.username,
            "subject": self.subject,
            "scope": self.scope,
            "issued_at": self.issued_at,
            "expiry": self.expiry,
            "expires_in": self.expires_in,
            "description": self.description,
            "audience": self.audience,
            "refreshable": self.refreshable,
            "reference": self.reference_token is not None,
            "persisted": self.persisted,
            "revocable": self.revocable,
            "revoked": self.revoked,
            "revoked_how": self.revoked_how,
            "replaced_by": self.replaced_by,
            "expired": self.expired(now),
            "live": self.live(now),
            "access_token": self.access_token,
            "reference_token": self.reference_token,
            "refresh_token": self.refresh_token,
        }


@dataclass
class Caller:
    """Who an API call authenticated as."""

    record: TokenRecord
    user: User

    @property
    def username(self) -> str:
        return self.record.username

    @property
    def is_admin(self) -> bool:
        """An admin-scoped token, or an identity (user-scoped) token of an admin user."""
        parts = scope_parts(self.record.scope)
        return ADMIN_SCOPE in parts or (USER_SCOPE in parts and self.user.admin)

    @property
    def is_user_token(self) -> bool:
        """A token that acts as its user (identity or admin scope), not a groups-only token."""
        parts = scope_parts(self.record.scope)
        return ADMIN_SCOPE in parts or USER_SCOPE in parts

    def groups(self) -> set[str]:
        """Groups whose permissions the token carries."""
        groups = scope_groups(self.record.scope)
        if USER_SCOPE in scope_parts(self.record.scope):
            groups |= self.user.groups
        return groups


class State:
    """Everything the simulator knows; ``lock`` guards it (re-entrant)."""

    def __init__(self, seed: int | None = 0, policy: Policy | None = None) -> None:
        self.lock = threading.RLock()
        self.policy = policy or Policy()
        self.rng = random.Random(seed)
        self.secret = hashlib.sha256(f"jfrog-simulator-{seed}-{self.rng.random()}".encode()).digest()
        alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
        self.service_id = "jfac@01" + "".join(self.rng.choice(alphabet) for _ in range(24))
        self.kid = "".join(self.rng.choice("0123456789ABCDEF") for _ in range(40))
        self.clock_offset = 0.0
        self.users: dict[str, User] = {}
        self.repos: dict[str, Repo] = {}
        self.tokens: dict[str, TokenRecord] = {}
        self._by_reference: dict[str, str] = {}
        self._by_refresh: dict[str, str] = {}

    # ---- clock -----------------------------------------------------------------------------------------------

    def now(self) -> int:
        """Simulated epoch seconds (wall clock plus ``clock_offset``)."""
        return int(time.time() + self.clock_offset)

    # ---- seeding ---------------------------------------------------------------------------------------------

    def add_user(self, name: str, admin: bool = False, groups: Iterable[str] = (), transient: bool = False) -> User:
        """Create (or update) a user."""
        if not name or len(name) > 255 or "/" in name:
            raise ValueError(f"invalid username {name!r}")
        with self.lock:
            user = self.users.get(name)
            if user is None:
                user = self.users[name] = User(name, admin, set(groups), transient)
            else:
                user.admin, user.groups, user.transient = admin, set(groups), transient
            return user

    def add_repo(
        self, key: str, read_groups: Iterable[str] = ("readers",), packages: list[tuple[str, str]] | None = None
    ) -> Repo:
        """Create a PyPI repository (``packages=None`` seeds ``feedkeeper-probe`` 1.0.0)."""
        if not key or "/" in key:
            raise ValueError(f"invalid repository key {key!r}")
        with self.lock:
            if key in self.repos:
                raise ValueError(f"repository {key} exists")
            repo = self.repos[key] = Repo(key, SimpleIndex(packages), set(read_groups))
            return repo

    # ---- tokens ----------------------------------------------------------------------------------------------

    def issue(
        self,
        username: str,
        scope: str = USER_SCOPE,
        expires_in: int | None = None,
        refreshable: bool = False,
        description: str | None = None,
        audience: str = "*@*",
        include_reference_token: bool = False,
        force_revocable: bool = False,
        project_key: str | None = None,
        persist: bool | None = None,
    ) -> TokenRecord:
        """Mint a token (no permission checks); ``expires_in=None`` = the default expiry, 0 = never."""
        with self.lock:
            if username not in self.users:
                raise KeyError(f"no user {username!r}")
            if expires_in is None:
                expires_in = self.policy.default_expiry
            if expires_in < 0:
                raise ValueError("expires_in must not be negative")
            persisted = self.policy.persists(expires_in, force_revocable) if persist is None else persist
            revocable = persisted and self.policy.revocable(expires_in, force_revocable)
            token_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            issued_at = self.now()
            subject = f"{self.service_id}/users/{username}"
            payload: dict[str, Any] = {
                "ext": '{"revocable":"true"}' if revocable else "{}",
                "sub": subject,
                "scp": scope,
                "aud": audience,
                "iss": self.service_id,
            }
            if expires_in:
                payload["exp"] = issued_at + expires_in
            payload["iat"] = issued_at
            payload["jti"] = token_id
            record = TokenRecord(
                token_id=token_id,
                username=username,
                subject=subject,
                issuer=self.service_id,
                scope=scope,
                issued_at=issued_at,
                expires_in=expires_in,
                audience=audience,
                access_token=encode_jwt(payload, self.secret, self.kid),
                description=description,
                refreshable=refreshable,
                refresh_token=make_refresh(self.rng) if refreshable else None,
                reference_token=make_reference(self.rng) if include_reference_token else None,
                persisted=persisted,
                revocable=revocable,
                force_revocable=force_revocable,
                project_key=project_key,
            )
            self.tokens[token_id] = record
            if record.reference_token:
                self._by_reference[record.reference_token] = token_id
            if record.refresh_token:
                self._by_refresh[record.refresh_token] = token_id
            return record

    def find(self, value: str) -> tuple[TokenRecord | None, str]:
        """The record a presented token value (JWT or reference token) names, and a verdict:
        ``"ok"``, ``"expired"``, ``"revoked"``, ``"foreign"`` (a JWT of another instance) or ``"unknown"``."""
        with self.lock:
            token_id = self._by_reference.get(value)
            if token_id is None:
                payload = decode_jwt(value, self.secret)
                if payload is None:
                    peeked = peek_jwt(value)
                    foreign = peeked is not None and peeked.get("iss") not in (None, self.service_id)
                    return None, "foreign" if foreign else "unknown"
                token_id = str(payload.get("jti"))
            record = self.tokens.get(token_id)
            if record is None:
                return None, "unknown"
            if record.revoked:
                return record, "revoked"
            if record.expired(self.now()):
                return record, "expired"
            return record, "ok"

    def authenticate(self, value: str) -> tuple[Caller | None, str]:
        """A live token's caller, or None and the verdict of :meth:`find`."""
        record, verdict = self.find(value)
        if record is None or verdict != "ok":
            return None, verdict
        return Caller(record, self.users[record.username]), verdict

    def revoke(self, record: TokenRecord, how: str) -> None:
        with self.lock:
            if not record.revoked:
                record.revoked, record.revoked_at, record.revoked_how = True, self.now(), how

    def by_refresh(self, refresh_token: str) -> TokenRecord | None:
        with self.lock:
            token_id = self._by_refresh.get(refresh_token)
            return None if token_id is None else self.tokens.get(token_id)

    def refresh(self, old: TokenRecord, include_reference_token: bool = False) -> TokenRecord:
        """Replace ``old`` by a new token of the same user, scope, expiry length and description."""
        with self.lock:
            new = self.issue(
                old.username,
                scope=old.scope,
                expires_in=old.expires_in,
                refreshable=True,
                description=old.description,
                audience=old.audience,
                include_reference_token=include_reference_token,
                force_revocable=old.force_revocable,
                project_key=old.project_key,
                persist=old.persisted or None,
            )
            self.revoke(old, "refresh")
            old.replaced_by = new.token_id
            if old.refresh_token:
                self._by_refresh.pop(old.refresh_token, None)
            return new

    def saved(self, token_id: str) -> TokenRecord | None:
        """A token the Access API can see: saved and not revoked."""
        with self.lock:
            record = self.tokens.get(token_id)
            if record is None or not record.persisted or record.revoked:
                return None
            return record

    # ---- inspection ------------------------------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        with self.lock:
            now = self.now()
            return {
                "now": now,
                "clock_offset": self.clock_offset,
                "service_id": self.service_id,
                "policy": self.policy.dump(),
                "users": [
                    {"name": u.name, "admin": u.admin, "groups": sorted(u.groups), "transient": u.transient}
                    for u in self.users.values()
                ],
                "repos": [
                    {"key": r.key, "read_groups": sorted(r.read_groups), "projects": r.index.projects()}
                    for r in self.repos.values()
                ],
                "tokens": [t.dump(now) for t in self.tokens.values()],
            }
