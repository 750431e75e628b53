"""Records, errors and field validation shared by the Valohai simulator's state (DRF-shaped, docs/platforms.md §2.5)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

VALID_NAME_RE = re.compile(r"^[a-z0-9_-]+$", re.I)
NOT_FOUND = {"detail": "Not found."}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
REQUIRED = "This field is required."
# The default wording of the refusal of an existing env var name; the real wording is unknown (§2.3).
EXISTS_MESSAGE = "An environment variable with this name already exists."
EXISTS_STATUSES = (400, 409)
PROJECT_OWNERS = ("object", "id")
# With ``distinct_owner_ids`` a project's owner id is the organization's id plus this.
OWNER_ID_OFFSET = 1000
# 1 and 0 also match True and False.
TRUE_VALUES = {"t", "T", "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "1", 1}
FALSE_VALUES = {"f", "F", "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "0", 0}


class ApiError(Exception):
    """An API failure with the status and DRF-shaped body to send."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


def check_exists_status(status: int) -> int:
    """The refusal status of an existing env var name: 400 or 409."""
    if status not in EXISTS_STATUSES:
        raise ValueError(f"exists_status must be 400 or 409; got {status!r}")
    return int(status)


def check_project_owner(style: str) -> str:
    """How projects render their owner: ``"object"`` or ``"id"``."""
    if style not in PROJECT_OWNERS:
        raise ValueError(f"project_owner must be one of {', '.join(PROJECT_OWNERS)}; got {style!r}")
    return style


def now_iso() -> str:
    """Current UTC time the way DRF renders it: ``2024-05-01T12:00:00.123456Z``."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class User:
    """A Valohai user; tokens map to it."""

    id: int
    username: str
    tokens: set[str] = field(default_factory=set)

    def public(self) -> dict[str, Any]:
        """The ``users/me/`` body."""
        return {
            "id": self.id,
            "username": self.username,
            "email": f"{self.username}@example.test",
            "is_staff": False,
            "organizations": [],
        }


@dataclass
class Organization:
    """An organization; ``admins`` may edit its env-var groups, ``members`` may read them."""

    id: int
    name: str
    members: set[str]
    admins: set[str]


@dataclass
class Project:
    """A project owned by an organization, holding its environment variables with their values."""

    id: str
    name: str
    org_id: int
    ctime: str
    mtime: str
    env: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Group:
    """An organization environment-variable group."""

    id: str
    org_id: int
    name: str
    variables: list[dict[str, Any]]
    projects: list[str]
    ctime: str
    mtime: str


def _bool(value: Any) -> bool:
    try:
        if value in TRUE_VALUES:
            return True
        if value in FALSE_VALUES:
            return False
    except TypeError:  # unhashable, e.g. a list
        pass
    raise ValueError("Must be a valid boolean.")


def _string(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError("Not a valid string.")
    return str(value)


def validate_variable(
    data: Any, *, previous: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Validate one ``{"name","value","secret"}`` item like a DRF serializer; return (clean, errors).

    A missing or null ``value`` is accepted only when ``previous`` (the stored secret of the same name) exists;
    it then keeps the stored value, so a read-modify-write of a group does not wipe secrets it could not read.
    """
    if not isinstance(data, dict):
        return {}, {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {type(data).__name__}."]}
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    name = data.get("name")
    if name is None or name == "":
        errors["name"] = [REQUIRED if name is None else "This field may not be blank."]
    elif not isinstance(name, str) or not VALID_NAME_RE.match(name):
        errors["name"] = ["Enter a valid name."]
    else:
        clean["name"] = name
    if "value" not in data or data["value"] is None:
        if previous is not None and previous.get("secret"):
            clean["value"] = previous["value"]
        else:
            errors["value"] = [REQUIRED if "value" not in data else "This field may not be null."]
    else:
        try:
            clean["value"] = _string(data["value"])
        except ValueError as exc:
            errors["value"] = [str(exc)]
    try:
        clean["secret"] = _bool(data.get("secret", False))
    except ValueError as exc:
        errors["secret"] = [str(exc)]
    return clean, errors


def natural_key(name: str) -> tuple[int | str, ...]:
    """Sort ``project-2`` before ``project-10``."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))
