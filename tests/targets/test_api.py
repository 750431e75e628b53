"""The targets and deliveries API keeps its flat contract names, produced from the adapters' declarations."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from targets.models import Delivery, Target

DELIVERY_SETTINGS = {"scope", "key", "clusters", "env_var", "policy_id", "projects", "variable"}


@pytest.fixture
def client(api: Any, admin: Any) -> Any:
    return api(admin)


def test_a_databricks_oauth_target_round_trips_its_flat_fields_and_hides_the_secret(
    db: None, client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    body = {
        "name": "ws",
        "kind": "databricks",
        "url": "https://adb-1.azuredatabricks.net",
        "auth_type": "oauth_m2m",
        "client_id": "sp-app",
        "client_secret": "oauth-canary-secret-1",
    }
    response = client.post("/api/v1/targets/", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["client_id"], data["organization"], data["organization_id"]) == ("sp-app", "", "")
    assert (
        "client_secret" not in data and "token" not in data and "oauth-canary-secret-1" not in response.content.decode()
    )
    target = Target.objects.get()
    assert target.config == {"client_id": "sp-app"} and target.reveal_credential() == "oauth-canary-secret-1"
    patched = client.patch(f"/api/v1/targets/{target.pk}/", {"client_id": "sp-other"}, format="json")
    assert patched.status_code == 200 and patched.json()["client_id"] == "sp-other"


def test_a_setting_of_another_platform_is_refused_with_its_field_named(
    db: None, client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    body = {"name": "ws", "kind": "databricks", "url": "https://adb-1.azuredatabricks.net", "token": "dapi-x"}
    response = client.post("/api/v1/targets/", {**body, "organization": "acme"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"organization": ["Not used by Databricks workspace targets."]}
    assert not Target.objects.exists()


def test_deliveries_show_every_contract_field_flat_with_empty_values_for_settings_they_do_not_use(
    db: None, client: Any, feed: Any, workspace: Target, django_capture_on_commit_callbacks: Any
) -> None:
    body = {"feed": feed.pk, "target": workspace.pk, "mode": "secret", "scope": "acme", "key": "index"}
    response = client.post("/api/v1/deliveries/", {**body, "clusters": ["c-1"]}, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert DELIVERY_SETTINGS | {"visibility", "repositories", "mode", "role", "location"} <= set(data)
    assert (data["scope"], data["key"], data["clusters"], data["env_var"]) == (
        "acme",
        "index",
        ["c-1"],
        "DATABRICKS_PIP_INDEX_URL",
    )
    assert (data["projects"], data["variable"], data["repositories"]) == ([], "", [])
    delivery = Delivery.objects.get()
    assert delivery.config["scope"] == "acme" and "projects" not in delivery.config
    listed = client.get("/api/v1/deliveries/", {"target": workspace.pk}).json()["results"]
    assert listed[0]["key"] == "index"


def test_a_delivery_update_changes_only_what_is_given(
    db: None, client: Any, feed: Any, workspace: Target, django_capture_on_commit_callbacks: Any
) -> None:
    body = {"feed": feed.pk, "target": workspace.pk, "mode": "secret", "scope": "acme", "key": "index"}
    created = client.post("/api/v1/deliveries/", {**body, "clusters": ["c-1"]}, format="json").json()
    response = client.patch(f"/api/v1/deliveries/{created['id']}/", {"key": "moved"}, format="json")
    assert response.status_code == 200
    assert (response.json()["key"], response.json()["clusters"]) == ("moved", ["c-1"])
    response = client.patch(f"/api/v1/deliveries/{created['id']}/", {"projects": ["x"]}, format="json")
    assert response.status_code == 400 and "projects" in response.json()


def test_the_schema_documents_every_platforms_settings_and_write_only_secrets(db: None, client: Any) -> None:
    schema = yaml.safe_load(client.get("/api/v1/schema/").content)
    components = schema["components"]["schemas"]
    delivery = components["Delivery"]["properties"]
    assert DELIVERY_SETTINGS | {"visibility", "repositories"} <= set(delivery)
    target = components["Target"]["properties"]
    assert {"client_id", "organization", "organization_id"} <= set(target)
    request = components["TargetRequest"]["properties"]
    assert request["token"].get("writeOnly") is True and "token" not in target
    assert "github" in components["TargetKindEnum"]["enum"]
