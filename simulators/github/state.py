"""In-memory state of the GitHub simulator and the rules of Actions secrets.

Rules come from GitHub's docs: "Secrets reference" (names: ``[A-Za-z0-9_]``, not starting with a digit or
``GITHUB_``, stored upper-cased; at most 1,000 organization and 100 repository secrets; values up to 48 KB) and
"REST API endpoints for GitHub Actions secrets" (request bodies, 201 on create / 204 on update, 409 when an
organization secret's visibility is not ``selected``). Every method takes ``self.lock``.
"""

from __future__ import annotations

import itertools
import random
import re
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from .model import (
    REPO_VISIBILITIES,
    SECRETS_DOCS,
    VISIBILITIES,
    ApiError,
    KeyPair,
    Org,
    Repo,
    Secret,
    Token,
    User,
    now,
    parse_when,
)

# The pattern GitHub's request schema puts on ``encrypted_value``.
BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$"
_BASE64 = re.compile(BASE64_PATTERN)
_NAME = re.compile(r"[A-Za-z0-9_]+")
MAX_VALUE_BYTES = 48_000  # "48 KB", read strictly as 48,000 bytes of plaintext
MAX_ORG_SECRETS = 1000
MAX_REPO_SECRETS = 100


def secret_name_error(name: str) -> str | None:
    """Why ``name`` breaks GitHub's naming rules, or None."""
    if not _NAME.fullmatch(name):
        return "Secret names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_)."
    if name[0].isdigit():
        return "Secret names must not start with a number."
    if name.upper().startswith("GITHUB_"):
        return "Secret names must not start with the GITHUB_ prefix."
    return None


def invalid(message: str, doc: str = SECRETS_DOCS) -> ApiError:
    """A 422 answer."""
    return ApiError(422, message, doc)


