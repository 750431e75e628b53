"""GitHub Actions secrets: a feed's credentialed index URL as an organization or repository Actions secret, so CI
installs from the private feed as the data platforms do.

GitHub REST docs, "REST API endpoints for GitHub Actions secrets":
- a value is encrypted with the organization's or repository's public key (``GET …/actions/secrets/public-key``
  → ``{key_id, key}``, base64 Curve25519) in a libsodium sealed box, base64-encoded, and sent as
  ``{encrypted_value, key_id}`` to ``PUT …/actions/secrets/{name}`` (201 created, 204 updated); an organization
  secret also takes ``visibility`` (``all``, ``private``, ``selected``) and ``selected_repository_ids``;
- a refused ``key_id`` (the key was rotated) is answered 422: fetch the key again and put once more;
- ``GET …/actions/secrets/{name}`` returns ``created_at`` and ``updated_at`` (one-second precision), never the value;
- names contain only letters, digits and ``_``, do not start with a digit or ``GITHUB_``, and are upper-cased.

Modes:
- ``actions_org_secret``: one organization secret (default ``PIP_INDEX_URL``) with a visibility; ``selected``
  lists repository names, resolved to ids when pushed.
- ``actions_repo_secret``: the secret in each listed repository of the organization.

Verification reads the metadata back: ``updated_at`` not older than before the put (same second is fine, since
the put itself answered 201/204), and for ``selected`` the secret's repositories are exactly the chosen ones.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from nacl import encoding, public

from targets.adapters.base import Adapter, AdapterError, AuthSpec, HealthResult, ModeSpec, Place, PushResult, setting
from targets.adapters.github.client import GitHubClient, GitHubError

DEFAULT_SECRET = "PIP_INDEX_URL"
VISIBILITIES = ("all", "private", "selected")
_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_REPO = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_LOCATION_MAX = 300


def seal(public_key: str, value: str) -> str:
    """``value`` encrypted for GitHub: a sealed box to the base64 public key, base64-encoded."""
    box = public.SealedBox(public.PublicKey(public_key.encode(), encoding.Base64Encoder))
    return base64.b64encode(box.encrypt(value.encode())).decode()


def github_ms(stamp: str | None) -> int | None:
    """GitHub's ``2026-11-30T10:00:00Z`` as epoch milliseconds."""
    if not stamp:
        return None
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


@dataclass(frozen=True)
class GitHubTarget:
    organization: str = setting(
        "Organization", help="The GitHub organization's login (as in github.com/<login>).", max_length=100
    )


@dataclass(frozen=True)
class GitHubDelivery:
    variable: str = setting(
        "Secret name", help=f"The Actions secret's name (default {DEFAULT_SECRET}).", initial=DEFAULT_SECRET
    )
    visibility: str = setting(
        "Visibility",
        help="Organization secret: all, private (private and internal repositories) or selected repositories.",
        max_length=16,
        initial="private",
    )
    repositories: list[str] = setting(
        "Repositories",
        help="Repository names of the organization, separated by commas or spaces: the selected repositories of "
        "an organization secret, or each repository that gets a repository secret.",
        many=True,
        max_length=100,
        max_items=500,
    )


def _repo_location(repos: list[str], name: str) -> str:
    location = f"repo-secrets:{','.join(repos)}:{name}"
    if len(location) > _LOCATION_MAX:
        digest = hashlib.sha256(",".join(repos).encode()).hexdigest()[:16]
        location = f"repo-secrets:{len(repos)}#{digest}:{name}"
    return location


