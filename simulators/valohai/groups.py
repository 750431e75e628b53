"""Organization environment-variable groups (the guessed DRF viewset of docs/platforms.md §2.4)."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from .model import (
    FORBIDDEN,
    NOT_FOUND,
    REQUIRED,
    ApiError,
    Group,
    Organization,
    Project,
    User,
    now_iso,
    validate_variable,
)


class GroupStore:
    """Mixin for :class:`~simulators.valohai.state.State`: group CRUD with DRF-style validation."""

    lock: threading.RLock
    orgs: dict[int, Organization]
    projects: dict[str, Project]
    groups: dict[str, Group]

    def visible_orgs(self, user: User) -> list[Organization]:  # implemented by State
        raise NotImplementedError

    def _allowed(self, user: User | None, org_id: int, role: str = "members") -> bool:
        """``user=None`` is the simulator itself (seeding): always allowed."""
        return user is None or user.username in getattr(self.orgs[org_id], role)

    def list_groups(self, user: User, organization: str | None) -> list[Group]:
        """Groups of the user's organizations, optionally only those of ``organization`` (an id)."""
        with self.lock:
            ids = {o.id for o in self.visible_orgs(user)}
            found = [g for g in self.groups.values() if g.org_id in ids]
            if organization not in (None, ""):
                found = [g for g in found if str(g.org_id) == str(organization)]
            return sorted(found, key=lambda g: (g.ctime, g.id))

    def group_for(self, user: User | None, group_id: str) -> Group:
        """The group if ``user`` is a member of its organization; else 404."""
        with self.lock:
            group = self.groups.get(group_id)
            if group is None or not self._allowed(user, group.org_id):
                raise ApiError(404, NOT_FOUND)
            return group

    def save_group(self, user: User | None, data: Any, group_id: str | None = None, *, partial: bool = False) -> Group:
        """Create (``group_id=None``), replace (PUT) or patch (``partial``) a group after DRF-style validation.

        ``user=None`` skips membership and admin checks (used to seed groups from Python).
        """
        with self.lock:
            existing = self.group_for(user, group_id) if group_id else None
            if existing is not None and not self._allowed(user, existing.org_id, "admins"):
                raise ApiError(403, FORBIDDEN)
            if not isinstance(data, dict):
                raise ApiError(
                    400, {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {type(data).__name__}."]}
                )
            errors: dict[str, Any] = {}
            org_id = self._clean_group_org(user, data, existing, partial, errors)
            name = self._clean_group_name(data, existing, partial, errors)
            variables = self._clean_group_variables(data, existing, partial, errors)
            projects = self._clean_group_projects(data, existing, partial, org_id, errors)
            if errors:
                raise ApiError(400, errors)
            assert org_id is not None and name is not None
            if not self._allowed(user, org_id, "admins"):
                raise ApiError(403, FORBIDDEN)
            if any(g.org_id == org_id and g.name == name and g is not existing for g in self.groups.values()):
                raise ApiError(400, {"non_field_errors": ["The fields organization, name must make a unique set."]})
            stamp = now_iso()
            if existing is None:
                existing = Group(
                    id=str(uuid.uuid4()),
                    org_id=org_id,
                    name=name,
                    variables=variables,
                    projects=projects,
                    ctime=stamp,
                    mtime=stamp,
                )
                self.groups[existing.id] = existing
            else:
                existing.org_id, existing.name, existing.variables = org_id, name, variables
                existing.projects, existing.mtime = projects, stamp
            return existing

    def _clean_group_org(
        self, user: User | None, data: dict[str, Any], existing: Group | None, partial: bool, errors: dict[str, Any]
    ) -> int | None:
        if "organization" not in data:
            if existing is not None and partial:
                return existing.org_id
            errors["organization"] = [REQUIRED]
            return None
        raw = data["organization"]
        if isinstance(raw, bool) or not isinstance(raw, (int, str)) or not str(raw).isdigit():
            errors["organization"] = [f"Incorrect type. Expected pk value, received {type(raw).__name__}."]
            return None
        org = self.orgs.get(int(raw))
        if org is None or not self._allowed(user, org.id):
            errors["organization"] = [f'Invalid pk "{raw}" - object does not exist.']
            return None
        return org.id

    @staticmethod
    def _clean_group_name(
        data: dict[str, Any], existing: Group | None, partial: bool, errors: dict[str, Any]
    ) -> str | None:
        if "name" not in data:
            if existing is not None and partial:
                return existing.name
            errors["name"] = [REQUIRED]
            return None
        if not isinstance(data["name"], str) or not data["name"].strip():
            errors["name"] = ["This field may not be blank."]
            return None
        return data["name"]

    @staticmethod
    def _clean_group_variables(
        data: dict[str, Any], existing: Group | None, partial: bool, errors: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if "variables" not in data:
            return [dict(v) for v in existing.variables] if existing is not None and partial else []
        raw = data["variables"]
        if not isinstance(raw, list):
            errors["variables"] = {
                "non_field_errors": [f'Expected a list of items but got type "{type(raw).__name__}".']
            }
            return []
        previous = {v["name"]: v for v in existing.variables} if existing is not None else {}
        cleaned: list[dict[str, Any]] = []
        item_errors: list[dict[str, list[str]]] = []
        for item in raw:
            name = item.get("name") if isinstance(item, dict) else None
            clean, err = validate_variable(item, previous=previous.get(name) if isinstance(name, str) else None)
            cleaned.append(clean)
            item_errors.append(err)
        if any(item_errors):
            errors["variables"] = item_errors
        elif len({v["name"] for v in cleaned}) != len(cleaned):
            errors["variables"] = {"non_field_errors": ["Variable names must be unique within a group."]}
        return cleaned

    def _clean_group_projects(
        self, data: dict[str, Any], existing: Group | None, partial: bool, org_id: int | None, errors: dict[str, Any]
    ) -> list[str]:
        if "projects" not in data:
            return list(existing.projects) if existing is not None and partial else []
        raw = data["projects"]
        if not isinstance(raw, list):
            errors["projects"] = [f'Expected a list of items but got type "{type(raw).__name__}".']
            return []
        for pid in raw:
            project = self.projects.get(str(pid))
            if project is None or (org_id is not None and project.org_id != org_id):
                errors["projects"] = [f'Invalid pk "{pid}" - object does not exist.']
                return []
        return [str(pid) for pid in dict.fromkeys(raw)]

    def delete_group(self, user: User, group_id: str) -> None:
        """``DELETE <group_path><id>/``: org admins only."""
        with self.lock:
            group = self.group_for(user, group_id)
            if not self._allowed(user, group.org_id, "admins"):
                raise ApiError(403, FORBIDDEN)
            del self.groups[group_id]

    def group(self, group_id: str) -> dict[str, Any] | None:
        """A group with its secret values (for tests)."""
        with self.lock:
            group = self.groups.get(group_id)
            if group is None:
                return None
            return {
                "id": group.id,
                "organization": group.org_id,
                "name": group.name,
                "variables": [dict(v) for v in group.variables],
                "projects": list(group.projects),
            }

    def render_group(self, group: Group, base: str, group_path: str) -> dict[str, Any]:
        """A group as the (guessed) group endpoint shows it: secret values are null."""
        return {
            "id": group.id,
            "url": f"{base}{group_path}{group.id}/",
            "organization": group.org_id,
            "name": group.name,
            "variables": [
                {"name": v["name"], "value": None if v["secret"] else v["value"], "secret": v["secret"]}
                for v in group.variables
            ],
            "projects": list(group.projects),
            "ctime": group.ctime,
            "mtime": group.mtime,
        }
