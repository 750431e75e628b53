"""The Azure DevOps simulator is honest with clients that are not Feedkeeper's: msal runs the real authorization code
flow with PKCE against the simulated Entra, httpx sends the PAT Lifecycle Management API requests exactly as
Microsoft's REST reference shows them, PyJWT verifies the tokens against the published keys, and real pip installs
from the simulated Azure Artifacts feed with a PAT."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import os
import re
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import jwt
import msal
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from simulators.azure_devops import ADO_RESOURCE, ADO_SCOPE, AzureDevOpsSimulator

REPO_ROOT = Path(__file__).resolve().parents[2]
REDIRECT = "http://localhost:8000/azure-devops/callback"
# msal suggests form_post; most tests use the default query response mode, one uses form_post.
pytestmark = pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended:UserWarning")
API = {"api-version": "7.1-preview.1"}


# ---- fixtures and helpers ----------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests (inside msal) lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override ``verify=``; proxies must not see
    loopback traffic."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def sim() -> Iterator[AzureDevOpsSimulator]:
    with AzureDevOpsSimulator(redirect_uris=[REDIRECT]) as simulator:
        yield simulator


def msal_app(sim: AzureDevOpsSimulator, secret: str | None = None, **kwargs: Any) -> msal.ConfidentialClientApplication:
    """msal configured for the simulator: its https authority, its CA, no instance discovery."""
    return msal.ConfidentialClientApplication(
        sim.client_id,
        client_credential=sim.client_secret if secret is None else secret,
        authority=f"{sim.entra_url}/{sim.tenant_id}",
        instance_discovery=False,
        verify=sim.ca_path,
        **kwargs,
    )


def trust(ca_path: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_path)


def browse(sim: AzureDevOpsSimulator, auth_uri: str) -> dict[str, str]:
    """The browser leg: follow ``auth_uri`` and return the query the redirect URI receives."""
    answer = httpx.get(auth_uri, verify=trust(sim.ca_path), follow_redirects=False, trust_env=False)
    if answer.status_code == 200:  # response_mode=form_post: a page that posts the answer to the redirect URI
        assert f'action="{REDIRECT}"' in answer.text, answer.text
        return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"/>', html.unescape(answer.text)))
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT)
    return dict(parse_qsl(urlsplit(location).query))


def sign_in(sim: AzureDevOpsSimulator, app: msal.ConfidentialClientApplication, **kwargs: Any) -> dict[str, Any]:
    flow = app.initiate_auth_code_flow([ADO_SCOPE], redirect_uri=REDIRECT, **kwargs)
    return app.acquire_token_by_auth_code_flow(flow, browse(sim, flow["auth_uri"]))


def ado(sim: AzureDevOpsSimulator, token: str | None, **headers: str) -> httpx.Client:
    """An httpx client for the PAT API with ``Authorization: Bearer <Entra token>``, as the REST reference shows."""
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=sim.vssps_url, headers=headers, timeout=5, trust_env=False)


def pats_path(org: str = "acme") -> str:
    return f"/{org}/_apis/tokens/pats"


def days_from_now(sim: AzureDevOpsSimulator, days: float) -> str:
    when = sim.state.now() + dt.timedelta(days=days)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def create_pat(sim: AzureDevOpsSimulator, client: httpx.Client, **fields: Any) -> httpx.Response:
    body = {"displayName": "feedkeeper", "scope": "vso.packaging", "validTo": days_from_now(sim, 30), "allOrgs": False}
    body.update(fields)
    return client.post(pats_path(), params=API, json=body)


def pip_download(sim: AzureDevOpsSimulator, pat: str, dest: Path) -> subprocess.CompletedProcess[str]:
    index = f"http://anything:{pat}@{urlsplit(sim.pkgs_url).netloc}/acme/data/_packaging/private/pypi/simple/"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}  # e.g. no PIP_FIND_LINKS fallback
    env |= {
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INPUT": "1",
        "PIP_KEYRING_PROVIDER": "disabled",
    }
    argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--disable-pip-version-check"]
    argv += ["--index-url", index, "feedkeeper-probe", "-d", str(dest)]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


# ---- Entra: discovery and tokens ---------------------------------------------------------------------------------


def test_discovery_document_keys_and_token_claims(sim: AzureDevOpsSimulator) -> None:
    with httpx.Client(verify=trust(sim.ca_path), trust_env=False) as client:
        config = client.get(f"{sim.entra_url}/{sim.tenant_id}/v2.0/.well-known/openid-configuration").json()
        assert config["issuer"] == f"{sim.entra_url}/{sim.tenant_id}/v2.0"
        assert config["token_endpoint"] == f"{sim.entra_url}/{sim.tenant_id}/oauth2/v2.0/token"
        assert config["authorization_endpoint"] == f"{sim.entra_url}/{sim.tenant_id}/oauth2/v2.0/authorize"
        keys = client.get(config["jwks_uri"]).json()["keys"]
        common = client.get(f"{sim.entra_url}/organizations/v2.0/.well-known/openid-configuration").json()
        assert common["issuer"] == f"{sim.entra_url}/{{tenantid}}/v2.0"
        missing = client.get(f"{sim.entra_url}/no-such-tenant/v2.0/.well-known/openid-configuration")
        assert missing.status_code == 400
        assert missing.json()["error"] == "invalid_tenant" and missing.json()["error_codes"] == [90002]

    result = sign_in(sim, msal_app(sim))
    key = jwt.PyJWK(keys[0]).key
    claims = jwt.decode(result["access_token"], key, algorithms=["RS256"], audience=ADO_RESOURCE)
    assert claims["iss"] == f"https://sts.windows.net/{sim.tenant_id}/"
    assert claims["tid"] == sim.tenant_id and claims["upn"] == "admin@acme.example"
    assert claims["scp"] == "user_impersonation" and claims["appid"] == sim.client_id
    assert claims["exp"] - claims["iat"] == 3600
    id_claims = jwt.decode(result["id_token"], key, algorithms=["RS256"], audience=sim.client_id)
    assert id_claims["iss"] == config["issuer"] and id_claims["preferred_username"] == "admin@acme.example"
    assert set(result) >= {"token_type", "scope", "expires_in", "ext_expires_in", "access_token", "refresh_token"}
    assert result["token_type"] == "Bearer" and result["expires_in"] == 3599
    assert result["scope"] == f"{ADO_RESOURCE}/user_impersonation"


def test_msal_authorization_code_flow_refresh_and_withdrawn_consent(sim: AzureDevOpsSimulator) -> None:
    app = msal_app(sim)
    flow = app.initiate_auth_code_flow([ADO_SCOPE], redirect_uri=REDIRECT)
    query = dict(parse_qsl(urlsplit(flow["auth_uri"]).query))
    assert query["code_challenge_method"] == "S256" and "nonce" in query
    assert set(query["scope"].split()) == {ADO_SCOPE, "openid", "profile", "offline_access"}
    response = browse(sim, flow["auth_uri"])
    assert response["state"] == flow["state"]
    result = app.acquire_token_by_auth_code_flow(flow, response)  # msal checks state and the id_token nonce
    assert "access_token" in result, result
    assert result["id_token_claims"]["oid"] == sim.state.user_by_upn("admin@acme.example").oid  # type: ignore[union-attr]
    assert [a["username"] for a in app.get_accounts()] == ["admin@acme.example"]

    first_rt = result["refresh_token"]
    refreshed = app.acquire_token_by_refresh_token(first_rt, [ADO_SCOPE])
    assert "access_token" in refreshed, refreshed
    assert refreshed["refresh_token"] != first_rt  # rotated
    again = app.acquire_token_by_refresh_token(first_rt, [ADO_SCOPE])  # the old one still works (documented)
    assert "access_token" in again, again
    silent = app.acquire_token_silent([ADO_SCOPE], account=app.get_accounts()[0])
    assert silent and "access_token" in silent

    assert sim.revoke_refresh_tokens() >= 3
    denied = app.acquire_token_by_refresh_token(refreshed["refresh_token"], [ADO_SCOPE])
    assert denied["error"] == "invalid_grant" and denied["suberror"] == "consent_required"
    assert denied["error_codes"] == [65001] and denied["error_description"].startswith("AADSTS65001")

    silent_flow = app.initiate_auth_code_flow([ADO_SCOPE], redirect_uri=REDIRECT, prompt="none")
    silent_answer = app.acquire_token_by_auth_code_flow(silent_flow, browse(sim, silent_flow["auth_uri"]))
    assert silent_answer["error"] == "consent_required"
    renewed = sign_in(sim, app, response_mode="form_post")  # the user consents again
    assert "access_token" in renewed, renewed
    assert "access_token" in app.acquire_token_by_refresh_token(renewed["refresh_token"], [ADO_SCOPE])


def test_pkce_mismatch_and_reused_code_are_refused(sim: AzureDevOpsSimulator) -> None:
    app = msal_app(sim)
    flow = app.initiate_auth_code_flow([ADO_SCOPE], redirect_uri=REDIRECT)
    response = browse(sim, flow["auth_uri"])
    forged = dict(flow, code_verifier="x" * 43)
    mismatch = app.acquire_token_by_auth_code_flow(forged, dict(response))
    assert mismatch["error"] == "invalid_grant" and mismatch["error_codes"] == [501481]

    flow = app.initiate_auth_code_flow([ADO_SCOPE], redirect_uri=REDIRECT)
    response = browse(sim, flow["auth_uri"])
    assert "access_token" in app.acquire_token_by_auth_code_flow(dict(flow), dict(response))
    reused = app.acquire_token_by_auth_code_flow(dict(flow), dict(response))
    assert reused["error"] == "invalid_grant" and reused["error_codes"] == [54005]

    flow = app.initiate_auth_code_flow([ADO_SCOPE], redirect_uri=REDIRECT)
    response = browse(sim, flow["auth_uri"])
    sim.set_clock_offset(601)  # "Authorization codes are short lived. Typically, they expire after about 10 minutes."
    expired = app.acquire_token_by_auth_code_flow(flow, response)
    assert expired["error"] == "invalid_grant" and expired["error_codes"] == [70008]


def test_wrong_client_secret_is_invalid_client(sim: AzureDevOpsSimulator) -> None:
    flow = msal_app(sim).initiate_auth_code_flow([ADO_SCOPE], redirect_uri=REDIRECT)
    result = msal_app(sim, secret="not-the-secret").acquire_token_by_auth_code_flow(flow, browse(sim, flow["auth_uri"]))
    assert result["error"] == "invalid_client" and result["error_codes"] == [7000215]
    form = {"grant_type": "client_credentials", "client_id": sim.client_id, "scope": ADO_SCOPE}
    url = f"{sim.entra_url}/{sim.tenant_id}/oauth2/v2.0/token"
    raw = httpx.post(url, data={**form, "client_secret": "wrong"}, verify=trust(sim.ca_path), trust_env=False)
    assert raw.status_code == 401 and raw.json()["error"] == "invalid_client"
    missing = httpx.post(url, data=form, verify=trust(sim.ca_path), trust_env=False)
    assert missing.status_code == 401 and missing.json()["error_codes"] == [7000218]
    basic = httpx.post(
        url, data=form, auth=(sim.client_id, sim.client_secret), verify=trust(sim.ca_path), trust_env=False
    )
    assert basic.status_code == 200, basic.text  # RFC 6749 Basic client authentication is "also supported"


def test_authorize_validates_client_redirect_uri_and_pkce(sim: AzureDevOpsSimulator) -> None:
    authorize = f"{sim.entra_url}/{sim.tenant_id}/oauth2/v2.0/authorize"
    params = {
        "client_id": sim.client_id,
        "response_type": "code",
        "redirect_uri": "http://localhost:9999/elsewhere",
        "scope": f"{ADO_SCOPE} offline_access openid",
        "state": "s1",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    with httpx.Client(verify=trust(sim.ca_path), trust_env=False) as client:
        page = client.get(authorize, params=params)
        assert page.status_code == 400 and "location" not in page.headers and "AADSTS50011" in page.text
        sim.register_redirect_uri("http://localhost:9999/elsewhere")
        assert client.get(authorize, params=params).status_code == 302
        unknown = client.get(authorize, params={**params, "client_id": "00000000-0000-0000-0000-000000000000"})
        assert unknown.status_code == 400 and "AADSTS700016" in unknown.text
        no_pkce = {k: v for k, v in params.items() if not k.startswith("code_challenge")}
        answer = dict(parse_qsl(urlsplit(client.get(authorize, params=no_pkce).headers["location"]).query))
        assert answer["error"] == "invalid_request" and answer["state"] == "s1"
        plain = client.get(authorize, params={**params, "code_challenge_method": "plain"})
        assert "error=invalid_request" in plain.headers["location"]
        sim.set_option("require_pkce", False)
        assert "code=" in client.get(authorize, params=no_pkce).headers["location"]
        with pytest.raises(ValueError):
            sim.register_redirect_uri("http://feedkeeper.example/callback")  # http only for localhost


@pytest.mark.parametrize(
    ("outcome", "error"),
    [("access_denied", "access_denied"), ("interaction_required", "interaction_required"),
     ("consent_required", "consent_required")],
)  # fmt: skip
def test_authorize_outcomes_reach_msal(sim: AzureDevOpsSimulator, outcome: str, error: str) -> None:
    sim.set_authorize_outcome(outcome)
    app = msal_app(sim)
    flow = app.initiate_auth_code_flow([ADO_SCOPE], redirect_uri=REDIRECT)
    result = app.acquire_token_by_auth_code_flow(flow, browse(sim, flow["auth_uri"]))
    assert result["error"] == error and result["error_description"].startswith("AADSTS")


def test_refresh_token_inactivity_admin_revocation_and_strict_rotation(sim: AzureDevOpsSimulator) -> None:
    app = msal_app(sim)
    rt = sign_in(sim, app)["refresh_token"]
    sim.set_clock_offset(91 * 86400)  # refresh tokens live 90 days
    assert app.acquire_token_by_refresh_token(rt, [ADO_SCOPE])["error_codes"] == [700082]
    sim.set_clock_offset(0)
    rt = sign_in(sim, app)["refresh_token"]
    sim.revoke_refresh_tokens(reason="revoked")
    revoked = app.acquire_token_by_refresh_token(rt, [ADO_SCOPE])
    assert revoked["error"] == "invalid_grant" and revoked["error_codes"] == [50173]

    sim.set_option("revoke_used_refresh_tokens", True)
    rt = sign_in(sim, app)["refresh_token"]
    assert "access_token" in app.acquire_token_by_refresh_token(rt, [ADO_SCOPE])
    assert app.acquire_token_by_refresh_token(rt, [ADO_SCOPE])["error"] == "invalid_grant"


def test_certificate_credential_client_assertion(sim: AzureDevOpsSimulator) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "feedkeeper")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    credential = {
        "private_key": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        "public_certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
    }
    app = msal.ConfidentialClientApplication(
        sim.client_id, client_credential=credential, authority=sim.authority, instance_discovery=False,
        verify=sim.ca_path,
    )  # fmt: skip
    refused = app.acquire_token_for_client([ADO_SCOPE])
    assert refused["error"] == "invalid_client" and refused["error_codes"] == [700027]
    sim.add_client_certificate(credential["public_certificate"])
    result = sign_in(sim, app)
    assert "access_token" in result, result
    assert jwt.decode(result["access_token"], options={"verify_signature": False})["appidacr"] == "2"


# ---- the PAT Lifecycle Management API ------------------------------------------------------------------------------


def test_create_pat_as_documented(sim: AzureDevOpsSimulator) -> None:
    token = sign_in(sim, msal_app(sim))["access_token"]
    with ado(sim, token) as client:
        body = {"displayName": "new_token", "scope": "vso.packaging", "allOrgs": False}
        valid_to = (sim.state.now() + dt.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S") + ".319Z"
        answer = client.post(pats_path(), params=API, json={**body, "validTo": valid_to})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json; charset=utf-8; api-version=7.1-preview.1"
    result = answer.json()
    assert result["patTokenError"] == "none"
    pat = result["patToken"]
    assert list(pat) == ["displayName", "validTo", "scope", "targetAccounts", "validFrom", "authorizationId", "token"]
    assert pat["validTo"] == valid_to.replace(".319Z", ".32Z")  # stored at 1/300 s like the documented example
    assert pat["targetAccounts"] == [sim.state.organization("acme").id]  # type: ignore[union-attr]
    assert len(pat["token"]) == 52 and pat["token"].isalnum()
    assert sim.is_live_pat(pat["token"])
    [seen] = sim.pats(user="admin@acme.example")
    assert seen["authorizationId"] == pat["authorizationId"] and seen["scope"] == "vso.packaging"
    assert seen["revoked"] is False and seen["token"] == pat["token"]


def test_list_pages_with_continuation_token(sim: AzureDevOpsSimulator) -> None:
    with ado(sim, sim.issue_user_token()) as client:
        ids = [create_pat(sim, client, displayName=f"pat-{i}").json()["patToken"]["authorizationId"] for i in range(5)]
        seen: list[dict[str, Any]] = []
        token = None
        pages = 0
        while True:
            params = {**API, "$top": "2", **({"continuationToken": token} if token else {})}
            page = client.get(pats_path(), params=params).json()
            seen += page["patTokens"]
            pages += 1
            token = page["continuationToken"]
            if not token:
                break
            changed = {**API, "$top": "2", "continuationToken": token, "displayFilterOption": "all"}
            mismatch = client.get(pats_path(), params=changed)
            assert mismatch.status_code == 400  # "Subsequent calls … require the same filtering options"
        assert pages == 3 and [p["authorizationId"] for p in seen] == ids
        assert all(p["token"] is None for p in seen)  # the value is never listed
        client.delete(pats_path(), params={**API, "authorizationId": ids[0]})
        active = client.get(pats_path(), params=API).json()["patTokens"]
        revoked = client.get(pats_path(), params={**API, "displayFilterOption": "revoked"}).json()["patTokens"]
        assert len(active) == 4 and [p["authorizationId"] for p in revoked] == [ids[0]]
        everything = client.get(
            pats_path(),
            params={**API, "displayFilterOption": "all", "sortByOption": "displayName", "isSortAscending": "false"},
        ).json()["patTokens"]
        assert [p["displayName"] for p in everything] == [f"pat-{i}" for i in range(4, -1, -1)]
        assert client.get(pats_path(), params={**API, "$top": "101"}).status_code == 400


def test_get_update_and_revoke(sim: AzureDevOpsSimulator) -> None:
    with ado(sim, sim.issue_user_token()) as client:
        created = create_pat(sim, client).json()["patToken"]
        auth_id, value = created["authorizationId"], created["token"]
        got = client.get(pats_path(), params={**API, "authorizationId": auth_id}).json()
        assert got["patTokenError"] == "none" and got["patToken"]["token"] is None
        new_valid_to = days_from_now(sim, 60)
        updated = client.put(
            pats_path(),
            params=API,
            json={"authorizationId": auth_id, "displayName": "renamed", "validTo": new_valid_to},
        ).json()
        assert updated["patTokenError"] == "none" and updated["patToken"]["displayName"] == "renamed"
        assert updated["patToken"]["token"] is None and updated["patToken"]["scope"] == "vso.packaging"
        assert sim.is_live_pat(value)  # the value does not change
        assert client.delete(pats_path(), params={**API, "authorizationId": auth_id}).status_code == 204
        assert not sim.is_live_pat(value) and sim.pats()[0]["revoked"] is True
        after = client.put(pats_path(), params=API, json={"authorizationId": auth_id, "displayName": "again"}).json()
        assert after == {"patToken": None, "patTokenError": "invalidAuthorizationId"}  # revoked PATs can't be updated
        unknown = client.delete(pats_path(), params={**API, "authorizationId": "3d3aca0c-9ad3-4b07-8334-08ec8b1ddc32"})
        assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"displayName": ""}, "displayNameRequired"),
        ({"scope": "vso.packaging vso.no_such_scope"}, "invalidScope"),
        ({"scope": ""}, "invalidScope"),
        ({"validTo": "2001-01-01T00:00:00Z"}, "invalidValidTo"),
        ({"validTo": "next tuesday"}, "invalidValidTo"),
        ({"allOrgs": True}, "globalPatPolicyViolation"),
    ],
)
def test_pat_token_errors(sim: AzureDevOpsSimulator, fields: dict[str, Any], error: str) -> None:
    with ado(sim, sim.issue_user_token()) as client:
        answer = create_pat(sim, client, **fields)
    assert answer.status_code == 200 and answer.json() == {"patToken": None, "patTokenError": error}
    assert sim.pats() == []


def test_pat_policies_and_error_status_option(sim: AzureDevOpsSimulator) -> None:
    with ado(sim, sim.issue_user_token()) as client:
        assert create_pat(sim, client, scope="app_token").json()["patTokenError"] == "none"
        sim.set_policy(restrict_full_scope=True, max_lifespan_days=7)
        assert create_pat(sim, client, scope="app_token").json()["patTokenError"] == "fullScopePatPolicyViolation"
        assert create_pat(sim, client).json()["patTokenError"] == "patLifespanPolicyViolation"
        assert create_pat(sim, client, validTo=days_from_now(sim, 6)).json()["patTokenError"] == "none"
        sim.set_policy(restrict_global=False)
        assert (
            create_pat(sim, client, validTo=days_from_now(sim, 6), allOrgs=True).json()["patToken"]["targetAccounts"]
            is None
        )
        sim.set_option("pat_error_status", 400)
        refused = create_pat(sim, client, displayName="")
        assert refused.status_code == 400 and refused.json()["patTokenError"] == "displayNameRequired"
        assert (
            client.get(pats_path(), params={**API, "authorizationId": "nope"}).json()["patTokenError"]
            == "invalidAuthorizationId"
        )


def test_users_see_and_revoke_only_their_own_pats(sim: AzureDevOpsSimulator) -> None:
    sim.add_user("bob@acme.example", "Bob Builder")
    with ado(sim, sim.issue_user_token()) as alice, ado(sim, sim.issue_user_token(user="bob@acme.example")) as bob:
        mine = create_pat(sim, alice).json()["patToken"]
        create_pat(sim, bob, displayName="bobs")
        assert [p["displayName"] for p in bob.get(pats_path(), params=API).json()["patTokens"]] == ["bobs"]
        got = bob.get(pats_path(), params={**API, "authorizationId": mine["authorizationId"]}).json()
        assert got == {"patToken": None, "patTokenError": "authorizationNotFound"}
        assert bob.delete(pats_path(), params={**API, "authorizationId": mine["authorizationId"]}).status_code == 404
        assert sim.is_live_pat(mine["token"])
    assert [p["user"] for p in sim.pats(user="bob@acme.example")] == ["bob@acme.example"]


@pytest.mark.parametrize("credential", ["none", "pat", "app_only", "expired", "garbage", "graph"])
def test_sign_in_page_for_anything_but_a_delegated_entra_token(sim: AzureDevOpsSimulator, credential: str) -> None:
    headers: dict[str, str] = {}
    if credential == "pat":
        with ado(sim, sim.issue_user_token()) as client:
            pat = create_pat(sim, client).json()["patToken"]["token"]
        headers["Authorization"] = "Basic " + base64.b64encode(f":{pat}".encode()).decode()
    elif credential == "app_only":
        result = msal_app(sim).acquire_token_for_client([ADO_SCOPE])
        assert "access_token" in result, result
        headers["Authorization"] = f"Bearer {result['access_token']}"
    elif credential == "expired":
        headers["Authorization"] = f"Bearer {sim.issue_user_token()}"
        sim.set_clock_offset(3601)
    elif credential == "garbage":
        headers["Authorization"] = "Bearer eyJhbGciOiJub25lIn0.e30."
    elif credential == "graph":
        app = msal_app(sim)  # one consent for two resources, then a token for Microsoft Graph
        flow = app.initiate_auth_code_flow([ADO_SCOPE, "User.Read"], redirect_uri=REDIRECT)
        graph = app.acquire_token_by_auth_code_flow(flow, browse(sim, flow["auth_uri"]), scopes=["User.Read"])
        assert "access_token" in graph, graph
        assert jwt.decode(graph["access_token"], options={"verify_signature": False})["aud"] != ADO_RESOURCE
        headers["Authorization"] = f"Bearer {graph['access_token']}"
    with ado(sim, None, **headers) as client:
        answer = client.get(pats_path(), params=API)
        assert answer.status_code == 203
        assert answer.headers["content-type"].startswith("text/html") and "Sign In" in answer.text
        assert answer.headers["x-vss-resourcetenant"] == sim.tenant_id
        suppressed = client.get(pats_path(), params=API, headers={"X-TFS-FedAuthRedirect": "Suppress"})
        assert suppressed.status_code == 401
        challenges = suppressed.headers.get_list("www-authenticate")
        assert f"Bearer authorization_uri={sim.entra_url}/{sim.tenant_id}" in challenges
        assert suppressed.json()["typeKey"] == "UnauthorizedRequestException"
        sim.set_option("bad_credentials_status", 401)
        assert client.get(pats_path(), params=API).status_code == 401


def test_api_version_and_request_shape_errors(sim: AzureDevOpsSimulator) -> None:
    with ado(sim, sim.issue_user_token()) as client:
        missing = client.post(pats_path(), json={})
        assert missing.status_code == 400 and missing.json()["typeKey"] == "VssVersionNotSpecifiedException"
        assert missing.json()["message"].startswith('No api-version was supplied for the "POST" request.')
        released = client.get(pats_path(), params={"api-version": "7.1"})
        assert released.status_code == 400 and released.json()["typeKey"] == "VssInvalidPreviewVersionException"
        assert client.get(pats_path(), params={"api-version": "9.0-preview.1"}).status_code == 400
        assert client.get(pats_path()).status_code == 400
        in_accept = client.get(pats_path(), headers={"Accept": "application/json; api-version=7.2-preview.1"})
        assert in_accept.status_code == 200 and in_accept.headers["content-type"].endswith("api-version=7.2-preview.1")
        sim.set_option("require_api_version_on_get", False)
        assert client.get(pats_path()).status_code == 200
        malformed = client.post(
            pats_path(), params=API, content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert malformed.status_code == 400 and malformed.json()["typeKey"] == "JsonReaderException"
        assert client.get("/nobody/_apis/tokens/pats", params=API).status_code == 404
        path_case = client.get("/acme/_apis/Tokens/Pats", params=API)  # the docs spell it both ways
        assert path_case.status_code == 200


# ---- Azure Artifacts feed with real pip ----------------------------------------------------------------------------


def test_pip_installs_with_a_live_pat_and_fails_after_revoke_and_expiry(
    sim: AzureDevOpsSimulator, tmp_path: Path
) -> None:
    with ado(sim, sim.issue_user_token()) as client:
        first = create_pat(sim, client).json()["patToken"]
        ok = pip_download(sim, first["token"], tmp_path / "ok")
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert [p.name for p in (tmp_path / "ok").iterdir()] == ["feedkeeper_probe-1.0.0-py3-none-any.whl"]
        client.delete(pats_path(), params={**API, "authorizationId": first["authorizationId"]})
        revoked = pip_download(sim, first["token"], tmp_path / "revoked")
        assert revoked.returncode != 0 and "401" in revoked.stdout + revoked.stderr

        short = create_pat(sim, client, validTo=days_from_now(sim, 1)).json()["patToken"]
    sim.set_clock_offset(2 * 86400)
    assert not sim.is_live_pat(short["token"])
    expired = pip_download(sim, short["token"], tmp_path / "expired")
    assert expired.returncode != 0 and "401" in expired.stdout + expired.stderr


def test_feed_authentication_rules(sim: AzureDevOpsSimulator) -> None:
    with ado(sim, sim.issue_user_token()) as client:
        packaging = create_pat(sim, client).json()["patToken"]["token"]
        code_only = create_pat(sim, client, scope="vso.code").json()["patToken"]["token"]
    org_feed = sim.add_feed("shared", packages=[("shared-lib", "2.0.0")])
    assert org_feed.endswith("/acme/_packaging/shared/pypi/simple/")
    with httpx.Client(timeout=5, trust_env=False) as http:
        anonymous = http.get(sim.feed_index_url)
        assert anonymous.status_code == 401
        assert f'Basic realm="{sim.pkgs_url}/"' in anonymous.headers.get_list("www-authenticate")
        assert "TFS-Federated" in anonymous.headers.get_list("www-authenticate")
        assert anonymous.headers["x-vss-authorizationendpoint"] == f"{sim.vssps_url}/acme/"
        assert http.get(sim.feed_index_url, auth=("x", code_only)).status_code == 401  # no Packaging scope
        root = http.get(sim.feed_index_url, auth=("any-user", packaging))
        assert root.status_code == 200 and "feedkeeper-probe" in root.text
        assert "shared-lib" in http.get(org_feed + "shared-lib/", auth=("", packaging)).text
        assert http.get(sim.feed_index_url + "no-such-project/", auth=("x", packaging)).status_code == 404
        sim.set_option("feed_bad_credentials_status", 203)
        assert http.get(sim.feed_index_url, auth=("x", "wrong")).status_code == 203
        suppressed = http.get(sim.feed_index_url, auth=("x", "wrong"), headers={"X-TFS-FedAuthRedirect": "Suppress"})
        assert suppressed.status_code == 401


# ---- faults, latency, control API, TLS, command line ---------------------------------------------------------------


def test_faults_and_latency(sim: AzureDevOpsSimulator) -> None:
    with ado(sim, sim.issue_user_token()) as client:
        sim.faults.add(429, count=1, path_contains="/_apis/tokens/pats", method="POST", retry_after=7)
        throttled = create_pat(sim, client)
        assert throttled.status_code == 429 and throttled.headers["retry-after"] == "7"
        assert throttled.json()["typeKey"] == "RequestBlockedException" and sim.pats() == []
        assert create_pat(sim, client).status_code == 200

        sim.faults.add(500, path_contains="/_packaging/")
        assert httpx.get(sim.feed_index_url, trust_env=False).status_code == 500
        sim.faults.add("timeout", path_contains="/_apis/", hang=2.0)
        with pytest.raises(httpx.ReadTimeout):
            client.get(pats_path(), params=API, timeout=0.3)

        sim.latency = 0.25
        started = time.monotonic()
        assert client.get(pats_path(), params=API).status_code == 200
        assert time.monotonic() - started >= 0.25
        started = time.monotonic()
        assert client.get("/_sim/state").status_code == 200  # control calls skip latency and faults
        assert time.monotonic() - started < 0.25
    sim.latency = 0.0
    sim.faults.add(503, path_contains="/oauth2/v2.0/token", retry_after=1)
    with pytest.raises(msal.exceptions.MsalServiceError, match="503"):  # msal raises on a 5xx from the token endpoint
        msal_app(sim).acquire_token_for_client([ADO_SCOPE])
    assert ("vssps", "POST", "/acme/_apis/tokens/pats") in sim.requests
    assert ("entra", "POST", f"/{sim.tenant_id}/oauth2/v2.0/token") in sim.requests


def test_control_api(sim: AzureDevOpsSimulator) -> None:
    with httpx.Client(base_url=sim.vssps_url, trust_env=False, timeout=5) as control:
        token = control.post("/_sim/token", json={}).json()["access_token"]
        with ado(sim, token) as client:
            pat = create_pat(sim, client).json()["patToken"]
        state = control.get("/_sim/state").json()
        assert state["pats"][0]["token"] == pat["token"] and state["client_secret"] == sim.client_secret
        assert control.post("/_sim/redirect_uris", json={"uri": "https://feedkeeper.example/cb"}).status_code == 200
        assert "https://feedkeeper.example/cb" in sim.redirect_uris
        assert control.post("/_sim/latency", json={"seconds": 0.01}).json() == {"latency": 0.01}
        assert control.post("/_sim/faults", json={"status": 429, "count": 2}).json()["queued"][0]["remaining"] == 2
        assert control.post("/_sim/faults", json={"clear": True}).json()["queued"] == []
        assert control.post("/_sim/policy", json={"max_lifespan_days": 7}).json()["max_lifespan_days"] == 7
        control.post("/_sim/clock", json={"advance_seconds": 31 * 86400})
        assert not sim.is_live_pat(pat["token"])
        assert control.post("/_sim/revoke_refresh_tokens", json={"reason": "revoked"}).json() == {"revoked": 0}
        assert (
            control.post("/_sim/options", json={"bad_credentials_status": 401}).json()["bad_credentials_status"] == 401
        )
        assert control.post("/_sim/options", json={"nope": 1}).status_code == 400
        assert control.get("/_sim/nothing").status_code == 404
    assert httpx.get(f"{sim.pkgs_url}/_sim/state", trust_env=False).status_code == 404


def test_tls_everywhere_and_cleanup() -> None:
    with AzureDevOpsSimulator(tls=True) as sim:
        ca = sim.ca_path
        assert ca and os.path.exists(ca)
        assert sim.vssps_url.startswith("https://") and sim.pkgs_url.startswith("https://")
        with httpx.Client(verify=trust(ca), trust_env=False) as client:
            answer = client.get(f"{sim.vssps_url}/acme/_apis/tokens/pats", params=API)
            assert answer.status_code == 203
            assert client.get(sim.feed_index_url).status_code == 401
        with pytest.raises(httpx.ConnectError):
            httpx.get(sim.feed_index_url, trust_env=False)  # not trusted without the simulator's CA
    assert not os.path.exists(ca)


def test_command_line_ready_line_and_signal() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.azure_devops", "--port", "0", "--redirect-uri", REDIRECT],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("azure_devops: entra=https://127.0.0.1:"), line
        fields = dict(item.split("=", 1) for item in line.removeprefix("azure_devops: ").split())
        assert set(fields) == {"entra", "vssps", "pkgs", "tenant", "client_id", "client_secret", "ca", "feed"}
        config = httpx.get(
            f"{fields['entra']}/{fields['tenant']}/v2.0/.well-known/openid-configuration", verify=trust(fields["ca"])
        )
        assert config.status_code == 200
        state = httpx.get(f"{fields['vssps']}/_sim/state", trust_env=False).json()
        assert state["client_id"] == fields["client_id"] and REDIRECT in state["apps"][0]["redirect_uris"]
        assert httpx.get(fields["feed"], trust_env=False).status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert not os.path.exists(fields["ca"])


def test_form_post_and_token_endpoint_protocol_errors(sim: AzureDevOpsSimulator) -> None:
    authorize = f"{sim.entra_url}/{sim.tenant_id}/oauth2/v2.0/authorize"
    token_url = f"{sim.entra_url}/{sim.tenant_id}/oauth2/v2.0/token"
    verifier = "v" * 43
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "client_id": sim.client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": f"{ADO_SCOPE} openid",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "response_mode": "form_post",
    }
    with httpx.Client(verify=trust(sim.ca_path), trust_env=False) as client:
        page = client.get(f"{authorize}?{urlencode(params)}")
        assert page.status_code == 200 and f'action="{REDIRECT}"' in page.text
        code = page.text.split('name="code" value="')[1].split('"')[0]
        base = {"client_id": sim.client_id, "client_secret": sim.client_secret, "code": code}
        wrong_uri = client.post(
            token_url,
            data={
                **base,
                "grant_type": "authorization_code",
                "redirect_uri": "http://localhost:1/x",
                "code_verifier": verifier,
            },
        )
        assert wrong_uri.status_code == 400 and wrong_uri.json()["error"] == "invalid_grant"
        assert client.get(token_url).json()["error_codes"] == [900561]
        assert client.post(token_url, data={"client_id": sim.client_id}).json()["error_codes"] == [900144]
        unsupported = client.post(token_url, data={**base, "grant_type": "password"}).json()
        assert unsupported["error"] == "unsupported_grant_type"
        bad_scope = client.post(
            token_url, data={**base, "grant_type": "client_credentials", "scope": f"{ADO_RESOURCE}/user_impersonation"}
        ).json()
        assert bad_scope["error"] == "invalid_scope"
