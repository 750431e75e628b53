"""Data model of the GitHub simulator: errors, key pairs, tokens, organizations, repositories, secrets.

The JSON shapes follow GitHub's REST API (version 2022-11-28): "Get an organization", "Get a repository",
"Get the authenticated user" and the ``organization-actions-secret`` / ``actions-secret`` /
``actions-public-key`` schemas of "REST API endpoints for GitHub Actions secrets".
"""

from __future__ import annotations

import base64
import binascii
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nacl.encoding import Base64Encoder
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox

API_VERSION = "2022-11-28"
DOCS = "https://docs.github.com/rest"
SECRETS_DOCS = "https://docs.github.com/rest/actions/secrets"
RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
VISIBILITIES = ("all", "private", "selected")  # organization secret visibility
REPO_VISIBILITIES = ("public", "private", "internal")


class ApiError(Exception):
    """A GitHub-shaped error answer: ``{"message", "documentation_url", "status"}``."""

    def __init__(
        self,
        status: int,
        message: str,
        documentation_url: str = DOCS,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.documentation_url = documentation_url
        self.headers = dict(headers or {})

    def body(self) -> dict[str, str]:
        """The JSON body; GitHub sends ``status`` as a string."""
        return {"message": self.message, "documentation_url": self.documentation_url, "status": str(self.status)}


def not_found() -> ApiError:
    """GitHub's 404 (also for things the token may not see)."""
    return ApiError(404, "Not Found")


def now() -> datetime:
    """The current UTC time at one-second precision (GitHub's timestamps carry no fractions)."""
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    """ISO 8601 with a ``Z`` and one-second precision, e.g. ``2026-01-31T12:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_when(value: datetime | str | None) -> datetime | None:
    """Accept a datetime, ``2026-12-31 00:00:00 UTC``, ISO 8601 (``…Z``) or a bare date; naive means UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip().removesuffix(" UTC").replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass
class KeyPair:
    """A Curve25519 key pair; clients seal values to ``public_b64`` (libsodium sealed box)."""

    key_id: str
    private: PrivateKey

    @classmethod
    def generate(cls, rng: random.Random) -> KeyPair:
        """A fresh pair; the id looks like GitHub's (an 18-digit number as a string)."""
        return cls(str(rng.randrange(10**17, 10**18)), PrivateKey.generate())

    @property
    def public_b64(self) -> str:
        """The base64 public key, as ``GET …/actions/secrets/public-key`` shows it."""
        return self.private.public_key.encode(Base64Encoder).decode("ascii")

    def decrypt(self, encrypted_b64: str) -> bytes | None:
        """Open a base64 sealed box; None when it was not sealed to this key."""
        try:
            return SealedBox(self.private).decrypt(base64.b64decode(encrypted_b64, validate=True))
        except (CryptoError, binascii.Error, ValueError, TypeError):
            return None


@dataclass
class User:
    """A GitHub user that tokens authenticate as."""

    login: str
    id: int
    created_at: datetime = field(default_factory=now)


@dataclass
class Token:
    """A personal access token: its user, optional expiry and the organizations it administers."""

    token: str
    user: User
    expires_at: datetime | None = None
    admin_of: set[str] = field(default_factory=set)  # lower-cased org logins
    member_of: set[str] = field(default_factory=set)

    def expired(self, moment: datetime) -> bool:
        """True once ``expires_at`` has passed."""
        return self.expires_at is not None and moment >= self.expires_at

    def is_admin(self, org: Org) -> bool:
        """May manage the organization's (and its repositories') secrets."""
        return org.key in self.admin_of

    def is_member(self, org: Org) -> bool:
        """Sees the organization's private and internal repositories."""
        return org.key in self.admin_of or org.key in self.member_of

    def expiration_header(self) -> str | None:
        """``github-authentication-token-expiration`` value, e.g. ``2026-12-31 00:00:00 UTC``."""
        return None if self.expires_at is None else self.expires_at.strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass
class Secret:
    """A stored secret: the decrypted value (for tests) plus what the API shows."""

    name: str
    value: str
    encrypted_value: str
    key_id: str
    created_at: datetime
    updated_at: datetime
    visibility: str | None = None  # organization secrets only
    selected: list[int] = field(default_factory=list)  # repository ids, visibility "selected"

    def dump(self) -> dict[str, Any]:
        """Everything, plaintext included (``/_sim/state``)."""
        data: dict[str, Any] = {
            "name": self.name,
            "value": self.value,
            "key_id": self.key_id,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }
        if self.visibility is not None:
            data["visibility"] = self.visibility
            data["selected_repository_ids"] = list(self.selected)
        return data


@dataclass
class Repo:
    """A repository of an organization, with its own Actions key pair and secrets."""

    id: int
    name: str
    org: Org
    visibility: str
    keys: KeyPair
    created_at: datetime = field(default_factory=now)
    secrets: dict[str, Secret] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        """``owner/name``."""
        return f"{self.org.login}/{self.name}"


@dataclass
class Org:
    """An organization: key pair, organization secrets and repositories (keyed by lower-cased name)."""

    login: str
    id: int
    keys: KeyPair
    created_at: datetime = field(default_factory=now)
    secrets: dict[str, Secret] = field(default_factory=dict)
    repos: dict[str, Repo] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Organization logins are case-insensitive."""
        return self.login.lower()


def render_user(user: User, base: str) -> dict[str, Any]:
    """``GET /user``."""
    return {
        "login": user.login,
        "id": user.id,
        "node_id": f"U_sim{user.id}",
        "type": "User",
        "site_admin": False,
        "name": user.login,
        "email": None,
        "url": f"{base}/users/{user.login}",
        "html_url": f"{base}/users/{user.login}",
        "created_at": iso(user.created_at),
        "updated_at": iso(user.created_at),
    }


def render_org(org: Org, base: str) -> dict[str, Any]:
    """``GET /orgs/{org}``."""
    public = sum(1 for r in org.repos.values() if r.visibility == "public")
    return {
        "login": org.login,
        "id": org.id,
        "node_id": f"O_sim{org.id}",
        "type": "Organization",
        "name": org.login,
        "description": None,
        "url": f"{base}/orgs/{org.login}",
        "repos_url": f"{base}/orgs/{org.login}/repos",
        "members_url": f"{base}/orgs/{org.login}/members{{/member}}",
        "html_url": f"{base}/orgs/{org.login}",
        "public_repos": public,
        "total_private_repos": len(org.repos) - public,
        "created_at": iso(org.created_at),
        "updated_at": iso(org.created_at),
    }


def render_owner(org: Org, base: str) -> dict[str, Any]:
    """The ``owner`` object of a repository."""
    return {
        "login": org.login,
        "id": org.id,
        "node_id": f"O_sim{org.id}",
        "type": "Organization",
        "site_admin": False,
        "url": f"{base}/users/{org.login}",
    }


def render_repo(repo: Repo, base: str, token: Token | None = None) -> dict[str, Any]:
    """``GET /repos/{owner}/{repo}`` (``permissions`` reflect the calling token)."""
    admin = bool(token and token.is_admin(repo.org))
    member = bool(token and token.is_member(repo.org))
    return {
        "id": repo.id,
        "node_id": f"R_sim{repo.id}",
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.visibility != "public",
        "visibility": repo.visibility,
        "owner": render_owner(repo.org, base),
        "description": None,
        "fork": False,
        "archived": False,
        "disabled": False,
        "default_branch": "main",
        "url": f"{base}/repos/{repo.full_name}",
        "html_url": f"{base}/repos/{repo.full_name}",
        "created_at": iso(repo.created_at),
        "updated_at": iso(repo.created_at),
        "pushed_at": iso(repo.created_at),
        "permissions": {"admin": admin, "maintain": admin, "push": member, "triage": member, "pull": True},
    }


def render_public_key(keys: KeyPair) -> dict[str, str]:
    """``GET …/actions/secrets/public-key``."""
    return {"key_id": keys.key_id, "key": keys.public_b64}


def render_org_secret(secret: Secret, org: Org, base: str) -> dict[str, Any]:
    """``organization-actions-secret``; ``selected_repositories_url`` only for ``selected`` (as in GitHub's example)."""
    body: dict[str, Any] = {
        "name": secret.name,
        "created_at": iso(secret.created_at),
        "updated_at": iso(secret.updated_at),
        "visibility": secret.visibility,
    }
    if secret.visibility == "selected":
        body["selected_repositories_url"] = f"{base}/orgs/{org.login}/actions/secrets/{secret.name}/repositories"
    return body


def render_repo_secret(secret: Secret) -> dict[str, Any]:
    """``actions-secret``."""
    return {"name": secret.name, "created_at": iso(secret.created_at), "updated_at": iso(secret.updated_at)}