class GitHubAdapter(Adapter):
    """Delivers a feed's credentialed index URL as a GitHub Actions secret of an organization or its
    repositories."""

    kind = "github"
    label = "GitHub organization"
    default_url = "https://api.github.com"
    url_help = "Leave empty for https://api.github.com; Enterprise Server: https://HOST/api/v3."
    auth = (
        AuthSpec(
            "token",
            "Personal access token",
            secret="token",
            secret_label="Token",
            secret_help="A fine-grained or classic token allowed to manage the organization's Actions secrets.",
        ),
    )
    TargetConfig = GitHubTarget
    DeliveryConfig = GitHubDelivery
    modes = {
        "actions_org_secret": ModeSpec(
            "actions_org_secret", "Organization Actions secret", ("role", "variable", "visibility", "repositories")
        ),
        "actions_repo_secret": ModeSpec(
            "actions_repo_secret", "Repository Actions secret in each repository", ("role", "variable", "repositories")
        ),
    }

    # --- validation -----------------------------------------------------------------------------------
    @classmethod
    def clean_target(cls, data: dict[str, Any]) -> dict[str, Any]:
        organization = str(data.get("organization") or "").strip()
        if not _LOGIN.match(organization):
            raise ValidationError({"organization": "Enter the organization's login: letters, digits and '-'."})
        return {**data, "organization": organization}

    @classmethod
    def clean_delivery(cls, data: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, str] = {}
        name = str(data.get("variable") or DEFAULT_SECRET).strip().upper()
        if not _NAME.match(name) or name.startswith("GITHUB_"):
            errors["variable"] = (
                "Use letters, digits and '_', not starting with a digit or GITHUB_ (at most 128), as GitHub requires."
            )
        repos = data.get("repositories") or []
        if isinstance(repos, str):
            repos = [r for r in re.split(r"[\s,]+", repos) if r]
        if not isinstance(repos, list) or not all(isinstance(r, str) and _REPO.match(r) for r in repos):
            errors["repositories"] = "Repository names: letters, digits, '.', '_' or '-'."
            repos = []
        repos = sorted({r.lower() for r in repos})
        mode = data["mode"]
        visibility = str(data.get("visibility") or "").strip().lower()
        if mode == "actions_org_secret":
            visibility = visibility or "private"
            if visibility not in VISIBILITIES:
                errors["visibility"] = "Choose all, private or selected."
            elif visibility == "selected" and not repos and "repositories" not in errors:
                errors["repositories"] = "List the repositories that may use the secret."
            elif visibility != "selected" and repos:
                errors["repositories"] = "Repositories are chosen only with the selected visibility."
        else:
            if visibility:
                errors["visibility"] = "A repository secret has no visibility."
            if not repos and "repositories" not in errors:
                errors["repositories"] = "List the repositories that get the secret."
        if errors:
            raise ValidationError(errors)
        location = f"org-secret:{name}" if mode == "actions_org_secret" else _repo_location(repos, name)
        out = {"mode": mode, "role": data.get("role", "index"), "variable": name, "repositories": repos}
        if mode == "actions_org_secret":
            out["visibility"] = visibility
        return {**out, "location": location}

    @classmethod
    def conflicts(cls, cleaned: dict[str, Any], other: Any) -> bool:
        """Two repository deliveries of the same secret name conflict when they share a repository."""
        if cleaned["location"] == other.location:
            return True
        if cleaned["mode"] != "actions_repo_secret" or other.mode != "actions_repo_secret":
            return False
        if cleaned["variable"] != other.cfg.variable:
            return False
        return bool(set(cleaned["repositories"]) & set(other.cfg.repositories))

    @classmethod
    def delivery_rows(cls, delivery: Any) -> list[tuple[str, Any]]:
        cfg = delivery.cfg
        rows: list[tuple[str, Any]] = [("Secret", cfg.variable)]
        if delivery.mode == "actions_org_secret":
            rows.append(("Visibility", cfg.visibility))
        if cfg.repositories:
            rows.append(("Repositories", ", ".join(cfg.repositories)))
        return rows

    @classmethod
    def places(cls, delivery: Any) -> list[Place]:
        """The organization secret (and the repositories it is shared with), or the secret in each repository;
        workflows read secrets at every run."""
        cfg, fp = delivery.cfg, delivery.delivered_fingerprint
        if delivery.mode == "actions_org_secret":
            shared = (
                f" shared with {', '.join(cfg.repositories)}"
                if cfg.visibility == "selected"
                else f" ({cfg.visibility})"
            )
            return [Place(f"organization secret {cfg.variable}{shared}", fp)]
        return [Place(f"repository {repo} secret {cfg.variable}", fp) for repo in cfg.repositories]

    # --- plumbing -------------------------------------------------------------------------------------
    def client(self) -> GitHubClient:
        return GitHubClient(url=self.target.url, token=self.target.reveal_credential())

    @property
    def org(self) -> str:
        return str(self.target.cfg.organization)

    def _bases(self, delivery: Any) -> list[tuple[str, str]]:
        """(place name, API base) of every place the delivery writes."""
        if delivery.mode == "actions_org_secret":
            return [("organization", f"/orgs/{self.org}")]
        return [(repo, f"/repos/{self.org}/{repo}") for repo in delivery.cfg.repositories]

    def _repository_ids(self, api: GitHubClient, names: list[str]) -> list[int]:
        ids = []
        for name in names:
            try:
                ids.append(int(api.repository(self.org, name)["id"]))
            except GitHubError as exc:
                if exc.status == 404:
                    raise AdapterError(
                        f"Repository {self.org}/{name} does not exist or the token cannot see it.", permanent=True
                    ) from None
                raise
        return sorted(ids)

    def _put(self, api: GitHubClient, base: str, name: str, value: str, extra: dict[str, Any]) -> int:
        """Encrypt with the place's public key and put; fetch the key again once if GitHub refuses its id."""
        for attempt in (1, 2):
            key = api.public_key(base)
            body = {"encrypted_value": seal(key["key"], value), "key_id": key["key_id"], **extra}
            try:
                return api.put_secret(base, name, body)
            except GitHubError as exc:
                if exc.status != 422 or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    # --- contract -------------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        api = self.client()
        org = api.organization(self.org)
        info: dict[str, Any] = {"organization_id": str(org.get("id", "")), "organization": org.get("login", "")}
        expires = api.last_headers.get("github-authentication-token-expiration")
        if expires:
            info["token_expires"] = expires
        return info

    def push(self, delivery: Any, value: str, *, restart_consent: bool) -> PushResult:
        """Put the secret in each place; per-place outcomes go in ``detail["places"]`` (also on a failure)."""
        api = self.client()
        name = delivery.cfg.variable
        extra: dict[str, Any] = {}
        if delivery.mode == "actions_org_secret":
            extra["visibility"] = delivery.cfg.visibility
            if delivery.cfg.visibility == "selected":
                extra["selected_repository_ids"] = self._repository_ids(api, delivery.cfg.repositories)
        places: dict[str, Any] = {}
        # The time the put must not go below: the one our last verified push read back there, else read now.
        known = (delivery.state or {}).get("places") or {}
        for place, base in self._bases(delivery):
            try:
                seen = (known.get(place) or {}).get("at")
                before = {"updated_at": seen} if seen else api.secret(base, name)
                status = self._put(api, base, name, value, extra)
            except AdapterError as exc:
                places[place] = {"status": "failed", "error": str(exc)}
                raise AdapterError(
                    f"{place}: {exc}",
                    permanent=exc.permanent,
                    status=exc.status,
                    retry_after=exc.retry_after,
                    detail={"places": places},
                ) from None
            places[place] = {"status": "put", "http": status, "before": (before or {}).get("updated_at")}
        result = PushResult(detail={"places": places})
        if "selected_repository_ids" in extra:
            result.detail["selected_repository_ids"] = extra["selected_repository_ids"]
        return result

    def verify(self, delivery: Any, result: PushResult) -> PushResult:
        api = self.client()
        name = delivery.cfg.variable
        places = result.detail.get("places") or {}
        newest: int | None = None
        for place, base in self._bases(delivery):
            meta = api.secret(base, name)
            if meta is None:
                raise AdapterError(f"Verification failed: {name} is not in {place} after the put.", permanent=False)
            after, before = github_ms(meta.get("updated_at")), github_ms((places.get(place) or {}).get("before"))
            if after is None or (before is not None and after < before):
                raise AdapterError(
                    f"Verification failed: {name} in {place} was not updated (updated_at {meta.get('updated_at')}).",
                    permanent=False,
                )
            places.setdefault(place, {}).update(status="delivered", at=meta.get("updated_at"))
            newest = after if newest is None else max(newest, after)
        if delivery.mode == "actions_org_secret" and delivery.cfg.visibility == "selected":
            have = sorted(int(r["id"]) for r in api.selected_repositories(self.org, name))
            if have != result.detail.get("selected_repository_ids"):
                raise AdapterError(
                    f"Verification failed: {name} is shared with other repositories than chosen.", permanent=False
                )
        result.remote_ts = newest
        return result

    def check_health(self, deliveries: list[Any]) -> list[HealthResult]:
        from targets.adapters.github.health import check_health

        return check_health(self, deliveries)

    def scan(self) -> list[Any]:
        """The organization's and its repositories' Actions variables (see :mod:`targets.adapters.github.scan`)."""
        from targets.adapters.github.scan import scan_organization

        return scan_organization(self.client(), self.org)
