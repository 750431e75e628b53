"""Roles are groups created by a migration; each includes the ones below it; superusers are admins."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Group, User

from core.roles import ADMIN, OPERATOR, VIEWER, has_role, role_of


def test_the_role_groups_exist_after_migrations(db: None) -> None:
    assert set(Group.objects.values_list("name", flat=True)) >= {"viewer", "operator", "admin"}


@pytest.mark.parametrize(
    ("fixture", "role", "holds"),
    [
        ("viewer", VIEWER, {VIEWER}),
        ("operator", OPERATOR, {VIEWER, OPERATOR}),
        ("admin", ADMIN, {VIEWER, OPERATOR, ADMIN}),
        ("outsider", None, set()),
    ],
)
def test_each_role_includes_the_ones_below_it(
    request: pytest.FixtureRequest, fixture: str, role: str | None, holds: set[str]
) -> None:
    user = request.getfixturevalue(fixture)
    assert role_of(user) == role
    assert {r for r in (VIEWER, OPERATOR, ADMIN) if has_role(user, r)} == holds


def test_a_superuser_counts_as_admin(db: None) -> None:
    assert role_of(User.objects.create_superuser("root", "r@example.com", "pw")) == ADMIN


def test_the_highest_group_wins(viewer: User) -> None:
    viewer.groups.add(Group.objects.get(name="admin"))
    assert role_of(User.objects.get(pk=viewer.pk)) == ADMIN


def test_anonymous_and_inactive_users_hold_no_role(admin: User) -> None:
    admin.is_active = False
    assert role_of(AnonymousUser()) is None and role_of(admin) is None and role_of(None) is None
