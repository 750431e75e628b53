"""Target, delivery and push pages: who may do what, what they show, what bad input gets, and that no credential
ever reaches a page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from feeds.models import Feed
from simulators.databricks import DatabricksSimulator
from targets import services
from targets.adapters.base import ModeSpec
from targets.adapters.databricks import DatabricksAdapter
from targets.models import Delivery, DeliveryStatus, Push, PushStatus, Target, TargetCheck

Login = Callable[[User], Client]

PAT = "dapi-sim-token"
NEW_PAT = "dapi-new-0b7c3e1f9a"
CLIENT_SECRET = "dose-client-secret-77e1"
WORKSPACE_URL = "https://adb-1234567890123456.7.azuredatabricks.net"


@pytest.fixture
def target(admin: User) -> Target:
    """A Databricks target nobody talks to (its first check stays pending: on-commit work does not run)."""
    return services.target_create(
        actor=admin, kind="databricks", name="ws-offline", url=WORKSPACE_URL, auth_type="pat", token=PAT
    )


@pytest.fixture
def delivery(admin: User, feed: Feed, target: Target) -> Delivery:
    return services.delivery_create(
        actor=admin,
        feed=feed,
        target=target,
        mode="secret",
        scope="feedkeeper",
        key="acme-index",
        clusters=["0101-000000-abc123"],
    )


def target_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "kind": "databricks",
        "name": "ws-new",
        "url": WORKSPACE_URL,
        "auth_type": "pat",
        "token": NEW_PAT,
        "client_id": "",
        "client_secret": "",
        "organization": "",
        "max_concurrency": "4",
    }
    data.update(overrides)
    return data


def delivery_data(feed: Feed, **overrides: Any) -> dict[str, Any]:
    data = {
        "feed": feed.pk,
        "mode": "secret",
        "role": "index",
        "scope": "team",
        "key": "pip-url",
        "clusters": "",
        "env_var": "",
        "policy_id": "",
        "projects": "",
        "variable": "",
    }
    data.update(overrides)
    return data


def body(response: Any) -> str:
    return response.content.decode()


# --- who may open what -------------------------------------------------------------------------------------------

# (url name, method, lowest role that may use it, what the url names)
PAGES = [
    ("list", "get", "viewer", None),
    ("create", "get", "admin", None),
    ("detail", "get", "viewer", "target"),
    ("edit", "get", "admin", "target"),
    ("delete", "get", "admin", "target"),
    ("check", "post", "operator", "target"),
    ("check-status", "get", "viewer", "check"),
    ("push-all", "post", "operator", "target"),
    ("delivery-create", "get", "admin", "target"),
    ("deliveries", "get", "viewer", None),
    ("delivery-detail", "get", "viewer", "delivery"),
    ("delivery-edit", "get", "admin", "delivery"),
    ("delivery-delete", "get", "admin", "delivery"),
    ("delivery-push", "post", "operator", "delivery"),
    ("push-row", "get", "viewer", "push"),
]
RANK = {"outsider": 0, "viewer": 1, "operator": 2, "admin": 3}


def page_url(name: str, names: str | None, delivery: Delivery) -> str:
    obj = {
        None: None,
        "target": delivery.target,
        "delivery": delivery,
        "check": delivery.target.checks.first(),
        "push": delivery.pushes.first(),
    }[names]
    return reverse(f"targets:{name}", args=[obj.pk] if obj else [])


@pytest.mark.parametrize(("name", "method", "needed", "names"), PAGES)
def test_every_targets_page_sends_anonymous_users_to_the_login_page(
    client: Client, delivery: Delivery, name: str, method: str, needed: str, names: str | None
) -> None:
    response = getattr(client, method)(page_url(name, names, delivery))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


@pytest.mark.parametrize("role", ["outsider", "viewer", "operator", "admin"])
@pytest.mark.parametrize(("name", "method", "needed", "names"), PAGES)
def test_every_targets_page_works_for_its_role_and_refuses_lower_roles_with_403(
    request: pytest.FixtureRequest,
    login: Login,
    delivery: Delivery,
    role: str,
    name: str,
    method: str,
    needed: str,
    names: str | None,
) -> None:
    client = login(request.getfixturevalue(role))
    response = getattr(client, method)(page_url(name, names, delivery))
    if RANK[role] >= RANK[needed]:
        assert response.status_code == (302 if method == "post" else 200)
        assert PAT not in body(response)
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("role", ["outsider", "viewer", "operator"])
def test_only_admins_may_add_edit_or_delete_targets_and_deliveries(
    request: pytest.FixtureRequest, login: Login, feed: Feed, delivery: Delivery, role: str
) -> None:
    client = login(request.getfixturevalue(role))
    target = delivery.target
    before = AuditEvent.objects.count()
    assert client.post(reverse("targets:create"), target_data()).status_code == 403
    assert client.post(reverse("targets:edit", args=[target.pk]), target_data(name="renamed")).status_code == 403
    assert client.post(reverse("targets:delete", args=[target.pk]), {"confirm_name": target.name}).status_code == 403
    url = reverse("targets:delivery-create", args=[target.pk])
    assert client.post(url, delivery_data(feed, key="other")).status_code == 403
    url = reverse("targets:delivery-edit", args=[delivery.pk])
    assert client.post(url, delivery_data(feed, key="moved")).status_code == 403
    assert client.post(reverse("targets:delivery-delete", args=[delivery.pk])).status_code == 403
    target.refresh_from_db()
    delivery.refresh_from_db()
    assert (Target.objects.count(), target.name, Delivery.objects.count(), delivery.cfg.key) == (
        1,
        "ws-offline",
        1,
        "acme-index",
    )
    assert AuditEvent.objects.exclude(outcome="denied").count() == before  # only the refusals are recorded


@pytest.mark.parametrize("role", ["outsider", "viewer"])
def test_viewers_and_outsiders_cannot_push_or_check(
    request: pytest.FixtureRequest, login: Login, delivery: Delivery, role: str
) -> None:
    client = login(request.getfixturevalue(role))
    pushes, checks = Push.objects.count(), TargetCheck.objects.count()
    assert client.post(reverse("targets:delivery-push", args=[delivery.pk])).status_code == 403
    assert client.post(reverse("targets:push-all", args=[delivery.target_id])).status_code == 403
    assert client.post(reverse("targets:check", args=[delivery.target_id])).status_code == 403
    assert (Push.objects.count(), TargetCheck.objects.count()) == (pushes, checks)


def test_viewers_see_no_action_buttons(login: Login, viewer: User, delivery: Delivery) -> None:
    page = body(login(viewer).get(reverse("targets:detail", args=[delivery.target_id])))
    for action in ("Check now", "Push now", "Push all deliveries", "Add delivery", "Edit", "Delete"):
        assert action not in page


def test_operators_see_push_and_check_but_not_edit(login: Login, operator: User, delivery: Delivery) -> None:
    page = body(login(operator).get(reverse("targets:detail", args=[delivery.target_id])))
    assert "Check now" in page and "Push now" in page and "Push all deliveries" in page
    assert "Add delivery" not in page and reverse("targets:edit", args=[delivery.target_id]) not in page


# --- list, detail, navigation, overview ------------------------------------------------------------------------


def test_the_list_shows_each_target_with_health_and_a_summary_of_its_deliveries(
    login: Login, admin: User, viewer: User, feed: Feed, target: Target
) -> None:
    for key, status in (("a", "delivered"), ("b", "delivered"), ("c", "stale"), ("d", "failed")):
        d = services.delivery_create(actor=admin, feed=feed, target=target, mode="secret", scope="s", key=key)
        Delivery.objects.filter(pk=d.pk).update(status=status)
    page = body(login(viewer).get(reverse("targets:list")))
    assert "ws-offline" in page and WORKSPACE_URL in page and "Databricks workspace" in page
    assert "2 delivered · 1 stale · 1 failed" in page
    assert "badge-unknown" in page and "not checked yet" in page
    assert "Add target" not in page
    assert "Add target" in body(login(admin).get(reverse("targets:list")))


def test_the_list_says_when_a_target_was_checked_with_the_date_on_hover(
    login: Login, viewer: User, target: Target
) -> None:
    from django.utils import timezone

    Target.objects.filter(pk=target.pk).update(health="failing", health_checked_at=timezone.now())
    page = body(login(viewer).get(reverse("targets:list")))
    assert "badge-failing" in page and "checked <time" in page and 'title="20' in page


def test_the_detail_page_shows_the_fingerprint_and_resolved_workspace_never_the_credential(
    login: Login, viewer: User, target: Target
) -> None:
    Target.objects.filter(pk=target.pk).update(info={"workspace_id": "1234567890123456", "oauth": {"x": "y"}})
    page = body(login(viewer).get(reverse("targets:detail", args=[target.pk])))
    assert target.credential_fingerprint in page and "1234567890123456" in page and "Workspace id" in page
    assert PAT not in page and "oauth" not in page.lower().replace("oauth m2m", "")


def test_the_nav_marks_targets_and_deliveries_pages(login: Login, viewer: User, target: Target) -> None:
    page = body(login(viewer).get(reverse("targets:list")))
    assert f'href="{reverse("targets:list")}" aria-current="page"' in page
    page = body(login(viewer).get(reverse("targets:deliveries")))
    assert f'href="{reverse("targets:deliveries")}" aria-current="page"' in page
    assert f'href="{reverse("targets:list")}" aria-current' not in page


def test_the_overview_counts_targets_and_lists_their_health(login: Login, viewer: User, delivery: Delivery) -> None:
    Target.objects.filter(pk=delivery.target_id).update(health="warning")
    page = body(login(viewer).get(reverse("overview")))
    assert "1</span> target<" in page and "1</span> needs attention" in page
    assert "ws-offline" in page and "badge-warning" in page
    assert "1 pending" in page


def test_an_unknown_target_or_delivery_is_404(login: Login, viewer: User, db: None) -> None:
    client = login(viewer)
    assert client.get(reverse("targets:detail", args=[999])).status_code == 404
    assert client.get(reverse("targets:delivery-detail", args=[999])).status_code == 404


# --- create and edit targets -----------------------------------------------------------------------------------


def test_an_admin_adds_a_databricks_target_with_its_token_encrypted(login: Login, admin: User) -> None:
    response = login(admin).post(reverse("targets:create"), target_data())
    target = Target.objects.get(name="ws-new")
    assert response.status_code == 302 and response["Location"] == reverse("targets:detail", args=[target.pk])
    assert target.reveal_credential() == NEW_PAT and NEW_PAT not in target.credential
    assert (target.kind, target.auth_type, target.url, target.max_concurrency) == (
        "databricks",
        "pat",
        WORKSPACE_URL,
        4,
    )
    assert TargetCheck.objects.filter(target=target, status="pending").exists(), "a check is queued on save"


def test_an_admin_adds_a_databricks_target_with_oauth_m2m(login: Login, admin: User) -> None:
    data = target_data(auth_type="oauth_m2m", token="", client_id="sp-app-id", client_secret=CLIENT_SECRET)
    response = login(admin).post(reverse("targets:create"), data, follow=True)
    target = Target.objects.get(name="ws-new")
    assert (target.auth_type, target.cfg.client_id, target.reveal_credential()) == (
        "oauth_m2m",
        "sp-app-id",
        CLIENT_SECRET,
    )
    assert CLIENT_SECRET not in body(response) and "sp-app-id" in body(response)


def test_the_form_offers_the_registered_kinds_and_write_only_credential_fields(login: Login, admin: User) -> None:
    page = body(login(admin).get(reverse("targets:create")))
    assert '<option value="databricks"' in page and "data-target-form" in page and "data-spec=" in page
    assert 'type="password" name="token"' in page and 'type="password" name="client_secret"' in page


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"url": "http://example.com"}, "url", "must use https"),
        ({"url": "https://169.254.169.254"}, "url", "link-local or metadata"),
        ({"url": "https://user:secret-in-url@adb-1.azuredatabricks.net"}, "url", "must not contain credentials"),
        ({"name": "ws-offline"}, "name", "already exists"),
        ({"token": ""}, "token", "Enter the credential"),
        ({"organization": "acme"}, "organization", "Not used by Databricks workspace targets"),
        ({"auth_type": "oauth_m2m", "client_secret": CLIENT_SECRET}, "client_id", "client"),
        ({"max_concurrency": "0"}, "max_concurrency", "greater than or equal to 1"),
        ({"kind": "jenkins"}, "kind", "Select a valid choice"),
    ],
)
def test_bad_target_input_gets_a_400_with_a_clear_error_and_changes_nothing(
    login: Login, admin: User, target: Target, overrides: dict[str, str], field: str, message: str
) -> None:
    client = login(admin)
    before = AuditEvent.objects.count()
    response = client.post(reverse("targets:create"), target_data(**overrides))
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert Target.objects.count() == 1 and AuditEvent.objects.count() == before
    page = body(response)
    assert NEW_PAT not in page and CLIENT_SECRET not in page and "secret-in-url" not in page


def test_editing_with_an_empty_credential_keeps_the_current_one(login: Login, admin: User, target: Target) -> None:
    client = login(admin)
    page = body(client.get(reverse("targets:edit", args=[target.pk])))
    assert "Leave empty to keep the current credential" in page and PAT not in page
    data = target_data(name="ws-renamed", token="", max_concurrency="2")
    response = client.post(reverse("targets:edit", args=[target.pk]), data)
    assert response.status_code == 302
    target.refresh_from_db()
    assert (target.name, target.max_concurrency, target.reveal_credential()) == ("ws-renamed", 2, PAT)


def test_editing_with_a_new_token_replaces_it(login: Login, admin: User, target: Target) -> None:
    old = target.credential_fingerprint
    response = login(admin).post(reverse("targets:edit", args=[target.pk]), target_data(name=target.name))
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.reveal_credential() == NEW_PAT and target.credential_fingerprint != old


def test_a_failed_edit_never_renders_the_credential_back(login: Login, admin: User, target: Target) -> None:
    response = login(admin).post(
        reverse("targets:edit", args=[target.pk]), target_data(name=target.name, url="http://example.com")
    )
    assert response.status_code == 400 and "must use https" in body(response)
    assert NEW_PAT not in body(response) and PAT not in body(response)
    target.refresh_from_db()
    assert target.reveal_credential() == PAT and target.url == WORKSPACE_URL


def test_switching_to_oauth_without_the_new_secret_is_refused(login: Login, admin: User, target: Target) -> None:
    data = target_data(name=target.name, token="", auth_type="oauth_m2m", client_id="sp")
    response = login(admin).post(reverse("targets:edit", args=[target.pk]), data)
    assert response.status_code == 400
    assert "needs the new credential" in body(response)


# --- delete targets ----------------------------------------------------------------------------------------------


def test_deleting_a_target_names_its_deliveries_and_leaves_the_platform_alone(
    login: Login, admin: User, delivery: Delivery
) -> None:
    client = login(admin)
    url = reverse("targets:delete", args=[delivery.target_id])
    page = body(client.get(url))
    assert delivery.location in page and "Nothing is removed from the platform" in page
    assert client.post(url, {"confirm_name": "wrong"}).status_code == 400
    assert Target.objects.exists()
    response = client.post(url, {"confirm_name": "ws-offline"})
    assert response.status_code == 302 and response["Location"] == reverse("targets:list")
    assert not Target.objects.exists() and not Delivery.objects.exists()


# --- deliveries: create, edit, delete ----------------------------------------------------------------------------


def test_an_admin_adds_a_secret_delivery_wired_to_clusters(
    login: Login, admin: User, feed: Feed, target: Target
) -> None:
    data = delivery_data(feed, clusters="0101-a, 0101-b 0101-a", env_var="PIP_INDEX_URL", policy_id="ABC123")
    response = login(admin).post(reverse("targets:delivery-create", args=[target.pk]), data)
    delivery = Delivery.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("targets:delivery-detail", args=[delivery.pk])
    assert (
        delivery.cfg.scope,
        delivery.cfg.key,
        delivery.cfg.clusters,
        delivery.cfg.env_var,
        delivery.cfg.policy_id,
    ) == (
        "team",
        "pip-url",
        ["0101-a", "0101-b"],
        "PIP_INDEX_URL",
        "ABC123",
    )
    assert delivery.pushes.filter(status=PushStatus.PENDING).exists(), "the first push is requested"


def test_an_admin_adds_a_workspace_default_delivery(login: Login, admin: User, feed: Feed, target: Target) -> None:
    data = delivery_data(feed, mode="workspace_default", scope="", key="", role="extra")
    assert login(admin).post(reverse("targets:delivery-create", args=[target.pk]), data).status_code == 302
    delivery = Delivery.objects.get()  # the extra key holds every extra feed: one place per feed
    assert delivery.location == f"secret:databricks-package-management/pip-extra-index-urls#feed-{feed.pk}"


def test_the_delivery_form_offers_the_adapters_modes_and_marks_experimental_ones(
    login: Login, admin: User, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    modes = {**DatabricksAdapter.modes, "uc_volume": ModeSpec("uc_volume", "A volume file", ("role",), True)}
    monkeypatch.setattr(DatabricksAdapter, "modes", modes)
    page = body(login(admin).get(reverse("targets:delivery-create", args=[target.pk])))
    assert "Workspace default package repository" in page and "A volume file (experimental)" in page
    assert "data-delivery-form" in page and "PRIVATE_PYPI_INDEX_URL" not in page.split("data-spec")[0]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"scope": "bad scope!"}, "scope", "letters, digits"),
        ({"key": ""}, "key", "letters, digits"),
        ({"clusters": "ok-id bad/id"}, "clusters", "cluster ids"),
        ({"env_var": "1BAD"}, "env_var", "environment variable"),
        ({"mode": "workspace_default", "scope": "", "key": "", "clusters": "c1"}, "clusters", "Not used"),
        ({"mode": "project_variable"}, "mode", "Select a valid choice"),
        ({"key": "acme-index", "scope": "feedkeeper"}, "__all__", "Another delivery already writes"),
    ],
)
def test_bad_delivery_input_gets_a_400_with_a_clear_error_and_changes_nothing(
    login: Login, admin: User, feed: Feed, delivery: Delivery, overrides: dict[str, str], field: str, message: str
) -> None:
    pushes = Push.objects.count()
    url = reverse("targets:delivery-create", args=[delivery.target_id])
    response = login(admin).post(url, delivery_data(feed, **overrides))
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert Delivery.objects.count() == 1 and Push.objects.count() == pushes
    assert PAT not in body(response)


# --- Valohai ---------------------------------------------------------------------------------------------------

VH_TOKEN = "vh-sim-token"


@pytest.fixture
def organization(admin: User) -> Target:
    return services.target_create(
        actor=admin, kind="valohai", name="vh-acme", url="", auth_type="token", token=VH_TOKEN, organization="acme"
    )


def test_an_admin_adds_a_valohai_organization_on_app_valohai_com_by_default(login: Login, admin: User) -> None:
    data = target_data(kind="valohai", name="vh", url="", auth_type="token", token=VH_TOKEN, organization="acme")
    response = login(admin).post(reverse("targets:create"), data, follow=True)
    target = Target.objects.get(name="vh")
    assert (target.url, target.auth_type, target.cfg.organization) == ("https://app.valohai.com", "token", "acme")
    assert target.reveal_credential() == VH_TOKEN and VH_TOKEN not in body(response)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"organization": ""}, "organization", "organization's name"),
        ({"auth_type": "pat"}, "auth_type", "choose one of: token"),
        ({"client_id": "sp"}, "client_id", "Not used by Valohai organization targets"),
    ],
)
def test_bad_valohai_target_input_gets_a_400(
    login: Login, admin: User, overrides: dict[str, str], field: str, message: str
) -> None:
    data = target_data(kind="valohai", name="vh", url="", auth_type="token", token=VH_TOKEN, organization="acme")
    response = login(admin).post(reverse("targets:create"), {**data, **overrides})
    assert response.status_code == 400 and not Target.objects.exists()
    assert message in " ".join(response.context["form"].errors[field])
    assert VH_TOKEN not in body(response)


def test_an_admin_adds_a_valohai_delivery_to_every_project(
    login: Login, admin: User, feed: Feed, organization: Target
) -> None:
    page = body(login(admin).get(reverse("targets:delivery-create", args=[organization.pk])))
    assert 'value="PRIVATE_PYPI_INDEX_URL"' in page and "(experimental)" in page
    data = delivery_data(
        feed, mode="project_variable", scope="", key="", projects="*", variable="PRIVATE_PYPI_INDEX_URL"
    )
    response = login(admin).post(reverse("targets:delivery-create", args=[organization.pk]), data)
    assert response.status_code == 302
    delivery = Delivery.objects.get()
    assert (delivery.cfg.projects, delivery.cfg.variable, delivery.config.get("scope")) == (
        ["*"],
        "PRIVATE_PYPI_INDEX_URL",
        None,
    )
    assert "every project of the organization" in body(
        login(admin).get(reverse("targets:delivery-detail", args=[delivery.pk]))
    )


def test_a_valohai_delivery_form_offers_only_valohai_settings(login: Login, admin: User, organization: Target) -> None:
    form = login(admin).get(reverse("targets:delivery-create", args=[organization.pk])).context["form"]
    assert {"projects", "variable"} <= set(form.fields)
    assert not {"scope", "key", "clusters", "env_var", "policy_id"} & set(form.fields)


@pytest.mark.parametrize("field", ["scope", "key", "clusters", "env_var", "policy_id"])
def test_databricks_fields_on_a_valohai_delivery_are_refused_by_the_api(
    api: Any, admin: User, feed: Feed, organization: Target, field: str
) -> None:
    data = {"feed": feed.pk, "target": organization.pk, "mode": "project_variable", "projects": ["*"]}
    data[field] = ["x1"] if field == "clusters" else "x1"
    response = api(admin).post("/api/v1/deliveries/", data, format="json")
    assert response.status_code == 400 and not Delivery.objects.exists()
    assert response.json()[field] == ["Not used by Valohai organization deliveries."]


def test_a_valohai_check_resolves_the_organization_and_its_projects_for_the_detail_page(
    login: Login, admin: User, operator: User, valohai: Any, django_capture_on_commit_callbacks: Any
) -> None:
    valohai.add_organization("acme", members=["admin"])
    project = valohai.add_project("acme", "churn-model")
    target = services.target_create(
        actor=admin,
        kind="valohai",
        name="vh-sim",
        url=valohai.url,
        auth_type="token",
        token=VH_TOKEN,
        organization="acme",
    )
    client = login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("targets:check", args=[target.pk]))
    page = body(client.get(reverse("targets:detail", args=[target.pk])))
    assert "Organization id" in page and "churn-model" in page and project["id"] in page
    assert VH_TOKEN not in page


def test_editing_a_delivery_makes_it_pending_and_pushes_again(
    login: Login, admin: User, feed: Feed, delivery: Delivery
) -> None:
    Push.objects.update(status=PushStatus.SUCCEEDED)
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.DELIVERED)
    client = login(admin)
    page = body(client.get(reverse("targets:delivery-edit", args=[delivery.pk])))
    assert 'value="0101-000000-abc123"' in page and 'name="feed"' not in page
    data = delivery_data(feed, scope="feedkeeper", key="acme-moved", clusters="0101-000000-abc123")
    response = client.post(reverse("targets:delivery-edit", args=[delivery.pk]), data)
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.cfg.key, delivery.status) == ("acme-moved", DeliveryStatus.PENDING)
    assert delivery.pushes.filter(status=PushStatus.PENDING, reason="updated").exists()


def test_deleting_a_delivery_says_what_was_pushed_stays_in_place(login: Login, admin: User, delivery: Delivery) -> None:
    client = login(admin)
    url = reverse("targets:delivery-delete", args=[delivery.pk])
    assert "What was pushed stays in place" in body(client.get(url))
    response = client.post(url, follow=True)
    assert response.redirect_chain[-1][0] == reverse("targets:detail", args=[delivery.target_id])
    assert "stays in place" in body(response) and not Delivery.objects.exists()


# --- deliveries list ---------------------------------------------------------------------------------------------


def test_the_deliveries_list_filters_by_status_target_and_feed(
    login: Login, admin: User, viewer: User, feed: Feed, target: Target
) -> None:
    ok = services.delivery_create(actor=admin, feed=feed, target=target, mode="secret", scope="s", key="ok-key")
    bad = services.delivery_create(actor=admin, feed=feed, target=target, mode="secret", scope="s", key="bad-key")
    Delivery.objects.filter(pk=ok.pk).update(status="delivered")
    Delivery.objects.filter(pk=bad.pk).update(status="failed", last_error="401 Invalid access token")
    client = login(viewer)
    page = body(client.get(reverse("targets:deliveries"), {"status": "failed"}))
    assert "secret:s/bad-key" in page and "secret:s/ok-key" not in page and "401 Invalid access token" in page
    page = body(client.get(reverse("targets:deliveries"), {"target": target.pk, "feed": feed.pk}))
    assert "secret:s/bad-key" in page and "secret:s/ok-key" in page
    assert client.get(reverse("targets:deliveries"), {"target": "999"}).status_code == 400


def test_operators_get_push_and_retry_buttons_and_the_restart_consent_box(
    login: Login, admin: User, operator: User, feed: Feed, delivery: Delivery
) -> None:
    plain = services.delivery_create(actor=admin, feed=feed, target=delivery.target, mode="workspace_default")
    Delivery.objects.filter(pk=plain.pk).update(status="failed", last_error="boom")
    page = body(login(operator).get(reverse("targets:deliveries")))
    assert "Push now" in page and "Retry" in page
    assert page.count('name="restart_consent"') == 1, "only the delivery that wires clusters asks for consent"
    assert "Restart running clusters now" in page and "wired on their next restart" in page
    assert 'name="restart_consent" value="on" checked' not in page


# --- pushing -----------------------------------------------------------------------------------------------------


def test_push_now_without_consent_records_a_push_that_may_not_restart(
    login: Login, operator: User, delivery: Delivery
) -> None:
    Push.objects.update(status=PushStatus.FAILED)
    response = login(operator).post(reverse("targets:delivery-push", args=[delivery.pk]), follow=True)
    push = Push.objects.filter(status=PushStatus.PENDING).get()
    assert (push.restart_consent, push.requested_by) == (False, operator)
    assert "wired on their next restart" in body(response)


def test_push_now_with_consent_records_a_push_that_may_restart(
    login: Login, operator: User, delivery: Delivery
) -> None:
    Push.objects.update(status=PushStatus.FAILED)
    url = reverse("targets:delivery-push", args=[delivery.pk])
    response = login(operator).post(url, {"restart_consent": "on", "next": reverse("targets:deliveries")})
    assert response.status_code == 302 and response["Location"] == reverse("targets:deliveries")
    assert Push.objects.filter(status=PushStatus.PENDING).get().restart_consent is True


def test_push_now_never_redirects_off_site(login: Login, operator: User, delivery: Delivery) -> None:
    url = reverse("targets:delivery-push", args=[delivery.pk])
    response = login(operator).post(url, {"next": "https://evil.example/"})
    assert response["Location"] == reverse("targets:delivery-detail", args=[delivery.pk])


def test_push_all_requests_a_push_of_every_delivery_of_the_target(
    login: Login, admin: User, operator: User, feed: Feed, delivery: Delivery
) -> None:
    services.delivery_create(actor=admin, feed=feed, target=delivery.target, mode="workspace_default")
    Push.objects.update(status=PushStatus.SUCCEEDED)
    response = login(operator).post(reverse("targets:push-all", args=[delivery.target_id]), {"restart_consent": "on"})
    assert response.status_code == 302
    pending = Push.objects.filter(status=PushStatus.PENDING)
    assert pending.count() == 2 and all(p.restart_consent for p in pending)


def test_a_push_runs_against_the_workspace_and_the_pages_show_the_outcome(
    login: Login,
    admin: User,
    operator: User,
    feed: Feed,
    workspace: Target,
    databricks: DatabricksSimulator,
    django_capture_on_commit_callbacks: Any,
) -> None:
    ws = databricks.workspace(0)
    running = ws.add_cluster(name="shared-etl", state="RUNNING")
    data = delivery_data(feed, clusters=running)
    with django_capture_on_commit_callbacks(execute=True):
        login(admin).post(reverse("targets:delivery-create", args=[workspace.pk]), data)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.DELIVERED, delivery.last_error
    assert ws.secret_value("team", "pip-url") == feed.credentialed_url()
    client = login(operator)
    page = body(client.get(reverse("targets:delivery-detail", args=[delivery.pk])))
    assert "badge-delivered" in page and "wired on next restart" in page and feed.fingerprint in page
    assert PAT not in page and "feed-token-1" not in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("targets:delivery-push", args=[delivery.pk]), {"restart_consent": "on"})
    latest = delivery.pushes.first()
    assert latest.restart_consent and latest.status == PushStatus.SUCCEEDED, latest.error
    assert "wired and restarted" in body(client.get(reverse("targets:delivery-detail", args=[delivery.pk])))
    page = body(client.get(reverse("targets:detail", args=[workspace.pk])))
    assert "wired and restarted" in page and "badge-succeeded" in page
    page = body(client.get(reverse("targets:deliveries")))
    assert "ws-prod" in page and "badge-delivered" in page


def test_a_failed_push_shows_its_redacted_error_and_a_retry_button(
    login: Login,
    admin: User,
    operator: User,
    feed: Feed,
    databricks: DatabricksSimulator,
    django_capture_on_commit_callbacks: Any,
) -> None:
    bad = services.target_create(
        actor=admin, kind="databricks", name="ws-bad", url=databricks.urls[0], auth_type="pat", token="dapi-wrong-token"
    )
    with django_capture_on_commit_callbacks(execute=True):
        delivery = services.delivery_create(actor=admin, feed=feed, target=bad, mode="workspace_default")
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    client = login(operator)
    for url in (
        reverse("targets:deliveries"),
        reverse("targets:delivery-detail", args=[delivery.pk]),
        reverse("targets:detail", args=[bad.pk]),
    ):
        page = body(client.get(url))
        assert "Invalid access token" in page and "Retry" in page and "badge-failed" in page, url
        assert "dapi-wrong-token" not in page and "feed-token-1" not in page


def test_an_unfinished_push_row_polls_and_a_finished_one_does_not(
    login: Login, viewer: User, delivery: Delivery
) -> None:
    push = delivery.pushes.get()
    client = login(viewer)
    assert "hx-trigger" in body(client.get(reverse("targets:push-row", args=[push.pk])))
    Push.objects.filter(pk=push.pk).update(status=PushStatus.SUCCEEDED)
    assert "hx-trigger" not in body(client.get(reverse("targets:push-row", args=[push.pk])))


# --- health checks -----------------------------------------------------------------------------------------------


def test_an_htmx_check_answers_the_health_section_that_polls_until_the_check_ends(
    login: Login, operator: User, target: Target
) -> None:
    response = login(operator).post(reverse("targets:check", args=[target.pk]), HTTP_HX_REQUEST="true")
    check = TargetCheck.objects.first()
    assert response.status_code == 200 and 'id="health"' in body(response)
    assert reverse("targets:check-status", args=[check.pk]) in body(response) and "checking" in body(response)


def test_check_now_runs_the_health_checks_and_shows_each_result(
    login: Login, operator: User, workspace: Target, django_capture_on_commit_callbacks: Any
) -> None:
    client = login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("targets:check", args=[workspace.pk]))
    assert response.status_code == 302
    check = TargetCheck.objects.filter(target=workspace).first()
    assert check.is_final and check.results
    page = body(client.get(reverse("targets:check-status", args=[check.pk])))
    assert "hx-trigger" not in page
    for result in check.results:
        assert result["name"] in page
    page = body(client.get(reverse("targets:detail", args=[workspace.pk])))
    assert f"badge-{check.status}" in page and "checked <time" in page and PAT not in page


def test_a_multiline_setting_is_a_text_area_on_the_delivery_form(login: Login, admin: User, target: Target) -> None:
    page = body(login(admin).get(reverse("targets:delivery-create", args=[target.pk])))
    assert '<textarea name="ca_bundle"' in page and '<input type="text" name="scope"' in page


def test_the_delivery_form_says_what_each_mode_implies(login: Login, admin: User, target: Target) -> None:
    page = body(login(admin).get(reverse("targets:delivery-create", args=[target.pk])))
    assert "Feedkeeper" in page.split('name="mode"')[1].split("</small>")[0]  # the extra key is Feedkeeper's
