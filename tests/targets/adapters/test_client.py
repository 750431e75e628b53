"""The base vendor client: one mapping of answers to ``AdapterError`` for every platform, and each vendor's own
reading of its error bodies on top."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from core import http
from targets.adapters.base import AdapterError
from targets.adapters.client import VendorClient
from targets.adapters.databricks_api import DatabricksClient, DatabricksError, parse_error
from targets.adapters.valohai_api import ValohaiClient, ValohaiError

SECRET = "s3cr3t-token-value"
Answer = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def answer(monkeypatch: pytest.MonkeyPatch) -> Callable[[Answer], None]:
    """Route the HTTP seam to a handler."""

    def install(handler: Answer) -> None:
        client = httpx.Client(transport=httpx.MockTransport(handler))
        monkeypatch.setattr(http, "client", lambda: client)

    return install


class Plain(VendorClient):
    vendor = "Example"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {SECRET}"}


def _error(client: VendorClient) -> AdapterError:
    with pytest.raises(AdapterError) as info:
        client.fetch("GET", f"{client.url}/thing", where="/thing")
    assert SECRET not in str(info.value)
    return info.value


@pytest.mark.parametrize(
    ("status", "permanent", "phrase"),
    [
        (401, True, "refused Feedkeeper's credential"),
        (403, True, "may not do this"),
        (404, True, "HTTP 404"),
        (400, True, "HTTP 400"),
        (429, False, "rate limited"),
        (503, False, "failed (HTTP 503)"),
    ],
)
def test_error_statuses_map_to_permanent_or_transient(
    answer: Callable[[Answer], None], status: int, permanent: bool, phrase: str
) -> None:
    answer(lambda r: httpx.Response(status, text=f"nope {SECRET}", headers={"Retry-After": "7"}))
    error = _error(Plain(url="https://example.test", secrets=[SECRET]))
    assert (error.permanent, error.status) == (permanent, status) and phrase in str(error)
    assert error.retry_after == (None if permanent else 7.0), "only a transient error says when to try again"


def test_no_answer_and_a_body_that_is_not_json_are_transient(answer: Callable[[Answer], None]) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"[Errno 111] Connection refused {SECRET}")

    answer(refuse)
    error = _error(Plain(url="https://example.test", secrets=[SECRET]))
    assert not error.permanent and "Could not reach Example" in str(error)
    answer(lambda r: httpx.Response(200, text="<html>"))
    error = _error(Plain(url="https://example.test"))
    assert not error.permanent and "not JSON" in str(error)


def test_a_success_answers_its_json_and_sends_the_auth_headers(answer: Callable[[Answer], None]) -> None:
    seen: list[httpx.Request] = []
    answer(lambda r: seen.append(r) or httpx.Response(200, json={"ok": True}))
    assert Plain(url="https://example.test/").fetch("GET", "https://example.test/x", where="/x") == {"ok": True}
    assert seen[0].headers["Authorization"] == f"Bearer {SECRET}" and seen[0].headers["Accept"] == "application/json"


def test_databricks_reads_its_envelope_and_oauth_errors(answer: Callable[[Answer], None]) -> None:
    answer(lambda r: httpx.Response(404, json={"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "No scope."}))
    api = DatabricksClient(url="https://adb.test", auth_type="pat", secret=SECRET)
    with pytest.raises(DatabricksError) as info:
        api.call("GET", "/api/2.0/secrets/list")
    assert (info.value.code, info.value.permanent) == ("RESOURCE_DOES_NOT_EXIST", True)
    assert str(info.value) == "/api/2.0/secrets/list: 404 RESOURCE_DOES_NOT_EXIST: No scope."
    answer(lambda r: httpx.Response(400, json={"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"}))
    with pytest.raises(DatabricksError) as info:
        api.call("GET", "/api/2.0/secrets/list")
    assert not info.value.permanent, "a code that means try again wins over the status"
    oauth = httpx.Response(401, json={"errorCode": "invalid_client", "errorSummary": "Client authentication failed"})
    assert parse_error(oauth) == ("invalid_client", "Client authentication failed")


def test_valohai_flattens_drf_errors_and_tells_exists_and_ambiguous(answer: Callable[[Answer], None]) -> None:
    api = ValohaiClient(url="https://vh.test", token=SECRET)
    answer(lambda r: httpx.Response(400, json={"name": ["Variable with this name already exists."]}))
    with pytest.raises(ValohaiError) as info:
        api.call("POST", "projects/p/environment_variable/", json={})
    assert info.value.exists and info.value.permanent and not info.value.ambiguous
    assert "name: Variable with this name already exists." in str(info.value)
    answer(lambda r: httpx.Response(502, text="<html>bad gateway</html>", headers={"Content-Type": "text/html"}))
    with pytest.raises(ValohaiError) as info:
        api.call("POST", "projects/p/environment_variable/", json={})  # a POST is never retried by the seam
    assert str(info.value) == "Internal error (HTTP 502)" and info.value.ambiguous and not info.value.permanent
    answer(lambda r: httpx.Response(403, json={"detail": "You do not have permission."}))
    with pytest.raises(ValohaiError) as info:
        api.call("GET", "users/me/")
    assert str(info.value) == "The Valohai token was refused (HTTP 403): You do not have permission."
