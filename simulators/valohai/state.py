"""In-memory state of the Valohai simulator: users, organizations, projects and their env vars.

Every public method takes the single state lock. Methods that model an API call raise :class:`ApiError`
carrying the exact DRF-shaped status and body the real API would send (docs/platforms.md §2.3-2.5).
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from .groups import GroupStore
from .model import (
    EXISTS_MESSAGE,
    NOT_FOUND,
    OWNER_ID_OFFSET,
    REQUIRED,
    ApiError,
    Group,
    Organization,
    Project,
    User,
    check_exists_status,
    check_project_owner,
    natural_key,
    now_iso,
    validate_variable,
)


class State(GroupStore):
    """All simulator data behind one re-entrant lock (shared with the fault table and request log)."""

    def __init__(
        self,
        lock: threading.RLock | None = None,
        *,
        overwrite_existing: bool = False,
        exists_status: int = 400,
        exists_message: str = EXISTS_MESSAGE,
        project_owner: str = "object",
        distinct_owner_ids: bool = False,
        list_organizations: bool = True,
    ) -> None:
        self.lock = lock or threading.RLock()
        # Whether a POST of an existing env var name overwrites it; undocumented on the real service (§2.3), so
        # the refusing variant is the default and its status (400 or 409) and wording are configurable.
        self.overwrite_existing = overwrite_existing
        self.exists_status = check_exists_status(exists_status)
        self.exists_message = exists_message
        # How a project shows its owner: "object" ({id, username}) or "id" (a bare number, as in valohai-cli's
        # test fixtures); with distinct_owner_ids the owner's id is not the organization's id.
        self.project_owner = check_project_owner(project_owner)
        self.distinct_owner_ids = distinct_owner_ids
        # False: GET organizations/ answers 404, like an installation that does not list organizations.
        self.list_organizations = list_organizations
        self.users: dict[str, User] = {}
        self.tokens: dict[str, str] = {}
        self.orgs: dict[int, Organization] = {}
        self.projects: dict[str, Project] = {}
        self.groups: dict[str, Group] = {}
        self._next_id = 1

    # ---- seeding -------------------------------------------------------------------------------------------

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def add_user(self, token: str, username: str) -> User:
        """Create ``username`` (or reuse it) and make ``token`` authenticate as it."""
        with self.lock:
            user = self.users.get(username)
            if user is None:
                user = self.users[username] = User(id=self._new_id(), username=username)
            user.tokens.add(token)
            self.tokens[token] = username
            return user

    def add_organization(
        self, name: str, members: list[str] | None = None, admins: list[str] | None = None
    ) -> Organization:
        """Create an organization; ``members=None`` means every user known now; admins default to members."""
        with self.lock:
            if any(o.name == name for o in self.orgs.values()):
                raise ApiError(400, {"name": ["An organization with this name already exists."]})
            member_set = set(self.users) if members is None else set(members)
            admin_set = set(member_set) if admins is None else set(admins)
            org = Organization(id=self._new_id(), name=name, members=member_set | admin_set, admins=admin_set)
            self.orgs[org.id] = org
            return org

    def org(self, ref: int | str) -> Organization:
        """Find an organization by numeric id or name."""
        with self.lock:
            for org in self.orgs.values():
                if org.name == ref or org.id == ref or str(org.id) == str(ref):
                    return org
        raise ApiError(400, {"org": [f"No organization {ref!r}."]})

    def add_project(self, org: int | str, name: str) -> Project:
        """Create a project owned by ``org`` (name or id)."""
        with self.lock:
            owner = self.org(org)
            if not name or any(p.name == name and p.org_id == owner.id for p in self.projects.values()):
                raise ApiError(400, {"name": ["Project with this owner and name already exists."]})
            stamp = now_iso()
            project = Project(id=str(uuid.uuid4()), name=name, org_id=owner.id, ctime=stamp, mtime=stamp)
            self.projects[project.id] = project
            return project

    # ---- authentication and visibility ---------------------------------------------------------------------

    def authenticate(self, header: str | None) -> User:
        """Resolve an ``Authorization`` header to a user, or raise the DRF TokenAuthentication 401."""
        parts = (header or "").split()
        if not parts or parts[0].lower() != "token":
            raise ApiError(401, {"detail": "Authentication credentials were not provided."})
        if len(parts) == 1:
            raise ApiError(401, {"detail": "Invalid token header. No credentials provided."})
        if len(parts) > 2:
            raise ApiError(401, {"detail": "Invalid token header. Token string should not contain spaces."})
        with self.lock:
            username = self.tokens.get(parts[1])
            if username is None:
                raise ApiError(401, {"detail": "Invalid token."})
            return self.users[username]

    def visible_orgs(self, user: User) -> list[Organization]:
        """Organizations ``user`` is a member of, by id."""
        with self.lock:
            return sorted((o for o in self.orgs.values() if user.username in o.members), key=lambda o: o.id)

    def visible_projects(self, user: User) -> list[Project]:
        """Projects of the user's organizations, ordered by organization then name."""
        with self.lock:
            ids = {o.id for o in self.visible_orgs(user)}
            found = [p for p in self.projects.values() if p.org_id in ids]
            return sorted(found, key=lambda p: (p.org_id, natural_key(p.name)))

    def project_for(self, user: User, project_id: str) -> Project:
        """The project if it exists and ``user`` may see it; else 404 like the real API."""
        with self.lock:
            project = self.projects.get(project_id)
            if project is None or user.username not in self.orgs[project.org_id].members:
                raise ApiError(404, NOT_FOUND)
            return project

    # ---- project environment variables ---------------------------------------------------------------------

    def put_env_var(self, user: User, project_id: str, data: Any) -> tuple[int, dict[str, Any]]:
        """``POST projects/{id}/environment_variable/``: 201 created, 200 overwritten (``overwrite_existing``), or
        the refusal of an existing name (``exists_status`` 400 or 409, worded ``exists_message``), or 400/404."""
        with self.lock:
            project = self.project_for(user, project_id)
            clean, errors = validate_variable(data)
            if errors:
                raise ApiError(400, errors)
            exists = clean["name"] in project.env
            if exists and not self.overwrite_existing:
                raise ApiError(self.exists_status, self.exists_body())
            project.env[clean["name"]] = {"value": clean["value"], "secret": clean["secret"]}
            return (200 if exists else 201), {"name": clean["name"], "secret": clean["secret"]}

    def exists_body(self) -> dict[str, Any]:
        """The refusal of an existing name: a DRF field error for 400, ``{"detail"}`` for 409."""
        if self.exists_status == 409:
            return {"detail": self.exists_message}
        return {"name": [self.exists_message]}

    def delete_env_var(self, user: User, project_id: str, data: Any) -> None:
        """``DELETE projects/{id}/environment_variable/`` with body ``{"name"}``: None (204) or 400/404."""
        with self.lock:
            project = self.project_for(user, project_id)
            name = data.get("name") if isinstance(data, dict) else None
            if not name:
                raise ApiError(400, {"name": [REQUIRED]})
            if name not in project.env:
                raise ApiError(404, NOT_FOUND)
            del project.env[name]

    def env_var(self, project_id: str, name: str) -> dict[str, Any] | None:
        """What was stored, value included (for tests)."""
        with self.lock:
            project = self.projects.get(project_id)
            if project is None or name not in project.env:
                return None
            return dict(project.env[name])

    # ---- rendering -----------------------------------------------------------------------------------------

    def render_org(self, org: Organization, base: str) -> dict[str, Any]:
        """An organization as ``GET organizations/`` lists it."""
        return {"id": org.id, "name": org.name, "url": f"{base}/api/v0/organizations/{org.id}/"}

    def owner_id(self, org: Organization) -> int:
        """The id a project shows for its owning organization (the organization's own id unless
        ``distinct_owner_ids``)."""
        return org.id + OWNER_ID_OFFSET if self.distinct_owner_ids else org.id

    def render_owner(self, org: Organization) -> Any:
        """A project's ``owner``: ``{id, username}`` or, with ``project_owner="id"``, the bare id."""
        if self.project_owner == "id":
            return self.owner_id(org)
        return {"id": self.owner_id(org), "username": org.name}

    def render_project(self, project: Project, base: str) -> dict[str, Any]:
        """A project as the API shows it: secret values are null."""
        with self.lock:
            org = self.orgs[project.org_id]
            env = {
                name: {"value": None if var["secret"] else var["value"], "secret": var["secret"]}
                for name, var in sorted(project.env.items())
            }
            return {
                "id": project.id,
                "name": project.name,
                "description": "",
                "owner": self.render_owner(org),
                "ctime": project.ctime,
                "mtime": project.mtime,
                "url": f"{base}/api/v0/projects/{project.id}/",
                "urls": {
                    "display": f"{base}/p/{org.name}/{project.name}/",
                    "display_repository": f"{base}/p/{org.name}/{project.name}/settings/repository/",
                },
                "read_only": False,
                "environment_variables": env,
                "execution_count": 0,
                "queued_execution_count": 0,
                "running_execution_count": 0,
                "last_execution_ctime": None,
                "enabled_endpoint_count": 0,
                "repository": None,
            }

    def dump(self) -> dict[str, Any]:
        """Everything, env var values included (``GET /_sim/state``)."""
        with self.lock:
            return {
                "overwrite_existing": self.overwrite_existing,
                "exists_status": self.exists_status,
                "exists_message": self.exists_message,
                "project_owner": self.project_owner,
                "distinct_owner_ids": self.distinct_owner_ids,
                "list_organizations": self.list_organizations,
                "users": [
                    {"id": u.id, "username": u.username, "tokens": sorted(u.tokens)} for u in self.users.values()
                ],
                "organizations": [
                    {"id": o.id, "name": o.name, "members": sorted(o.members), "admins": sorted(o.admins)}
                    for o in self.orgs.values()
                ],
                "projects": [
                    {
                        "id": p.id,
                        "name": p.name,
                        "organization": self.orgs[p.org_id].name,
                        "owner_id": p.org_id,
                        "environment_variables": {k: dict(v) for k, v in p.env.items()},
                    }
                    for p in self.projects.values()
                ],
                "groups": [self.group(gid) for gid in self.groups],
            }
