"""The one HTTP seam: retries that honour Retry-After, only for idempotent methods; classified, redacted errors."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from core import http
from tests.support.pypi import free_port

URL = "https://feed.example/simple/"


def mock(monkeypatch: pytest.MonkeyPatch, answers: list[httpx.Response | Exception]) -> list[httpx.Request]:
    """Answer requests in order with ``answers``; returns the list of requests seen."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[min(len(seen), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    client = httpx.Client(transport=httpx.MockTransport(handler))
    monkeypatch.setattr(http, "client", lambda: client)
    return seen


def recorder() -> tuple[list[float], Callable[[float], None]]:
    waits: list[float] = []
    return waits, waits.append


RETRY = http.RetryPolicy(attempts=3, base_delay=0.5, max_delay=20)


def test_a_429_is_retried_after_the_retry_after_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = mock(monkeypatch, [httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, text="ok")])
    waits, sleep = recorder()
    response = http.request("GET", URL, retry=RETRY, sleep=sleep)
    assert response.status_code == 200 and len(seen) == 2
    assert len(waits) == 1 and 7 <= waits[0] <= 7.25


def test_retry_after_is_capped_by_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    mock(monkeypatch, [httpx.Response(429, headers={"Retry-After": "3600"}), httpx.Response(200)])
    waits, sleep = recorder()
    http.request("GET", URL, retry=RETRY, sleep=sleep)
    assert waits[0] <= RETRY.max_delay + 0.25


def test_a_503_is_retried_with_backoff_for_idempotent_methods(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = mock(monkeypatch, [httpx.Response(503), httpx.Response(503), httpx.Response(200)])
    waits, sleep = recorder()
    assert http.request("PUT", URL, retry=RETRY, sleep=sleep).status_code == 200
    assert len(seen) == 3 and len(waits) == 2
    assert 0.25 <= waits[0] <= 0.5 and 0.5 <= waits[1] <= 1.0


def test_the_last_answer_is_returned_when_attempts_run_out(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = mock(monkeypatch, [httpx.Response(503)])
    waits, sleep = recorder()
    assert http.request("GET", URL, retry=RETRY, sleep=sleep).status_code == 503
    assert len(seen) == 3 and len(waits) == 2


def test_a_post_is_never_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = mock(monkeypatch, [httpx.Response(503), httpx.Response(200)])
    waits, sleep = recorder()
    assert http.request("POST", URL, json={"a": 1}, retry=RETRY, sleep=sleep).status_code == 503
    assert len(seen) == 1 and waits == []


def test_without_a_policy_nothing_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = mock(monkeypatch, [httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(200)])
    waits, sleep = recorder()
    assert http.request("GET", URL, sleep=sleep).status_code == 429
    assert len(seen) == 1 and waits == []


def test_a_4xx_other_than_429_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = mock(monkeypatch, [httpx.Response(401), httpx.Response(200)])
    assert http.request("GET", URL, retry=RETRY, sleep=lambda s: None).status_code == 401
    assert len(seen) == 1


def test_transport_failures_are_retried_for_get_but_not_for_post(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = mock(monkeypatch, [httpx.ConnectError("[Errno 111] Connection refused"), httpx.Response(200)])
    waits, sleep = recorder()
    assert http.request("GET", URL, retry=RETRY, sleep=sleep).status_code == 200
    assert len(seen) == 2 and len(waits) == 1
    seen = mock(monkeypatch, [httpx.ConnectError("[Errno 111] Connection refused"), httpx.Response(200)])
    with pytest.raises(http.TransportError) as caught:
        http.request("POST", URL, retry=RETRY, sleep=sleep)
    assert caught.value.reason == "refused" and len(seen) == 1


def test_a_closed_port_is_refused_and_the_error_holds_no_credentials() -> None:
    url = f"http://robot:url-secret-1@127.0.0.1:{free_port()}/simple/"
    with pytest.raises(http.TransportError) as caught:
        http.request("GET", url, auth=("robot", "auth-secret-2"), headers={"Authorization": "Bearer hdr-secret-3"})
    message = str(caught.value)
    assert caught.value.reason == "refused" and "refused" in message
    for secret in ("url-secret-1", "auth-secret-2", "hdr-secret-3"):
        assert secret not in message


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (httpx.ConnectTimeout("timed out"), "timeout"),
        (httpx.ReadTimeout("timed out"), "timeout"),
        (httpx.ConnectError("[Errno -2] Name or service not known"), "dns"),
        (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), "tls"),
        (httpx.RemoteProtocolError("Server disconnected"), "other"),
    ],
)
def test_transport_failures_are_classified(monkeypatch: pytest.MonkeyPatch, exc: Exception, reason: str) -> None:
    mock(monkeypatch, [exc])
    with pytest.raises(http.TransportError) as caught:
        http.request("GET", URL)
    assert caught.value.reason == reason


def test_known_secrets_are_redacted_from_transport_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    mock(monkeypatch, [httpx.ConnectError("proxy said no to listed-secret-4 at https://a:b-secret@h/")])
    with pytest.raises(http.TransportError) as caught:
        http.request("GET", URL, secrets=["listed-secret-4"])
    assert "listed-secret-4" not in str(caught.value) and "b-secret" not in str(caught.value)


def test_retry_logs_never_hold_credentials(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    mock(monkeypatch, [httpx.Response(503), httpx.Response(200)])
    http.request("GET", "https://u:log-secret-5@feed.example/simple/", retry=RETRY, sleep=lambda s: None)
    assert "retrying" in caplog.text and "log-secret-5" not in caplog.text


def test_redirects_are_not_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http._local, "client", None, raising=False)
    client = http.client()
    assert client.follow_redirects is False
    assert client.headers["User-Agent"] == http.USER_AGENT


@pytest.mark.parametrize(("value", "seconds"), [("5", 5.0), (" 2.5 ", 2.5), ("", None), (None, None), ("soon", None)])
def test_retry_after_is_parsed_as_seconds(value: str | None, seconds: float | None) -> None:
    assert http.parse_retry_after(value) == seconds
