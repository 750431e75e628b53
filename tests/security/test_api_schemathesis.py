"""The API against its own OpenAPI document, with schemathesis in-process (Django's WSGI application): as an admin
and as a viewer, generated requests to every operation never get a 5xx, every answer (status, headers, body)
matches the document, and no mutation succeeds for a viewer. Examples per operation are bounded so CI stays quick
(``SCHEMATHESIS_EXAMPLES`` raises it for a deeper run)."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core import signals
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.models import ApiToken

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "8"))
SAFE = {"GET", "HEAD", "OPTIONS"}
# What the API promises: no 5xx, and every status, content type, header and body as documented. (schemathesis'
# stricter heuristics, such as "a schema-valid request must succeed", would fail on any id that does not exist.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Generated URLs must never reach the network: every name fails to resolve."""

    def getaddrinfo(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def tokens(admin: User, viewer: User, no_network: None) -> Iterator[dict[str, str]]:
    cache.clear()
    _, admin_raw = ApiToken.issue(user=admin, name="schemathesis-admin")
    _, viewer_raw = ApiToken.issue(user=viewer, name="schemathesis-viewer")
    yield {"admin": admin_raw, "viewer": viewer_raw}
    cache.clear()


@pytest.fixture
def wsgi_app() -> Iterator[Any]:
    """Django's WSGI application, keeping the test's database connection open between requests (as Django's own
    test client does): the test's transaction holds the users and tokens."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield get_wsgi_application()
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def api_schema(tokens: dict[str, str], wsgi_app: Any) -> Any:
    return schemathesis.openapi.from_wsgi(
        "/api/v1/schema/?format=json", wsgi_app, headers={"Authorization": f"Bearer {tokens['admin']}"}
    )


HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def hypothesis_test(operation: Any, check: Callable[[Any], None], seen: list[Any]) -> Callable[[], None]:
    """A hypothesis test of ``operation``'s generated cases, counting them in ``seen``."""

    @HYPOTHESIS
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        seen.append(case)
        check(case)

    return run  # type: ignore[no-any-return]


def run_every_operation(api_schema: Any, check: Callable[[Any], None]) -> dict[str, Any]:
    """Run ``check`` on up to ``EXAMPLES`` generated cases of every operation (hypothesis shrinks a failure);
    returns the figures, failing with every operation's first failure listed."""
    failures: list[str] = []
    operations = examples = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        seen: list[Any] = []
        try:
            hypothesis_test(operation, check, seen)()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - one report names every failing operation
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc).strip()[:1500]}")
        examples += len(seen)
    figures = {"operations": operations, "examples": examples, "failures": len(failures)}
    print(f"schemathesis: {figures}")
    assert not failures, "\n\n".join(failures)
    return figures


def test_as_an_admin_every_answer_matches_the_schema_and_none_is_a_5xx(api_schema: Any, tokens: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    figures = run_every_operation(api_schema, lambda case: case.call_and_validate(headers=headers, checks=CHECKS))
    assert figures["operations"] >= 29


def test_as_a_viewer_every_answer_matches_the_schema_and_no_mutation_succeeds(
    api_schema: Any, tokens: dict[str, str]
) -> None:
    headers = {"Authorization": f"Bearer {tokens['viewer']}"}

    def check(case: Any) -> None:
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        if case.method.upper() not in SAFE:
            assert response.status_code >= 400, f"{case.method} {case.path} answered {response.status_code}"

    run_every_operation(api_schema, check)
