"""`GET /api/v1/schema/`: an OpenAPI 3 document describing the API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient


@pytest.fixture
def schema(api: Callable[[User], APIClient], viewer: User) -> dict[str, Any]:
    response = api(viewer).get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    return response.json()  # type: ignore[no-any-return]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_it_is_openapi_3_with_the_contract_paths(schema: dict[str, Any]) -> None:
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] and schema["info"]["version"]
    paths = schema["paths"]
    for path in ("/api/v1/feeds/", "/api/v1/feeds/{id}/", "/api/v1/feeds/{id}/check/", "/api/v1/audit/"):
        assert path in paths
    assert "/api/v1/checks/{id}/" in paths and "get" in paths["/api/v1/checks/{id}/"]
    assert {"get", "post"} <= set(paths["/api/v1/feeds/"]) and {"patch", "delete"} <= set(paths["/api/v1/feeds/{id}/"])


def test_every_operation_is_well_formed_and_every_reference_resolves(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    for path, item in schema["paths"].items():
        assert path.startswith("/api/v1/")
        for method, operation in item.items():
            assert method in {"get", "post", "put", "patch", "delete", "parameters"}
            assert operation["responses"] and operation["operationId"]
    for ref in set(_refs(schema)):
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[-1] in components, ref


def test_the_token_is_write_only_and_the_audit_filters_are_described(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    assert "token" not in components["Feed"]["properties"]
    assert "token" in components["FeedRequest"]["properties"]
    assert {"fingerprint", "expiry_status"} <= set(components["Feed"]["properties"])
    params = {p["name"] for p in schema["paths"]["/api/v1/audit/"]["get"]["parameters"]}
    assert {"action", "actor", "object_type", "object_id", "since", "until"} <= params


def test_it_declares_bearer_authentication(schema: dict[str, Any]) -> None:
    scheme = schema["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for path, item in schema["paths"].items():
        if path != "/api/v1/schema/":
            for operation in item.values():
                assert {"bearerAuth": []} in operation["security"], path
