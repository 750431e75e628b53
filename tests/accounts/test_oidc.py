"""Single sign-on against a loopback OpenID Connect provider: the authorization-code flow with PKCE signs a person
in with the role their identity provider's groups map to, follows role changes, refuses people without a mapped
role, tokens for another client or from another issuer, and never lets a provider take over a local account."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import OidcIdentity
from audit.models import AuditEvent
from core.roles import role_of
from simulators.oidc import OIDCProvider

CALLBACK = "http://testserver/account/sso/callback/"


@pytest.fixture
def idp(settings: Any) -> Iterator[OIDCProvider]:
    with OIDCProvider(redirect_uris=[CALLBACK]) as provider:
        for name, value in provider.settings().items():
            setattr(settings, name, value)
        settings.OIDC_ROLE_MAP = "fk-admins=admin,fk-ops=operator,fk-readers=viewer"
        settings.OIDC_PROVIDER_NAME = "Acme SSO"
        provider.users["dana"] = {"email": "dana@acme.example", "groups": ["fk-readers", "fk-ops"]}
        provider.signed_in = "dana"
        yield provider


def _sign_in(client: Client, idp: OIDCProvider) -> Any:
    """The browser's part: start at Feedkeeper, let the provider answer, come back with the code."""
    start = client.get("/account/sso/start/?next=/feeds/")
    assert start.status_code == 302
    authorize = urlsplit(start["Location"])
    query = parse_qs(authorize.query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    answer = httpx.get(start["Location"], follow_redirects=False)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    return client.get(f"{back.path}?{back.query}")


def test_a_person_signs_in_with_the_role_their_groups_map_to(db: None, idp: OIDCProvider) -> None:
    client = Client()
    assert "Sign in with Acme SSO" in client.get("/login/").content.decode()
    done = _sign_in(client, idp)
    assert done.status_code == 302 and done["Location"] == "/feeds/"
    user = User.objects.get(username="dana")
    assert role_of(user) == "operator" and not user.has_usable_password()
    assert OidcIdentity.objects.get(user=user).subject == "sub-dana"
    assert client.get("/feeds/").status_code == 200
    assert AuditEvent.objects.filter(action="login", actor=user).exists()


def test_the_role_follows_the_provider_at_every_sign_in(db: None, idp: OIDCProvider) -> None:
    _sign_in(Client(), idp)
    idp.users["dana"]["groups"] = ["fk-admins"]
    client = Client()
    _sign_in(client, idp)
    user = User.objects.get(username="dana")
    assert role_of(user) == "admin"
    # The identity provider owns the second factor of a single-sign-on session.
    assert client.get("/targets/").status_code == 200


def test_someone_without_a_mapped_role_is_not_let_in(db: None, idp: OIDCProvider) -> None:
    idp.users["dana"]["groups"] = ["marketing"]
    client = Client()
    done = _sign_in(client, idp)
    assert done.status_code == 302 and done["Location"] == "/login/"
    assert not User.objects.filter(username="dana").exists()
    assert client.get("/feeds/").status_code == 302
    assert AuditEvent.objects.filter(action="login_failed", detail__via="oidc").exists()


@pytest.mark.parametrize("misbehaviour", ["audience", "issuer_override"])
def test_an_id_token_for_another_client_or_from_another_issuer_is_refused(
    db: None, idp: OIDCProvider, misbehaviour: str
) -> None:
    setattr(idp, misbehaviour, "https://someone-else.example")
    client = Client()
    done = _sign_in(client, idp)
    assert done["Location"] == "/login/" and not User.objects.filter(username="dana").exists()


def test_a_provider_cannot_take_over_a_local_account_of_the_same_name(db: None, idp: OIDCProvider, admin: User) -> None:
    idp.users[admin.username] = {"email": admin.email, "groups": ["fk-readers"]}
    idp.signed_in = admin.username
    client = Client()
    _sign_in(client, idp)
    linked = OidcIdentity.objects.get(subject=f"sub-{admin.username}").user
    assert linked.pk != admin.pk and linked.username == f"{admin.username}-2"
    assert role_of(admin) == "admin" and role_of(linked) == "viewer"


def test_a_code_works_once(db: None, idp: OIDCProvider) -> None:
    client = Client()
    start = client.get("/account/sso/start/")
    answer = httpx.get(start["Location"], follow_redirects=False)
    back = urlsplit(answer.headers["location"])
    # Someone who saw the redirect replays it with the same pending state: the provider refuses the used code.
    replay = Client()
    session = replay.session
    session.update({k: v for k, v in client.session.items() if k.startswith("oidc")})
    session.save()
    assert client.get(f"{back.path}?{back.query}")["Location"] == "/"
    assert replay.get(f"{back.path}?{back.query}")["Location"] == "/login/"
    assert replay.get("/feeds/").status_code == 302


def test_single_sign_on_is_off_until_configured(db: None, settings: Any) -> None:
    settings.OIDC_RP_CLIENT_ID = ""
    client = Client()
    assert "Sign in with" not in client.get("/login/").content.decode()
    assert client.get("/account/sso/start/").status_code == 404


def test_no_client_secret_code_or_token_is_logged_or_stored(
    db: None, idp: OIDCProvider, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from tests.support.leaks import database_dump

    caplog.set_level(logging.DEBUG)
    idp.audience = "https://someone-else.example"  # a refused sign-in logs and audits its reason
    client = Client()
    start = client.get("/account/sso/start/")
    answer = httpx.get(start["Location"], follow_redirects=False)
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    _back = urlsplit(answer.headers["location"])
    client.get(f"{_back.path}?{_back.query}")
    idp.audience = None
    _sign_in(Client(), idp)
    seen = database_dump() + caplog.text
    for secret in (idp.client_secret, code):
        assert secret not in seen
