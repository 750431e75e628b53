"""The feed credential check against a real private index (pypiserver) and against odd answers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from core import http
from feeds.models import CheckStatus, render_credentialed_url
from feeds.probe import probe_index
from tests.support.leaks import pip_download
from tests.support.pypi import PrivateIndex, free_port


def test_a_valid_token_is_ok(private_index: PrivateIndex, settings: object) -> None:
    result = probe_index(private_index.url, private_index.username, private_index.token)
    assert result.status == CheckStatus.OK, result.detail
    assert result.http_status == 200


def test_a_wrong_token_is_refused_by_pypiserver_with_403_forbidden(private_index: PrivateIndex) -> None:
    # pypiserver answers 403 to wrong Basic credentials (401 only when none are sent).
    result = probe_index(private_index.url, private_index.username, "not-the-token")
    assert (result.status, result.http_status) == (CheckStatus.FORBIDDEN, 403)
    assert "not-the-token" not in result.detail


def test_a_401_is_unauthorized(monkeypatch: pytest.MonkeyPatch) -> None:
    _mock(monkeypatch, lambda req: httpx.Response(401, headers={"WWW-Authenticate": "Basic"}))
    result = probe_index("https://feed.example.com/simple/", "u", "t")
    assert (result.status, result.http_status) == (CheckStatus.UNAUTHORIZED, 401)


def test_a_wrong_path_is_not_found(private_index: PrivateIndex) -> None:
    url = private_index.url.replace("/simple/", "/nothing-here/simple/")
    result = probe_index(url, private_index.username, private_index.token)
    assert result.status == CheckStatus.NOT_FOUND


def test_a_closed_port_is_unreachable_with_a_reason() -> None:
    result = probe_index(f"http://127.0.0.1:{free_port()}/simple/", "u", "secret-token-value")
    assert result.status == CheckStatus.UNREACHABLE
    assert "refused" in result.detail
    assert "secret-token-value" not in result.detail


def _mock(monkeypatch: pytest.MonkeyPatch, handler: object) -> None:
    client = httpx.Client(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]
    monkeypatch.setattr(http, "client", lambda: client)


def test_azure_devops_203_sign_in_page_is_unauthorized(monkeypatch: pytest.MonkeyPatch) -> None:
    _mock(monkeypatch, lambda req: httpx.Response(203, html="<html><title>Sign In</title></html>"))
    result = probe_index("https://pkgs.dev.azure.com/o/_packaging/f/pypi/simple/", "x", "tok")
    assert (result.status, result.http_status) == (CheckStatus.UNAUTHORIZED, 203)


def test_a_redirect_to_a_sign_in_page_is_unauthorized(monkeypatch: pytest.MonkeyPatch) -> None:
    _mock(monkeypatch, lambda req: httpx.Response(302, headers={"Location": "https://login.example.com/_signin?x=1"}))
    result = probe_index("https://pkgs.dev.azure.com/o/_packaging/f/pypi/simple/", "x", "tok")
    assert result.status == CheckStatus.UNAUTHORIZED


def test_forbidden_is_its_own_status(monkeypatch: pytest.MonkeyPatch) -> None:
    _mock(monkeypatch, lambda req: httpx.Response(403, text="nope"))
    assert probe_index("https://feed.example.com/simple/", "u", "t").status == CheckStatus.FORBIDDEN


def test_a_406_is_retried_with_plain_html(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req.headers["accept"])
        if req.headers["accept"] != "text/html":
            return httpx.Response(406)
        return httpx.Response(200, html="<html></html>")

    _mock(monkeypatch, handler)
    assert probe_index("https://feed.example.com/simple/", "u", "t").status == CheckStatus.OK
    assert seen[-1] == "text/html"


def test_a_200_that_is_not_an_index_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _mock(monkeypatch, lambda req: httpx.Response(200, json={"hello": "world"}))
    result = probe_index("https://feed.example.com/simple/", "u", "t")
    assert result.status == CheckStatus.ERROR and "not a package index" in result.detail


def test_a_server_error_body_is_reported_without_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    _mock(monkeypatch, lambda req: httpx.Response(500, text="boom for token s3cr3t-tok"))
    result = probe_index("https://feed.example.com/simple/", "u", "s3cr3t-tok")
    assert result.status == CheckStatus.ERROR
    assert "500" in result.detail and "s3cr3t-tok" not in result.detail


def test_pip_downloads_with_the_rendered_url_special_characters_included(
    private_index: PrivateIndex, tmp_path: Path
) -> None:
    url = render_credentialed_url(private_index.url, private_index.username, private_index.token)
    assert "p%40ss%3Aw%2Frd%25%23%3F%26%3D%20x%2B" in url
    out = pip_download(url, private_index.package, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert list(tmp_path.glob("feedkeeper_probe-1.0.0-*.whl"))
