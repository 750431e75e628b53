"""What has no service of its own is audited too: denied pages and API calls, bad API tokens, logouts, user and
role changes, changes made in /admin/; the client address honours only trusted proxies."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.test import Client, RequestFactory, override_settings
from rest_framework.test import APIClient

from audit.context import client_ip
from audit.models import AuditEvent
from tests.support.mfa import verify_session

Login = Callable[[User], Client]


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


def test_a_page_refused_with_403_is_recorded(login: Login, outsider: User) -> None:
    assert login(outsider).get("/audit/").status_code == 403
    event = AuditEvent.objects.get(action="page.forbidden")
    assert (event.actor_id, event.outcome, event.object_repr) == (outsider.pk, "denied", "GET /audit/")
    assert event.detail["ip"] == "127.0.0.1" and event.detail["path"] == "/audit/"


def test_an_api_call_refused_with_403_is_recorded(api: Callable[[User], APIClient], viewer: User) -> None:
    assert api(viewer).post("/api/v1/feeds/", {"name": "x"}, format="json").status_code == 403
    event = AuditEvent.objects.get(action="api.forbidden")
    assert (event.actor_name, event.outcome, event.detail["method"]) == ("vera-viewer", "denied", "POST")


def test_a_bad_api_token_is_recorded_without_the_token_and_not_flooded(db: None) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer fk_guessed-token-123456")
    for _ in range(5):
        assert client.get("/api/v1/feeds/").status_code == 401
    assert APIClient().get("/api/v1/targets/").status_code == 401
    events = AuditEvent.objects.filter(action="api.unauthorized").order_by("id")
    assert [e.detail["path"] for e in events] == ["/api/v1/feeds/", "/api/v1/targets/"]
    assert events[0].outcome == "denied" and events[0].actor_name == "anonymous"
    assert "guessed-token" not in str(list(events.values()))


def test_a_logout_is_recorded(login: Login, viewer: User) -> None:
    login(viewer).post("/logout/")
    event = AuditEvent.objects.get(action="logout")
    assert (event.actor_id, event.object_type, event.object_id) == (viewer.pk, "user", str(viewer.pk))


def test_user_changes_are_recorded_with_before_and_after_and_never_the_password(db: None) -> None:
    user = User.objects.create_user("newbie", password="first-password-1")
    assert AuditEvent.objects.filter(action="user.create", object_id=str(user.pk)).exists()
    user.email, user.is_active = "n@example.com", False
    user.set_password("second-password-2")
    user.save()
    event = AuditEvent.objects.get(action="user.update", object_id=str(user.pk))
    assert event.detail["changed"] == {
        "email": ["", "n@example.com"],
        "is_active": [True, False],
        "password": "changed",
    }
    pk = user.pk
    user.delete()
    assert AuditEvent.objects.filter(action="user.delete", object_id=str(pk)).exists()
    assert "password-" not in str(list(AuditEvent.objects.values()))


def test_a_login_does_not_record_a_user_change(client: Client, viewer: User) -> None:
    from tests.conftest import PASSWORD

    client.post("/login/", {"username": viewer.username, "password": PASSWORD})
    assert not AuditEvent.objects.filter(action="user.update").exists()


def test_role_changes_are_recorded_from_either_side(db: None) -> None:
    user = User.objects.create_user("promoted")
    operator = Group.objects.get_or_create(name="operator")[0]
    user.groups.add(operator)
    operator.user_set.remove(user)
    user.groups.add(operator)
    user.groups.clear()
    events = AuditEvent.objects.filter(object_id=str(user.pk), action__startswith="user.group_").order_by("id")
    assert [(e.action, e.detail["group"]) for e in events] == [
        ("user.group_add", "operator"),
        ("user.group_remove", "operator"),
        ("user.group_add", "operator"),
        ("user.group_remove", "operator"),
    ]
    Group.objects.create(name="auditors").delete()
    assert AuditEvent.objects.filter(action__in=["group.create", "group.delete"]).count() == 2


def test_a_change_made_in_the_admin_is_recorded_with_its_actor(db: None) -> None:
    boss = User.objects.create_superuser("boss", password="boss-password-1")
    client = Client()
    client.force_login(boss)
    verify_session(client, boss)  # a superuser passes the second factor first
    response = client.post("/admin/auth/group/add/", {"name": "made-in-admin"})
    assert response.status_code == 302
    group = Group.objects.get(name="made-in-admin")
    admin_event = AuditEvent.objects.get(action="admin.add")
    assert (admin_event.actor_id, admin_event.object_type, admin_event.object_id) == (boss.pk, "group", str(group.pk))
    assert admin_event.detail["via"] == "admin"
    created = AuditEvent.objects.get(action="group.create", object_id=str(group.pk))
    assert created.actor_id == boss.pk


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_the_client_address_comes_from_a_trusted_proxy_only() -> None:
    factory = RequestFactory()
    forwarded = {"HTTP_X_FORWARDED_FOR": "203.0.113.9, 198.51.100.7, 10.1.1.1"}
    assert client_ip(factory.get("/", REMOTE_ADDR="10.0.0.2", **forwarded)) == "198.51.100.7"
    assert client_ip(factory.get("/", REMOTE_ADDR="192.0.2.5", **forwarded)) == "192.0.2.5"
    assert client_ip(factory.get("/", REMOTE_ADDR="10.0.0.2")) == "10.0.0.2"
    garbled = {"HTTP_X_FORWARDED_FOR": "203.0.113.9, not-an-ip"}
    assert client_ip(factory.get("/", REMOTE_ADDR="10.0.0.2", **garbled)) == "10.0.0.2"
    only_proxies = {"HTTP_X_FORWARDED_FOR": "10.9.9.9"}
    assert client_ip(factory.get("/", REMOTE_ADDR="10.0.0.2", **only_proxies)) == "10.9.9.9"


@override_settings(TRUSTED_PROXIES=["127.0.0.1"])
def test_a_login_behind_a_trusted_proxy_records_the_forwarded_address(client: Client, viewer: User) -> None:
    from tests.conftest import PASSWORD

    client.post("/login/", {"username": viewer.username, "password": PASSWORD}, HTTP_X_FORWARDED_FOR="198.51.100.20")
    assert AuditEvent.objects.get(action="login").detail["ip"] == "198.51.100.20"


def test_a_forwarded_address_from_an_untrusted_client_is_ignored(client: Client, viewer: User) -> None:
    from tests.conftest import PASSWORD

    client.post("/login/", {"username": viewer.username, "password": PASSWORD}, HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert AuditEvent.objects.get(action="login").detail["ip"] == "127.0.0.1"


def test_a_bulk_delete_in_the_admin_is_recorded_for_each_row(db: None) -> None:
    boss = User.objects.create_superuser("boss", password="boss-password-1")
    doomed = [Group.objects.create(name=f"doomed-{i}") for i in range(2)]
    client = Client()
    client.force_login(boss)
    verify_session(client, boss)  # a superuser passes the second factor first
    response = client.post(
        "/admin/auth/group/",
        {"action": "delete_selected", "_selected_action": [g.pk for g in doomed], "post": "yes"},
    )
    assert response.status_code == 302 and not Group.objects.filter(name__startswith="doomed-").exists()
    deleted = AuditEvent.objects.filter(action="admin.delete", object_type="group").order_by("object_id")
    assert [(e.object_id, e.actor_id) for e in deleted] == [(str(g.pk), boss.pk) for g in doomed]
