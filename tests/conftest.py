"""Shared fixtures: a cast of users (one per role, plus an outsider), logged-in clients, API clients."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from rest_framework.test import APIClient

from core.models import ApiToken

pytest_plugins = ["tests.support.pypi", "tests.support.worker"]

# Make official clients ignore anything the developer's shell may carry.
for _name in list(os.environ):
    if _name.startswith(("DATABRICKS_", "ARM_", "VALOHAI_")):
        del os.environ[_name]

PASSWORD = "correct horse battery staple"


def _user(username: str, role: str | None) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD, email=f"{username}@example.com")
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def admin(db: None) -> User:
    return _user("alice-admin", "admin")


@pytest.fixture
def operator(db: None) -> User:
    return _user("oscar-operator", "operator")


@pytest.fixture
def viewer(db: None) -> User:
    return _user("vera-viewer", "viewer")


@pytest.fixture
def outsider(db: None) -> User:
    """Logged in, but holding no role."""
    return _user("olga-outsider", None)


@pytest.fixture
def login() -> Callable[[User], Client]:
    def make(user: User) -> Client:
        """A client signed in as ``user``, past the second factor when the user's role needs one."""
        from accounts.mfa import mfa_required
        from tests.support.mfa import verify_session

        client = Client()
        client.force_login(user)
        if mfa_required(user):
            verify_session(client, user)
        return client

    return make


@pytest.fixture
def admin_client(admin: User, login: Callable[[User], Client]) -> Client:
    return login(admin)


@pytest.fixture
def api() -> Callable[[User], APIClient]:
    """An API client authenticated with a fresh bearer token of ``user``."""

    def make(user: User) -> APIClient:
        _, raw = ApiToken.issue(user=user, name="test")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    return make
