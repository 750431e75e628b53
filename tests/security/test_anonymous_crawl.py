"""Every URL pattern, requested anonymously (GET and POST, path converters filled with sample values), answers a
login redirect (pages) or 401 (the API) — nothing else, except the few that are public on purpose, listed below
with the reason."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

SAMPLES = {
    "int": "1",
    "str": "sample",
    "slug": "sample",
    "uuid": str(uuid.UUID(int=1)),
    "path": "sample/1",
    "drf_format_suffix": ".json",
}

# path (after sample filling) -> why it may answer an anonymous visitor
PUBLIC = {
    "/login/": "the sign-in page",
    "/logout/": "signing out needs no session (Django's LogoutView: POST; GET is 405)",
    "/healthz": "the load balancer's health check (the API contract: no auth)",
    "/metrics": "Prometheus: needs METRICS_TOKEN or an allowed network; 404 while neither is set",
    "/admin/login/": "Django admin's own sign-in page",
    "/admin/logout/": "Django admin's sign-out",
    "/feeds/connections/callback/": "the OAuth redirect Entra sends the browser to; it needs the signed state",
    "/account/sso/start/": "single sign-on starts here for a visitor not signed in yet (404 while SSO is off)",
    "/account/sso/callback/": "the identity provider's redirect back; it needs the signed state (404 while SSO is off)",
}


def _fill_regex(regex: str) -> str:
    text = regex.lstrip("^").rstrip("$")
    text = re.sub(r"\(\?P<format>[^)]*\)", "json", text)
    text = re.sub(r"\(\?P<(\w+)>[^)]*\)", "1", text)
    text = text.replace("\\.", ".").replace("/?", "/")
    return text


def _fill(pattern: URLPattern | URLResolver) -> str:
    inner = pattern.pattern
    if isinstance(inner, RoutePattern):
        route = str(inner._route)
        return re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: SAMPLES.get(m.group(1) or "str", "sample"), route)
    if isinstance(inner, RegexPattern):
        return _fill_regex(inner._regex)
    return str(inner)  # pragma: no cover


def every_url(resolver: URLResolver | None = None, prefix: str = "/") -> Iterator[str]:
    for pattern in (resolver or get_resolver()).url_patterns:
        path = prefix + _fill(pattern)
        if isinstance(pattern, URLResolver):
            yield from every_url(pattern, path)
        else:
            yield path


URLS = sorted(set(every_url()))


def test_the_crawl_covers_the_pages_the_api_and_the_admin() -> None:
    assert len(URLS) > 100
    for expected in ("/feeds/1/", "/api/v1/feeds/1/", "/api/v1/schema/", "/account/tokens/", "/admin/auth/user/"):
        assert expected in URLS
    missing = set(PUBLIC) - set(URLS)
    assert not missing, f"public exceptions that are no URL any more: {missing}"


@pytest.mark.parametrize("method", ["get", "post"])
def test_every_url_needs_a_login_or_a_token_except_the_public_ones(db: None, method: str) -> None:
    client = Client()
    unexpected = []
    for url in URLS:
        if url in PUBLIC or url.startswith("/static/"):
            continue
        response = getattr(client, method)(url)
        status = response.status_code
        location = response.get("Location", "")
        if url.startswith("/api/"):
            if status != 401:
                unexpected.append(f"{method.upper()} {url}: {status}")
        elif status != 302 or not (location.startswith("/login/?next=") or location.startswith("/admin/login/")):
            unexpected.append(f"{method.upper()} {url}: {status} {location}")
    assert not unexpected, "\n".join(unexpected)


def test_the_public_exceptions_give_nothing_away(db: None, settings: object) -> None:
    client = Client()
    assert client.get("/healthz").status_code in (200, 503)
    assert client.get("/metrics").status_code in (401, 403, 404)
    assert client.get("/login/").status_code == 200
    assert client.get("/feeds/connections/callback/").status_code in (302, 400, 403)
    for path in ("/account/sso/start/", "/account/sso/callback/"):
        assert client.get(path).status_code in (302, 400, 403, 404)


def test_the_api_schema_needs_a_login(db: None) -> None:
    response = Client().get("/api/v1/schema/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Bearer"
