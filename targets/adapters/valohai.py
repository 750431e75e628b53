"""Valohai organizations (docs/platforms.md §2).

A target is one organization on one installation (``https://app.valohai.com`` or a private host), reached with a
user's API token (``Authorization: Token …``). ``describe`` resolves the organization's numeric id and its projects
(projects are listed for the whole user and filtered on ``owner`` here, since no owner filter is documented).

Modes:
- ``project_variable`` (default, the proven path): a secret project environment variable (default
  ``PRIVATE_PYPI_INDEX_URL``, as in Valohai's private-PyPI guide) in each listed project, or in every project of
  the organization for ``["*"]``, including projects created later (``needs_push`` notices them).
- ``organization_group`` (EXPERIMENTAL): an organization environment-variable group holding the variable, at the
  unconfirmed endpoint ``settings.VALOHAI_GROUP_PATH`` (see :mod:`targets.adapters.valohai_groups`).

Valohai never returns secret values, so verification only proves the name is present as a secret; the delivered
fingerprint is kept locally, per project, in ``Delivery.state["projects"]``.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ValidationError

from targets.adapters.base import Adapter, AdapterError, AuthSpec, HealthResult, ModeSpec, Place, PushResult, setting
from targets.adapters.valohai_api import API_PREFIX, ValohaiClient, ValohaiError
from targets.adapters.valohai_groups import group_name, push_group, verify_group
from targets.adapters.valohai_health import check_health
from targets.adapters.valohai_projects import DELIVERED, push_projects, verify_projects

DEFAULT_VARIABLE = "PRIVATE_PYPI_INDEX_URL"
EVERY_PROJECT = "*"
# The official CLI's rule for variable names (docs/platforms.md §2.3).
_VARIABLE = re.compile(r"^[a-z0-9_-]+$", re.I)
_LOCATION_MAX = 300
# The owner segment of a project's display URL, ``https://app.valohai.com/p/<owner>/<project>/``.
_DISPLAY_OWNER = re.compile(r"^/p/([^/]+)/[^/]+/?$")


def _project_ids(raw: Any) -> list[str]:
    """``["*"]`` or sorted, de-duplicated canonical uuids; raises ``ValueError``. A string is split on commas."""
    if isinstance(raw, str):
        raw = [p for p in re.split(r"[\s,]+", raw) if p]
    if not isinstance(raw, list) or not raw or not all(isinstance(p, str) for p in raw):
        raise ValueError('List project ids, or ["*"] for every project of the organization.')
    items = [p.strip() for p in raw]
    if EVERY_PROJECT in items:
        if len(items) != 1:
            raise ValueError('"*" means every project: do not list others with it.')
        return [EVERY_PROJECT]
    try:
        return sorted({str(uuid.UUID(p)) for p in items})
    except ValueError:
        raise ValueError("Project ids are uuids (shown in the target's project list).") from None


def _location(mode: str, projects: list[str], variable: str) -> str:
    if mode == "organization_group":
        return f"group:{group_name(variable)}"
    location = f"projects:{','.join(projects)}:{variable}"
    if len(location) > _LOCATION_MAX:  # many projects: name the set by a hash, still unique per set
        digest = hashlib.sha256(",".join(projects).encode()).hexdigest()[:16]
        location = f"projects:{len(projects)}#{digest}:{variable}"
    return location


@dataclass(frozen=True)
class ValohaiTarget:
    organization: str = setting(
        "Organization", help="The Valohai organization's name, as its members see it.", max_length=200
    )


@dataclass(frozen=True)
class ValohaiDelivery:
    projects: list[str] = setting(
        "Projects",
        help="Project ids (uuids) separated by commas, or * for every project of the organization.",
        many=True,
        max_length=64,
        max_items=1000,
    )
    variable: str = setting(
        "Variable",
        help=f"The environment variable's name (default {DEFAULT_VARIABLE}). An execution sees it only when "
        '"Inherit project\'s environment variables and secrets" is ticked when it is created (in the API and '
        "in pipeline nodes: inherit_environment_variables: true); deployment versions need the same.",
        initial=DEFAULT_VARIABLE,
    )


def _owner(project: dict[str, Any]) -> tuple[str | None, str | None]:
    """(owner name, owner id) of a project as far as it shows them: ``owner`` as ``{id, username}`` or a bare id;
    without a username, the owner segment of ``urls.display`` (``…/p/<owner>/<project>/``)."""
    owner = project.get("owner")
    name: str | None = None
    owner_id: str | None = None
    if isinstance(owner, dict):
        name = str(owner["username"]) if owner.get("username") else None
        owner_id = str(owner["id"]) if owner.get("id") is not None else None
    elif isinstance(owner, (int, str)) and not isinstance(owner, bool) and str(owner):
        owner_id = str(owner)
    if name is None:
        display = str((project.get("urls") or {}).get("display") or "")
        found = _DISPLAY_OWNER.search(urlsplit(display).path) if display else None
        name = unquote(found.group(1)) if found else None
    return name, owner_id


def owned_by(projects: list[dict[str, Any]], org: dict[str, Any]) -> dict[str, str]:
    """uuid → name of the projects among ``projects`` that ``org`` owns. A project whose owner name is known
    matches on the name (case-insensitively) alone: the owner's id need not be the organization's id. A project
    showing only an owner id matches when that id is the organization's, or the owner id of a project matched by
    name in the same listing."""
    wanted = str(org["name"]).lower()
    owners = [(p, *_owner(p)) for p in projects if isinstance(p, dict) and p.get("id")]
    ids = {str(org["id"])} | {oid for _, name, oid in owners if oid and name and name.lower() == wanted}
    found: dict[str, str] = {}
    for project, name, owner_id in owners:
        if (name.lower() == wanted) if name else (owner_id in ids):
            found[str(project["id"])] = str(project.get("name") or project["id"])
    return found


class ValohaiAdapter(Adapter):
    """Delivers a feed's credentialed index URL into a Valohai organization as a secret environment variable."""

    kind = "valohai"
    label = "Valohai organization"
    auth = (AuthSpec("token", "API token", secret="token", secret_label="Token"),)
    default_url = "https://app.valohai.com"
    url_help = "Leave empty for https://app.valohai.com."
    TargetConfig = ValohaiTarget
    DeliveryConfig = ValohaiDelivery
    modes = {
        "project_variable": ModeSpec(
            "project_variable",
            "Secret project environment variable",
            ("projects", "variable"),
            help="A secret environment variable in each project. Valohai passes project variables only to runs "
            'created with "Inherit project\'s environment variables and secrets" ticked '
            "(inherit_environment_variables in the API); a run without it does not see the index URL. "
            "Feedkeeper cannot check this from the API.",
        ),
        "organization_group": ModeSpec(
            "organization_group", "Organization environment-variable group", ("projects", "variable"), experimental=True
        ),
    }

    # --- validation -----------------------------------------------------------------------------------
    @classmethod
    def clean_target(cls, data: dict[str, Any]) -> dict[str, Any]:
        """The organization's name is required (org-scoped calls use its numeric id, resolved by ``describe``);
        there is no client id."""
        organization = str(data.get("organization") or "").strip()
        if not organization:
            raise ValidationError({"organization": "Enter the Valohai organization's name."})
        return {**data, "organization": organization}

    @classmethod
    def clean_delivery(cls, data: dict[str, Any]) -> dict[str, Any]:
        """``projects`` (uuids or ``["*"]``) and ``variable`` (default ``PRIVATE_PYPI_INDEX_URL``); Databricks
        ``location`` is ``projects:<uuids or *>:<VAR>`` or ``group:feedkeeper-<var>``."""
        errors: dict[str, str] = {}
        variable = str(data.get("variable") or DEFAULT_VARIABLE).strip()
        if not _VARIABLE.match(variable) or len(variable) > 128:
            errors["variable"] = "Use letters, digits, '_' or '-' (at most 128), as Valohai requires."
        projects: list[str] = []
        try:
            projects = _project_ids(data.get("projects"))
        except ValueError as exc:
            errors["projects"] = str(exc)
        if errors:
            raise ValidationError(errors)
        mode = data["mode"]
        return {
            "mode": mode,
            "role": data.get("role", "index"),
            "projects": projects,
            "variable": variable,
            "location": _location(mode, projects, variable),
        }

    @classmethod
    def delivery_rows(cls, delivery: Any) -> list[tuple[str, Any]]:
        cfg = delivery.cfg
        projects = "every project of the organization" if cfg.projects == [EVERY_PROJECT] else ", ".join(cfg.projects)
        return [("Projects", projects), ("Variable", cfg.variable)]

    # --- plumbing -------------------------------------------------------------------------------------
    def client(self) -> ValohaiClient:
        return ValohaiClient(url=self.target.url, token=self.target.reveal_credential())

    def organization(self, api: ValohaiClient) -> dict[str, Any]:
        """``{"id": int, "name": str}`` of the target's organization, matched by name (case-insensitively) or,
        after a rename on Valohai, by the stored id. Permanent error when the token's user cannot see it, or when
        the installation does not list organizations at all (``organizations/`` answers 404 or 405)."""
        wanted, stored_id = (
            self.target.cfg.organization.lower(),
            str((self.target.info or {}).get("organization_id") or ""),
        )
        by_id = None
        try:
            for org in api.paginate("organizations/"):
                if not isinstance(org, dict) or "id" not in org:
                    continue
                if str(org.get("name", "")).lower() == wanted:
                    return {"id": int(org["id"]), "name": str(org["name"])}
                if stored_id and str(org.get("id")) == stored_id:
                    by_id = {"id": int(org["id"]), "name": str(org.get("name") or org["id"])}
        except ValohaiError as exc:
            if exc.status not in (404, 405):
                raise
            raise AdapterError(
                f"This Valohai installation does not list organizations (GET {API_PREFIX}organizations/ answered "
                f"HTTP {exc.status}), so Feedkeeper cannot resolve the organization "
                f"{self.target.cfg.organization!r}. Check the target URL, or ask the installation's administrators "
                "whether the organizations API is enabled.",
                permanent=True,
                status=exc.status,
            ) from None
        if by_id is not None:
            return by_id
        raise AdapterError(
            f"The organization {self.target.cfg.organization!r} is not visible to this token's user.", permanent=True
        )

    @classmethod
    def conflicts(cls, cleaned: dict[str, Any], other: Any) -> bool:
        """Two project deliveries conflict when they write the same variable in a common project (``*`` covers
        every project); a group delivery conflicts with another group delivery of the same variable."""
        if cleaned["location"] == other.location:
            return True
        if cleaned["mode"] != other.mode or cleaned["variable"].lower() != other.cfg.variable.lower():
            return False
        if cleaned["mode"] != "project_variable":
            return False
        mine, theirs = set(cleaned["projects"]), set(other.cfg.projects)
        return "*" in mine or "*" in theirs or bool(mine & theirs)

    def organization_projects(self, api: ValohaiClient, org: dict[str, Any]) -> dict[str, str]:
        """uuid → name of every project the organization owns. Projects are listed for the whole user (no owner
        filter is documented) and matched here on their ``owner``, which is a user-like ``{id, username}`` object
        or, in valohai-cli's own test fixtures, a bare id (docs/platforms.md §2.2). See :func:`owned_by`."""
        return owned_by(list(api.paginate("projects/")), org)

    def targeted_projects(self, api: ValohaiClient, delivery: Any) -> dict[str, str]:
        """uuid → name (as last known) of the projects the delivery covers now."""
        if delivery.cfg.projects == [EVERY_PROJECT]:
            return self.organization_projects(api, self.organization(api))
        known = delivery.state.get("projects") or {}
        return {pid: str((known.get(pid) or {}).get("name") or pid) for pid in delivery.cfg.projects}

    @classmethod
    def places(cls, delivery: Any) -> list[Place]:
        """Each project (or the group) with the fingerprint Feedkeeper pushed there; runs read the variable when
        they start, so nothing needs a restart."""
        projects = delivery.state.get("projects") or {}
        if not projects:
            return [Place(delivery.location, delivery.delivered_fingerprint)]
        return [
            Place(
                f"project {(p or {}).get('name') or pid} variable {delivery.cfg.variable}",
                str((p or {}).get("fingerprint") or ""),
            )
            for pid, p in sorted(projects.items(), key=lambda item: str((item[1] or {}).get("name") or item[0]))
        ]

    @staticmethod
    def covered(delivery: Any) -> set[str]:
        """Projects that hold the delivered value according to ``delivery.state``."""
        return {pid for pid, s in (delivery.state.get("projects") or {}).items() if s.get("status") == DELIVERED}

    # --- contract -------------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """``{"organization_id": "<id>", "organization": name, "projects": [{"id", "name"}, …]}``; the
        service stores the id on the target and the rest in ``Target.info``."""
        api = self.client()
        org = self.organization(api)
        projects = self.organization_projects(api, org)
        return {
            "organization_id": str(org["id"]),
            "organization": org["name"],
            "projects": [{"id": pid, "name": name} for pid, name in sorted(projects.items(), key=lambda p: p[1])],
        }

    def push(self, delivery: Any, value: str, *, restart_consent: bool) -> PushResult:
        """Put ``value`` as the secret ``delivery.cfg.variable`` in every targeted project (or in the organization
        group). Idempotent; per-project outcomes go in ``detail["projects"]`` (also on a failure, through
        ``AdapterError.detail``). ``restart_consent`` is unused: nothing restarts on Valohai."""
        api = self.client()
        api.add_secret(value)
        every = delivery.cfg.projects == [EVERY_PROJECT]
        if delivery.mode == "organization_group":
            org = self.organization(api)
            projects = self.organization_projects(api, org) if every else self.targeted_projects(api, delivery)
            return push_group(api, delivery, org["id"], projects, value)
        projects = self.targeted_projects(api, delivery)
        result = push_projects(api, delivery, projects, value, every_project=every)
        if every and not projects:
            result.notes.append(f"The organization {self.target.cfg.organization} has no projects yet.")
        return result

    def verify(self, delivery: Any, result: PushResult) -> PushResult:
        """Read the places back: the name is present with ``secret: true`` (values are never returned)."""
        api = self.client()
        if delivery.mode == "organization_group":
            return verify_group(api, delivery, self.organization(api)["id"], result)
        return verify_projects(api, delivery, result)

    def needs_push(self, delivery: Any) -> bool:
        """True when a project the delivery should cover (for ``["*"]``: any project of the organization,
        including ones created since) is not yet covered according to ``delivery.state``."""
        return bool(self.deliveries_needing_push([delivery]))

    def deliveries_needing_push(self, deliveries: list[Any]) -> list[int]:
        """The ids of the deliveries with a project not yet covered. The organization and its projects are
        listed once for all the ``["*"]`` deliveries (none at all when every delivery lists its projects)."""
        org_projects: set[str] = set()
        if any(d.cfg.projects == [EVERY_PROJECT] for d in deliveries):
            api = self.client()
            org_projects = set(self.organization_projects(api, self.organization(api)))
        due = []
        for delivery in deliveries:
            wanted = org_projects if delivery.cfg.projects == [EVERY_PROJECT] else set(delivery.cfg.projects)
            if wanted - self.covered(delivery):
                due.append(delivery.pk)
        return due

    def check_health(self, deliveries: list[Any]) -> list[HealthResult]:
        """Token, organization, each delivery's places, coverage, last push per project, and the feeds."""
        return check_health(self, deliveries)

    def scan(self) -> list[Any]:
        """Non-secret project and group variables (see :mod:`targets.adapters.valohai_scan`)."""
        from targets.adapters.valohai_scan import scan_organization

        return scan_organization(self, self.client())
