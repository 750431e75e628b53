"""Connection pages (admins only): list, create, edit, delete, check, and the browser consent ("Connect") with
its fixed callback. Secrets are write-only: no page ever shows one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from feeds import connection_views
from feeds import services as feed_services
from feeds.connections import connection_create
from feeds.models import Connection, ConnectionStatus, Feed
from simulators.azure_devops import AzureDevOpsSimulator

Login = Callable[[User], Client]

CANARY = "canary-connection-8d2e6f1a90"
CLIENT_SECRET = "canary-client-secret-5b7c3d"
REFRESH = "canary-refresh-token-1e4f"
AUTH_URI = "https://login.example.com/tenant/oauth2/v2.0/authorize?client_id=app&state=state-123"
RANK = {"outsider": 0, "viewer": 1, "operator": 2, "admin": 3}


@pytest.fixture
def jfrog(admin: User) -> Connection:
    return connection_create(actor=admin, kind="jfrog", name="acme-jfrog", url="https://acme.jfrog.io", token=CANARY)


@pytest.fixture
def devops(admin: User) -> Connection:
    return connection_create(
        actor=admin,
        kind="azure_devops",
        name="acme-devops",
        url="https://vssps.dev.azure.com/acme",
        tenant_id="tenant-1",
        client_id="app-1",
        client_secret=CLIENT_SECRET,
    )


def jfrog_data(**overrides: str) -> dict[str, str]:
    data = {"kind": "jfrog", "name": "team-jfrog", "url": "https://team.jfrog.io", "token": CANARY}
    data.update(overrides)
    return data


# --- who may open what -------------------------------------------------------------------------------------------

PAGES = [
    ("connections", "get"),
    ("connection-create", "get"),
    ("connection-detail", "get"),
    ("connection-edit", "get"),
    ("connection-delete", "get"),
    ("connection-check", "post"),
    ("connection-callback", "get"),
]


def page_url(name: str, connection: Connection) -> str:
    if name in ("connections", "connection-create", "connection-callback"):
        return reverse(f"feeds:{name}")
    return reverse(f"feeds:{name}", args=[connection.pk])


@pytest.mark.parametrize("role", ["outsider", "viewer", "operator", "admin"])
@pytest.mark.parametrize(("name", "method"), PAGES)
def test_every_connection_page_is_for_admins_only(
    request: pytest.FixtureRequest, login: Login, jfrog: Connection, role: str, name: str, method: str
) -> None:
    response = getattr(login(request.getfixturevalue(role)), method)(page_url(name, jfrog))
    if role == "admin":
        # The check and a callback without a state redirect back with a message.
        assert response.status_code == (302 if name in ("connection-check", "connection-callback") else 200)
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_lower_roles_cannot_create_edit_delete_or_connect(
    request: pytest.FixtureRequest, login: Login, devops: Connection, role: str
) -> None:
    client = login(request.getfixturevalue(role))
    before = AuditEvent.objects.count()
    assert client.post(reverse("feeds:connection-create"), jfrog_data()).status_code == 403
    edit = {"name": "renamed", "url": devops.url, "tenant_id": "t", "client_id": "c"}
    assert client.post(reverse("feeds:connection-edit", args=[devops.pk]), edit).status_code == 403
    assert client.post(reverse("feeds:connection-delete", args=[devops.pk])).status_code == 403
    assert client.post(reverse("feeds:connection-connect", args=[devops.pk])).status_code == 403
    assert list(Connection.objects.values_list("name", flat=True)) == ["acme-devops"]
    assert AuditEvent.objects.exclude(outcome="denied").count() == before  # only the refusals are recorded


def test_the_connections_link_is_in_the_navigation_for_admins_only(
    login: Login, admin: User, operator: User, db: None
) -> None:
    url = reverse("feeds:connections")
    assert f'href="{url}"' in login(admin).get(reverse("feeds:list")).content.decode()
    assert f'href="{url}"' not in login(operator).get(reverse("feeds:list")).content.decode()
    body = login(admin).get(url).content.decode()
    assert f'href="{url}" aria-current="page"' in body
    assert f'href="{reverse("feeds:list")}" aria-current' not in body


# --- create, edit, delete --------------------------------------------------------------------------------------------


def test_the_new_page_first_asks_for_the_kind_then_shows_that_kinds_fields(login: Login, admin: User) -> None:
    client = login(admin)
    chooser = client.get(reverse("feeds:connection-create")).content.decode()
    assert 'name="kind"' in chooser and "JFrog Access tokens" in chooser and "Azure DevOps PATs" in chooser
    jfrog = client.get(reverse("feeds:connection-create"), {"kind": "jfrog"}).content.decode()
    assert 'type="password" name="token"' in jfrog and "allowed to create and revoke tokens" in jfrog
    assert "the Access API is under /access/api/v1/" in jfrog
    devops = client.get(reverse("feeds:connection-create"), {"kind": "azure_devops"}).content.decode()
    assert 'name="tenant_id"' in devops and 'type="password" name="client_secret"' in devops
    assert 'name="token"' not in devops
    assert client.get(reverse("feeds:connection-create"), {"kind": "nope"}).status_code == 400


def test_an_admin_creates_a_jfrog_connection_and_no_page_echoes_its_token(login: Login, admin: User) -> None:
    client = login(admin)
    response = client.post(reverse("feeds:connection-create"), jfrog_data(), follow=True)
    connection = Connection.objects.get()
    assert response.redirect_chain == [(reverse("feeds:connection-detail", args=[connection.pk]), 302)]
    assert connection.kind == "jfrog" and connection.reveal("credential") == CANARY
    body = response.content.decode()
    assert "Connection team-jfrog saved" in body and connection.credential_fingerprint in body
    pages = [
        reverse("feeds:connections"),
        reverse("feeds:connection-detail", args=[connection.pk]),
        reverse("feeds:connection-edit", args=[connection.pk]),
        reverse("feeds:connection-delete", args=[connection.pk]),
    ]
    bodies = [body] + [client.get(url).content.decode() for url in pages]
    assert not [b for b in bodies if CANARY in b or connection.credential in b]


def test_a_refused_create_does_not_echo_the_token(login: Login, admin: User) -> None:
    response = login(admin).post(reverse("feeds:connection-create"), jfrog_data(url="http://team.jfrog.io"))
    assert response.status_code == 400
    body = response.content.decode()
    assert "must use https" in body and CANARY not in body
    assert not Connection.objects.exists()
    missing = login(admin).post(reverse("feeds:connection-create"), jfrog_data(token=""))
    assert missing.status_code == 400 and missing.context["form"].errors["token"]


def test_the_edit_form_never_prefills_a_secret_and_an_empty_one_keeps_it(
    login: Login, admin: User, devops: Connection
) -> None:
    client = login(admin)
    page = client.get(reverse("feeds:connection-edit", args=[devops.pk])).content.decode()
    assert "Leave empty to keep the stored one." in page and 'value="tenant-1"' in page
    assert CLIENT_SECRET not in page and devops.client_secret not in page
    data = {"name": "acme-devops-2", "url": devops.url, "tenant_id": "tenant-1", "client_id": "app-1"}
    data["client_secret"] = ""
    assert client.post(reverse("feeds:connection-edit", args=[devops.pk]), data).status_code == 302
    devops.refresh_from_db()
    assert devops.name == "acme-devops-2" and devops.reveal("client_secret") == CLIENT_SECRET


def test_pointing_a_connection_elsewhere_needs_its_secret_again(login: Login, admin: User, jfrog: Connection) -> None:
    data = {"name": jfrog.name, "url": "https://elsewhere.jfrog.io", "token": ""}
    response = login(admin).post(reverse("feeds:connection-edit", args=[jfrog.pk]), data)
    assert response.status_code == 400
    assert "Enter the secret again" in response.context["form"].errors["token"][0]
    jfrog.refresh_from_db()
    assert jfrog.url == "https://acme.jfrog.io"


def test_a_connection_in_use_is_not_deleted_and_the_page_says_by_whom(
    login: Login, admin: User, jfrog: Connection
) -> None:
    feed = feed_services.feed_create(
        actor=admin, name="py", kind="jfrog", base_url="https://acme.jfrog.io", repository="py", username="u", token="t"
    )
    feed_services.feed_update(actor=admin, feed=feed, rotation_connection=jfrog)
    client = login(admin)
    detail = client.get(reverse("feeds:connection-detail", args=[jfrog.pk])).content.decode()
    assert reverse("feeds:detail", args=[feed.pk]) in detail
    response = client.post(reverse("feeds:connection-delete", args=[jfrog.pk]))
    assert response.status_code == 400 and "These feeds rotate with this connection: py." in response.content.decode()
    assert Connection.objects.filter(pk=jfrog.pk).exists()


def test_an_unused_connection_is_deleted(login: Login, admin: User, jfrog: Connection) -> None:
    response = login(admin).post(reverse("feeds:connection-delete", args=[jfrog.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("feeds:connections")
    assert not Connection.objects.exists()


# --- detail and check ----------------------------------------------------------------------------------------------


def test_the_detail_shows_status_and_queues_a_check(
    login: Login, admin: User, jfrog: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    Connection.objects.filter(pk=jfrog.pk).update(status=ConnectionStatus.FAILING, status_detail="JFrog said 401.")
    client = login(admin)
    body = client.get(reverse("feeds:connection-detail", args=[jfrog.pk])).content.decode()
    assert "badge-failing" in body and "JFrog said 401." in body
    connect = reverse("feeds:connection-connect", args=[jfrog.pk])
    assert connect not in body and "Redirect URI" not in body, "JFrog needs no browser consent"
    asked: list[int] = []
    monkeypatch.setattr(
        connection_views, "connection_check_request", lambda *, actor, connection: asked.append(connection.pk)
    )
    response = client.post(reverse("feeds:connection-check", args=[jfrog.pk]), follow=True)
    assert asked == [jfrog.pk] and "Check queued" in response.content.decode()
    listing = client.get(reverse("feeds:connections")).content.decode()
    assert "badge-failing" in listing and jfrog.name in listing


def test_an_azure_devops_connection_shows_the_redirect_uri_and_a_connect_button(
    login: Login, admin: User, devops: Connection
) -> None:
    body = login(admin).get(reverse("feeds:connection-detail", args=[devops.pk])).content.decode()
    assert "http://testserver/feeds/connections/callback/" in body
    assert reverse("feeds:connection-connect", args=[devops.pk]) in body and "nobody yet" in body
    assert CLIENT_SECRET not in body and devops.client_secret not in body


# --- the browser consent -------------------------------------------------------------------------------------------


def stub_consent(monkeypatch: pytest.MonkeyPatch, *, fail: str = "") -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def begin(connection: Connection, redirect_uri: str) -> dict[str, Any]:
        seen["redirect_uri"] = redirect_uri
        return {"state": "state-123", "auth_uri": AUTH_URI, "code_verifier": "verifier"}

    def complete(*, actor: Any, connection: Connection, flow: dict[str, Any], answer: dict[str, str]) -> Connection:
        seen["flow"], seen["answer"] = flow, answer
        if fail:
            raise ValidationError({"non_field_errors": fail})
        connection.set_secret("refresh_token", REFRESH)
        connection.consented_by = "ada@acme.example"
        connection.status = ConnectionStatus.OK
        connection.save()
        return connection

    monkeypatch.setattr(connection_views, "consent_begin", begin)
    monkeypatch.setattr(connection_views, "consent_complete", complete)
    return seen


def test_connect_goes_to_the_auth_uri_and_the_callback_completes_the_consent(
    login: Login, admin: User, devops: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = stub_consent(monkeypatch)
    client = login(admin)
    response = client.post(reverse("feeds:connection-connect", args=[devops.pk]))
    assert response.status_code == 302 and response["Location"] == AUTH_URI
    assert seen["redirect_uri"] == "http://testserver/feeds/connections/callback/"
    back = client.get(reverse("feeds:connection-callback"), {"code": "the-code", "state": "state-123"}, follow=True)
    assert back.redirect_chain == [(reverse("feeds:connection-detail", args=[devops.pk]), 302)]
    assert seen["flow"]["code_verifier"] == "verifier" and seen["answer"] == {"code": "the-code", "state": "state-123"}
    body = back.content.decode()
    assert "Connected as ada@acme.example" in body and REFRESH not in body and CLIENT_SECRET not in body
    assert client.session[connection_views.CONSENT_SESSION_KEY] == {}, "the flow is used once"
    again = client.get(reverse("feeds:connection-callback"), {"code": "the-code", "state": "state-123"}, follow=True)
    assert "matches no Connect started in this browser session" in again.content.decode()


def test_an_unknown_or_missing_state_is_a_clear_error(
    login: Login, admin: User, devops: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = stub_consent(monkeypatch)
    client = login(admin)
    client.post(reverse("feeds:connection-connect", args=[devops.pk]))
    for query in ({"code": "c", "state": "forged"}, {"code": "c"}):
        response = client.get(reverse("feeds:connection-callback"), query, follow=True)
        assert response.status_code == 200
        assert response.redirect_chain == [(reverse("feeds:connections"), 302)]
        assert "matches no Connect started in this browser session" in response.content.decode()
    assert "flow" not in seen
    devops.refresh_from_db()
    assert devops.refresh_token == "" and devops.status == ConnectionStatus.UNKNOWN


def test_a_refused_consent_shows_the_providers_message(
    login: Login, admin: User, devops: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub_consent(monkeypatch, fail="Entra answered access_denied: the user declined.")
    client = login(admin)
    client.post(reverse("feeds:connection-connect", args=[devops.pk]))
    query = {"error": "access_denied", "state": "state-123"}
    response = client.get(reverse("feeds:connection-callback"), query, follow=True)
    assert response.redirect_chain == [(reverse("feeds:connection-detail", args=[devops.pk]), 302)]
    assert "Connecting failed: Entra answered access_denied: the user declined." in response.content.decode()


def test_connect_is_refused_for_a_kind_without_browser_consent(login: Login, admin: User, jfrog: Connection) -> None:
    response = login(admin).post(reverse("feeds:connection-connect", args=[jfrog.pk]), follow=True)
    assert response.redirect_chain == [(reverse("feeds:connection-detail", args=[jfrog.pk]), 302)]
    assert "needs no consent in the browser" in response.content.decode()


def test_connect_through_the_pages_with_the_entra_simulator(login: Login, admin: User, settings: Any) -> None:
    """The real flow (msal, PKCE) kept in the session between the two requests."""
    # Entra allows plain http redirect URIs for localhost only.
    callback = "http://localhost" + reverse("feeds:connection-callback")
    with AzureDevOpsSimulator(redirect_uris=[callback]) as ado:
        settings.AZURE_ENTRA_URL = ado.entra_url
        settings.AZURE_DEVOPS_PKGS_URL = ado.pkgs_url
        settings.CA_BUNDLE = ado.ca_path
        client = login(admin)
        client.defaults["HTTP_HOST"] = "localhost"
        data = {
            "kind": "azure_devops",
            "name": "ado",
            "url": f"{ado.vssps_url}/{ado.organization}",
            "tenant_id": ado.tenant_id,
            "client_id": ado.client_id,
            "client_secret": ado.client_secret,
        }
        assert client.post(reverse("feeds:connection-create"), data).status_code == 302
        connection = Connection.objects.get(name="ado")
        started = client.post(reverse("feeds:connection-connect", args=[connection.pk]))
        assert started.status_code == 302 and started["Location"].startswith(ado.entra_url)
        answer = httpx.get(started["Location"], verify=ado.ca_path, follow_redirects=False)
        location = answer.headers["location"]
        assert location.startswith(callback)
        back = urlsplit(location)
        done = client.get(f"{back.path}?{back.query}", follow=True)
        body = done.content.decode()
        assert done.redirect_chain == [(reverse("feeds:connection-detail", args=[connection.pk]), 302)], body
        assert "Connected" in body and "badge-ok" in body
        connection.refresh_from_db()
        assert connection.status == ConnectionStatus.OK and connection.reveal("refresh_token")
        assert connection.reveal("refresh_token") not in body and ado.client_secret not in body


# --- the canary --------------------------------------------------------------------------------------------------


def test_no_secret_appears_in_any_connection_page(
    login: Login, admin: User, jfrog: Connection, devops: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub_consent(monkeypatch)
    client = login(admin)
    client.post(reverse("feeds:connection-connect", args=[devops.pk]))
    answers = [client.get(reverse("feeds:connection-callback"), {"code": "c", "state": "state-123"}, follow=True)]
    bad = {"name": jfrog.name, "url": "https://other.jfrog.io", "token": CANARY + " "}
    answers.append(client.post(reverse("feeds:connection-edit", args=[jfrog.pk]), bad))
    feed = Feed.objects.create(name="f", kind="jfrog", index_url="https://acme.jfrog.io/artifactory/api/pypi/py/simple")
    urls = [reverse("feeds:connections"), reverse("feeds:detail", args=[feed.pk])]
    for connection in (jfrog, devops):
        for name in ("connection-detail", "connection-edit", "connection-delete"):
            urls.append(reverse(f"feeds:{name}", args=[connection.pk]))
    answers += [client.get(url) for url in urls]
    devops.refresh_from_db()
    jfrog.refresh_from_db()
    stored = [jfrog.credential, devops.client_secret, devops.refresh_token]
    for response in answers:
        text = response.content.decode()
        assert not [s for s in (CANARY, CLIENT_SECRET, REFRESH, *stored) if s and s in text]