def _require(body: dict[str, Any], key: str, kind: type, doc: str) -> Any:
    if key not in body or body[key] is None:
        raise invalid(f'Invalid request.\n\n"{key}" wasn\'t supplied.', doc)
    value = body[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise invalid(f"Invalid request.\n\nFor 'properties/{key}', {value!r} is not a {kind.__name__}.", doc)
    return value


class State:
    """Users, tokens, organizations, repositories and their secrets."""

    def __init__(
        self,
        seed: int | None = 0,
        max_value_bytes: int = MAX_VALUE_BYTES,
        max_org_secrets: int = MAX_ORG_SECRETS,
        max_repo_secrets: int = MAX_REPO_SECRETS,
    ) -> None:
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self.max_value_bytes = max_value_bytes
        self.max_org_secrets = max_org_secrets
        self.max_repo_secrets = max_repo_secrets
        self.users: dict[str, User] = {}
        self.tokens: dict[str, Token] = {}
        self.orgs: dict[str, Org] = {}
        self.repos_by_id: dict[int, Repo] = {}
        # Actions variables by (organization key, lower-cased repository name or ""): see variables_api.py.
        self.variables: dict[tuple[str, str], dict[str, Any]] = {}
        self._user_id_seq = itertools.count(1001)
        self._org_id_seq = itertools.count(9001)
        self._repo_id_seq = itertools.count(100001)

    # ---- seeding -------------------------------------------------------------------------------------------

    def add_user(self, login: str) -> User:
        """The user ``login`` (created if new)."""
        with self.lock:
            user = self.users.get(login.lower())
            if user is None:
                user = self.users[login.lower()] = User(login, next(self._user_id_seq))
            return user

    def add_token(
        self,
        token: str,
        login: str,
        expires_at: datetime | str | None = None,
        admin_of: Iterable[str] = (),
        member_of: Iterable[str] = (),
    ) -> Token:
        """Make ``token`` authenticate as ``login``; replaces an existing token of that value."""
        if not token:
            raise ValueError("token must not be empty")
        with self.lock:
            record = Token(
                token=token,
                user=self.add_user(login),
                expires_at=parse_when(expires_at),
                admin_of={o.lower() for o in admin_of},
                member_of={o.lower() for o in member_of},
            )
            self.tokens[token] = record
            return record

    def add_org(self, login: str) -> Org:
        """The organization ``login`` (created with a fresh key pair if new)."""
        if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?", login):
            raise ValueError(f"invalid organization login {login!r}")
        with self.lock:
            org = self.orgs.get(login.lower())
            if org is None:
                org = self.orgs[login.lower()] = Org(login, next(self._org_id_seq), KeyPair.generate(self.rng))
            return org

    def add_repo(self, org: str, name: str, visibility: str = "private") -> Repo:
        """A new repository of ``org`` with its own key pair; ValueError if the name is taken."""
        if visibility not in REPO_VISIBILITIES:
            raise ValueError(f"visibility must be one of {', '.join(REPO_VISIBILITIES)}")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise ValueError(f"invalid repository name {name!r}")
        with self.lock:
            owner = self.org(org)
            if owner is None:
                raise KeyError(f"no organization {org!r}")
            if name.lower() in owner.repos:
                raise ValueError(f"repository {owner.login}/{name} exists")
            repo = Repo(next(self._repo_id_seq), name, owner, visibility, KeyPair.generate(self.rng))
            owner.repos[name.lower()] = repo
            self.repos_by_id[repo.id] = repo
            return repo

    def rotate_key(self, org: str, repo: str | None = None) -> KeyPair:
        """Replace the key pair of an organization (or one of its repositories); the old key_id is refused."""
        with self.lock:
            target: Org | Repo | None = self.org(org) if repo is None else self.repo(org, repo)
            if target is None:
                raise KeyError(f"no such organization or repository: {org}/{repo or ''}")
            target.keys = KeyPair.generate(self.rng)
            return target.keys

    # ---- lookups -------------------------------------------------------------------------------------------

    def authenticate(self, token: str) -> Token | None:
        """The token's record, or None when unknown or expired."""
        with self.lock:
            record = self.tokens.get(token)
        if record is None or record.expired(now()):
            return None
        return record

    def org(self, login: str) -> Org | None:
        """Organization by login (case-insensitive)."""
        with self.lock:
            return self.orgs.get(login.lower())

    def org_by_id(self, org_id: int) -> Org | None:
        """Organization by numeric id (the form GitHub's ``Link`` URLs use)."""
        with self.lock:
            return next((o for o in self.orgs.values() if o.id == org_id), None)

    def repo(self, owner: str, name: str) -> Repo | None:
        """Repository by owner and name (both case-insensitive)."""
        with self.lock:
            org = self.orgs.get(owner.lower())
            return None if org is None else org.repos.get(name.lower())

    # ---- secrets -------------------------------------------------------------------------------------------

    def _name(self, name: str, doc: str) -> str:
        error = secret_name_error(name)
        if error:
            raise invalid(f"Bad request - {error}", doc)
        return name.upper()

    def _open(self, keys: KeyPair, body: dict[str, Any], doc: str) -> tuple[str, str]:
        """Check ``encrypted_value`` / ``key_id`` and decrypt: returns (plaintext, encrypted_value)."""
        encrypted = _require(body, "encrypted_value", str, doc)
        if not _BASE64.fullmatch(encrypted):
            # GitHub echoes the offending value here; so does the simulator.
            raise invalid(f"Invalid request.\n\n{encrypted} does not match /{BASE64_PATTERN}/.", doc)
        key_id = _require(body, "key_id", str, doc)
        if key_id != keys.key_id:
            raise invalid("Bad request - key_id does not match the current public key; fetch it again.", doc)
        plaintext = keys.decrypt(encrypted)
        if plaintext is None:
            raise invalid("Bad request - validation failed due to an improperly encrypted secret", doc)
        if len(plaintext) > self.max_value_bytes:
            raise invalid(f"Bad request - secret value is larger than {self.max_value_bytes} bytes (48 KB).", doc)
        return plaintext.decode("utf-8", errors="replace"), encrypted

    def _store(
        self, secrets: dict[str, Secret], name: str, value: str, encrypted: str, key_id: str, limit: int, doc: str
    ) -> tuple[Secret, bool]:
        existing = secrets.get(name)
        moment = now()
        if existing is None:
            if len(secrets) >= limit:
                raise invalid(f"Bad request - secret limit reached: at most {limit} secrets may be stored here.", doc)
            secret = secrets[name] = Secret(name, value, encrypted, key_id, moment, moment)
        else:
            secret = existing
            secret.value, secret.encrypted_value, secret.key_id, secret.updated_at = value, encrypted, key_id, moment
        return secret, existing is None

    def _repo_ids(self, org: Org, value: Any, doc: str) -> list[int]:
        if not isinstance(value, list) or any(not isinstance(i, int) or isinstance(i, bool) for i in value):
            raise invalid(
                f"Invalid request.\n\nFor 'properties/selected_repository_ids', {value!r} is not an array of integers.",
                doc,
            )
        for repo_id in value:
            repo = self.repos_by_id.get(repo_id)
            if repo is None or repo.org is not org:
                raise invalid(f"Bad request - repository {repo_id} is not a repository of {org.login}.", doc)
        return list(dict.fromkeys(value))

    def put_org_secret(self, org: Org, name: str, body: dict[str, Any]) -> bool:
        """``PUT /orgs/{org}/actions/secrets/{name}``; True when created (201), False when updated (204)."""
        doc = f"{SECRETS_DOCS}#create-or-update-an-organization-secret"
        with self.lock:
            name = self._name(name, doc)
            visibility = _require(body, "visibility", str, doc)
            if visibility not in VISIBILITIES:
                raise invalid(
                    f"Invalid request.\n\nFor 'properties/visibility', {visibility!r} is not one of "
                    f"{', '.join(VISIBILITIES)}.",
                    doc,
                )
            selected: list[int] | None = None
            if body.get("selected_repository_ids") is not None:
                if visibility != "selected":
                    raise invalid(
                        "Bad request - selected_repository_ids can only be given with visibility 'selected'.", doc
                    )
                selected = self._repo_ids(org, body["selected_repository_ids"], doc)
            value, encrypted = self._open(org.keys, body, doc)
            secret, created = self._store(
                org.secrets, name, value, encrypted, org.keys.key_id, self.max_org_secrets, doc
            )
            if visibility != "selected":
                secret.selected = []
            elif selected is not None or secret.visibility != "selected":
                secret.selected = selected or []
            secret.visibility = visibility
            return created

    def put_repo_secret(self, repo: Repo, name: str, body: dict[str, Any]) -> bool:
        """``PUT /repos/{owner}/{repo}/actions/secrets/{name}``; True when created (201)."""
        doc = f"{SECRETS_DOCS}#create-or-update-a-repository-secret"
        with self.lock:
            name = self._name(name, doc)
            value, encrypted = self._open(repo.keys, body, doc)
            _, created = self._store(repo.secrets, name, value, encrypted, repo.keys.key_id, self.max_repo_secrets, doc)
            return created

    @staticmethod
    def find_secret(secrets: dict[str, Secret], name: str) -> Secret | None:
        """A secret by name (case-insensitive); None for unknown or invalid names."""
        if secret_name_error(name):
            return None
        return secrets.get(name.upper())

    def delete_secret(self, secrets: dict[str, Secret], name: str) -> bool:
        """Remove a secret; False when there was none."""
        with self.lock:
            secret = self.find_secret(secrets, name)
            if secret is None:
                return False
            del secrets[secret.name]
            return True

    def selected_repos(self, secret: Secret) -> list[Repo]:
        """The repositories a ``selected`` organization secret is shared with, by id."""
        with self.lock:
            return [self.repos_by_id[i] for i in sorted(secret.selected) if i in self.repos_by_id]

    def set_selected(self, org: Org, secret: Secret, body: dict[str, Any]) -> None:
        """``PUT …/secrets/{name}/repositories``: replace the list (409 unless visibility is ``selected``)."""
        doc = f"{SECRETS_DOCS}#set-selected-repositories-for-an-organization-secret"
        with self.lock:
            self.check_selected(secret, doc)
            ids = body.get("selected_repository_ids")
            if ids is None:
                raise invalid('Invalid request.\n\n"selected_repository_ids" wasn\'t supplied.', doc)
            secret.selected = self._repo_ids(org, ids, doc)

    def change_selected(self, org: Org, secret: Secret, repo_id: int, add: bool) -> None:
        """``PUT``/``DELETE …/secrets/{name}/repositories/{repository_id}`` (409 unless ``selected``)."""
        anchor = "add-selected-repository-to" if add else "remove-selected-repository-from"
        doc = f"{SECRETS_DOCS}#{anchor}-an-organization-secret"
        with self.lock:
            self.check_selected(secret, doc)
            self._repo_ids(org, [repo_id], doc)
            if add and repo_id not in secret.selected:
                secret.selected.append(repo_id)
            if not add and repo_id in secret.selected:
                secret.selected.remove(repo_id)

    @staticmethod
    def check_selected(secret: Secret, doc: str) -> None:
        """409 unless the organization secret's visibility is ``selected``."""
        if secret.visibility != "selected":
            raise ApiError(409, "Conflict - the secret's visibility is not set to 'selected'.", doc)

    # ---- inspection ----------------------------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """Everything, secret values included."""
        with self.lock:
            return {
                "tokens": [
                    {
                        "token": t.token,
                        "login": t.user.login,
                        "user_id": t.user.id,
                        "expires_at": t.expiration_header(),
                        "admin_of": sorted(t.admin_of),
                        "member_of": sorted(t.member_of),
                    }
                    for t in self.tokens.values()
                ],
                "orgs": [
                    {
                        "login": o.login,
                        "id": o.id,
                        "key_id": o.keys.key_id,
                        "secrets": [s.dump() for _, s in sorted(o.secrets.items())],
                        "repos": [
                            {
                                "id": r.id,
                                "name": r.name,
                                "visibility": r.visibility,
                                "key_id": r.keys.key_id,
                                "secrets": [s.dump() for _, s in sorted(r.secrets.items())],
                            }
                            for r in o.repos.values()
                        ],
                    }
                    for o in self.orgs.values()
                ],
            }
