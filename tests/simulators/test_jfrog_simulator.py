"""The JFrog simulator speaks JFrog's documented wire: httpx calls shaped like JFrog's curl examples, and real pip."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulators.jfrog import JFrogSimulator

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable
TOKENS = "/access/api/v1/tokens"
SIMPLE = "/artifactory/api/pypi/pypi-local/simple/"
WHEEL = "feedkeeper_probe-1.0.0-py3-none-any.whl"
DAY = 86400
YEAR = 31536000


# ---- fixtures and helpers --------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """pip honours proxy variables; the simulator is on loopback."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def sim() -> Iterator[JFrogSimulator]:
    with JFrogSimulator() as simulator:
        yield simulator


def client(sim: JFrogSimulator, token: str | None = None, timeout: float = 5) -> httpx.Client:
    """An httpx client; ``token`` goes out as ``Authorization: Bearer`` like JFrog's curl examples."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=sim.url, headers=headers, timeout=timeout, trust_env=False)


def create(sim: JFrogSimulator, token: str, **form: Any) -> httpx.Response:
    """``curl -H "Authorization: Bearer <token>" -XPOST …/access/api/v1/tokens -d "k=v" …`` (form-encoded)."""
    data = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in form.items()}
    with client(sim, token) as c:
        return c.post(TOKENS, data=data)


def revoke_by_value(sim: JFrogSimulator, token: str, value: str) -> httpx.Response:
    """``curl -H "Authorization: Bearer …" -H "Content-Type: application/json" -X DELETE …/tokens/revoke
    -d '{"token":"…"}'``."""
    with client(sim, token) as c:
        return c.request(
            "DELETE",
            f"{TOKENS}/revoke",
            content=json.dumps({"token": value}),
            headers={"Content-Type": "application/json"},
        )


def jwt_payload(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def pip_download(sim: JFrogSimulator, user: str, secret: str, dest: Path) -> subprocess.CompletedProcess[str]:
    """Real pip against the simple index, credentials in the URL as in a pip.conf ``index-url``."""
    index = f"http://{user}:{secret}@127.0.0.1:{sim.port}{SIMPLE}"
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INPUT": "1", "PIP_KEYRING_PROVIDER": "disabled"}
    command = [PYTHON, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--disable-pip-version-check"]
    command += ["--no-input", "--index-url", index, "feedkeeper-probe", "-d", str(dest)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)


def errors(response: httpx.Response) -> list[dict[str, Any]]:
    return list(response.json()["errors"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- create (JFrog REST APIs: "Create Token", "Create Token API Examples") -------------------------------------------


def test_create_with_the_documented_form_curl_returns_a_jwt_and_its_id(sim: JFrogSimulator) -> None:
    response = create(sim, sim.admin_token, scope="applied-permissions/user")
    body = response.json()
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    assert set(body) == {"token_id", "access_token", "expires_in", "scope", "token_type"}
    assert body["scope"] == "applied-permissions/user" and body["token_type"] == "Bearer"
    assert body["expires_in"] == YEAR  # the platform default expiry
    assert re.fullmatch(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+", body["access_token"])
    claims = jwt_payload(body["access_token"])
    assert claims["jti"] == body["token_id"] and claims["sub"].endswith("/users/admin")
    assert claims["scp"] == "applied-permissions/user" and claims["aud"] == "*@*"
    assert claims["exp"] - claims["iat"] == YEAR and claims["iss"].startswith("jfac@")
    assert sim.is_live(body["access_token"])


def test_create_with_the_documented_json_body_for_another_user(sim: JFrogSimulator) -> None:
    with client(sim, sim.admin_token) as c:
        response = c.post(
            TOKENS,
            content=json.dumps(
                {
                    "username": "jenkins",
                    "scope": "applied-permissions/groups:CI",
                    "project_key": "test",
                    "grant_type": "client_credentials",
                }
            ),
            headers={"Content-Type": "application/json"},
        )
    body = response.json()
    assert response.status_code == 200 and body["scope"] == "applied-permissions/groups:CI"
    assert jwt_payload(body["access_token"])["sub"].endswith("/users/jenkins")  # a transient user
    assert sim.token(body["token_id"])["username"] == "jenkins"  # type: ignore[index]


def test_refreshable_and_reference_tokens_come_back_when_asked_for(sim: JFrogSimulator) -> None:
    response = create(
        sim, sim.user_token or "", refreshable=True, include_reference_token=True, description="feed", expires_in=DAY
    )
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {
        "token_id",
        "access_token",
        "refresh_token",
        "expires_in",
        "scope",
        "token_type",
        "reference_token",
    }
    assert re.fullmatch(r"cmVmd[A-Za-z0-9]{59}", body["reference_token"])
    assert body["expires_in"] == DAY and sim.is_live(body["reference_token"])


def test_non_expiring_admin_tokens_have_no_exp_and_no_expires_in(sim: JFrogSimulator) -> None:
    body = create(sim, sim.admin_token, username="feedkeeper", expires_in=0).json()
    assert "expires_in" not in body and "exp" not in jwt_payload(body["access_token"])


@pytest.mark.parametrize(
    ("form", "status", "fragment"),
    [
        ({"expires_in": "soon"}, 400, "expires_in"),
        ({"expires_in": "-5"}, 400, "expires_in"),
        ({"scope": "everything"}, 400, "scope"),
        ({"grant_type": "password"}, 400, "grant"),
        ({"refreshable": "yes"}, 400, "refreshable"),
    ],
)
def test_invalid_create_parameters_answer_400_in_access_error_shape(
    sim: JFrogSimulator, form: dict[str, str], status: int, fragment: str
) -> None:
    response = create(sim, sim.admin_token, **form)
    assert response.status_code == status
    assert errors(response)[0]["code"] == "BAD_REQUEST" and fragment in errors(response)[0]["message"]


def test_json_types_are_checked_and_other_media_types_are_refused(sim: JFrogSimulator) -> None:
    with client(sim, sim.admin_token) as c:
        as_string = c.post(TOKENS, json={"expires_in": "3600"})
        not_object = c.post(TOKENS, json=["scope"])
        plain = c.post(TOKENS, content=b"scope=applied-permissions/user", headers={"Content-Type": "text/plain"})
        empty = c.post(TOKENS)
    assert as_string.status_code == 400 and not_object.status_code == 400
    assert plain.status_code == 415 and errors(plain)[0]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert empty.status_code == 200 and empty.json()["scope"] == "applied-permissions/user"


def test_non_admins_create_identity_tokens_for_themselves_within_the_default_expiry(sim: JFrogSimulator) -> None:
    user = sim.user_token or ""
    own = create(sim, user, expires_in=DAY)
    for_admin = create(sim, user, username="admin")
    admin_scope = create(sim, user, scope="applied-permissions/admin")
    group_scope = create(sim, user, scope="applied-permissions/groups:readers")
    forever = create(sim, user, expires_in=0)
    too_long = create(sim, user, expires_in=YEAR + 1)
    assert own.status_code == 200 and jwt_payload(own.json()["access_token"])["sub"].endswith("/users/feedkeeper")
    assert [r.status_code for r in (for_admin, admin_scope, group_scope, forever, too_long)] == [403] * 5
    assert all(errors(r)[0]["code"] == "FORBIDDEN" for r in (for_admin, forever, too_long))


def test_max_expiry_zero_lets_non_admins_ask_for_anything() -> None:
    with JFrogSimulator(max_expiry=0) as sim:
        assert create(sim, sim.user_token or "", expires_in=0).status_code == 200
        assert create(sim, sim.user_token or "", expires_in=5 * YEAR).status_code == 200


def test_an_identity_token_of_an_admin_user_acts_as_admin(sim: JFrogSimulator) -> None:
    identity = create(sim, sim.admin_token, username="admin", scope="applied-permissions/user").json()
    assert create(sim, identity["access_token"], username="feedkeeper").status_code == 200


# ---- inspect (JFrog REST APIs: "Get Tokens", "Get Token by ID") ------------------------------------------------------


def test_list_and_get_show_the_documented_fields_and_filters(sim: JFrogSimulator) -> None:
    mine = create(sim, sim.user_token or "", description="feedkeeper rotation 1", refreshable=True).json()
    create(sim, sim.admin_token, description="other", username="admin")
    with client(sim, sim.admin_token) as admin, client(sim, sim.user_token) as user:
        everything = admin.get(TOKENS).json()["tokens"]
        filtered = admin.get(TOKENS, params={"description": "feedkeeper rot*"}).json()["tokens"]
        refreshable = admin.get(TOKENS, params={"refreshable": "true"}).json()["tokens"]
        own = user.get(TOKENS).json()["tokens"]
        one = user.get(f"{TOKENS}/{mine['token_id']}")
        me = user.get(f"{TOKENS}/me").json()
        admins = [t for t in everything if t["subject"].endswith("/users/admin")]
        forbidden = user.get(f"{TOKENS}/{admins[0]['token_id']}")
        missing = admin.get(f"{TOKENS}/no-such-id")
    assert len(everything) == 4  # two seeded, two created
    assert [t["token_id"] for t in filtered] == [mine["token_id"]] == [t["token_id"] for t in refreshable]
    assert {t["subject"].rsplit("/", 1)[1] for t in own} == {"feedkeeper"} and len(own) == 2
    info = one.json()
    assert one.status_code == 200
    assert set(info) == {"token_id", "subject", "expiry", "issued_at", "issuer", "description", "refreshable"}
    assert info["expiry"] - info["issued_at"] == YEAR and info["refreshable"] is True
    assert me["token_id"] != mine["token_id"] and "expiry" not in me  # the seeded non-expiring token
    assert forbidden.status_code == 403 and missing.status_code == 404
    assert errors(missing)[0] == {"code": "NOT_FOUND", "message": "Token not found"}


# ---- revoke (JFrog REST APIs: "Revoke Token by ID", "Revoke Token by Value") -----------------------------------------


def test_revoke_by_id_answers_200_then_204_and_the_token_is_refused_everywhere(sim: JFrogSimulator) -> None:
    token = create(sim, sim.admin_token, username="feedkeeper", expires_in=DAY).json()
    with client(sim, sim.admin_token) as admin:
        first = admin.delete(f"{TOKENS}/{token['token_id']}")
        again = admin.delete(f"{TOKENS}/{token['token_id']}")
        unknown = admin.delete(f"{TOKENS}/7e0eec00-0000-4000-8000-000000000000")
        listed = [t["token_id"] for t in admin.get(TOKENS).json()["tokens"]]
    with client(sim, token["access_token"]) as dead:
        access = dead.get(TOKENS)
        pypi = dead.get(SIMPLE)
    assert (first.status_code, again.status_code, unknown.status_code) == (200, 204, 404)
    assert token["token_id"] not in listed and not sim.is_live(token["access_token"])
    assert access.status_code == 401 and errors(access)[0] == {"code": "UNAUTHORIZED", "message": "Bad credentials"}
    assert pypi.status_code == 401 and pypi.headers["WWW-Authenticate"] == 'Basic realm="Artifactory Realm"'


def test_unknown_revoke_status_204_follows_the_older_doc_wording() -> None:
    with JFrogSimulator(unknown_revoke_status=204) as sim, client(sim, sim.admin_token) as c:
        assert c.delete(f"{TOKENS}/no-such-id").status_code == 204


def test_users_revoke_their_own_tokens_and_me_but_not_others(sim: JFrogSimulator) -> None:
    own = create(sim, sim.user_token or "", expires_in=DAY).json()
    admins = create(sim, sim.admin_token, expires_in=DAY).json()
    with client(sim, sim.user_token) as user:
        theirs = user.delete(f"{TOKENS}/{admins['token_id']}")
        mine = user.delete(f"{TOKENS}/{own['token_id']}")
    with client(sim, admins["access_token"]) as c:
        me = c.delete(f"{TOKENS}/me")
        after = c.get(f"{TOKENS}/me")
    assert (theirs.status_code, mine.status_code, me.status_code, after.status_code) == (403, 200, 200, 401)


def test_revoke_by_value_takes_a_jwt_or_a_reference_token_and_needs_admin(sim: JFrogSimulator) -> None:
    jwt = create(sim, sim.admin_token, username="feedkeeper", expires_in=DAY).json()
    ref = create(sim, sim.admin_token, username="feedkeeper", expires_in=DAY, include_reference_token=True).json()
    by_user = revoke_by_value(sim, sim.user_token or "", jwt["access_token"])
    by_jwt = revoke_by_value(sim, sim.admin_token, jwt["access_token"])
    by_ref = revoke_by_value(sim, sim.admin_token, ref["reference_token"])
    again = revoke_by_value(sim, sim.admin_token, ref["access_token"])
    garbage = revoke_by_value(sim, sim.admin_token, "not-a-token")
    with client(sim, sim.admin_token) as c:
        form = c.request("DELETE", f"{TOKENS}/revoke", data={"token": jwt["access_token"]})
        no_token = c.request("DELETE", f"{TOKENS}/revoke", json={"value": "x"})
    assert by_user.status_code == 403
    assert (by_jwt.status_code, by_jwt.json()) == (200, {"revoked-token-id": jwt["token_id"]})
    assert (by_ref.status_code, by_ref.json()) == (200, {"revoked-token-id": ref["token_id"]})
    assert not sim.is_live(ref["access_token"]) and not sim.is_live(ref["reference_token"])
    assert (again.status_code, garbage.status_code, form.status_code, no_token.status_code) == (204, 404, 415, 400)


def test_revoke_by_value_for_any_user_is_an_option() -> None:
    with JFrogSimulator(revoke_by_value_admin_only=False) as sim:
        own = create(sim, sim.user_token or "", expires_in=DAY).json()
        others = create(sim, sim.admin_token, expires_in=DAY).json()
        assert revoke_by_value(sim, sim.user_token or "", own["access_token"]).status_code == 200
        assert revoke_by_value(sim, sim.user_token or "", others["access_token"]).status_code == 403


def test_tokens_of_another_instance_are_refused_and_cannot_be_revoked_here(sim: JFrogSimulator) -> None:
    with JFrogSimulator(seed=1) as other:
        foreign = other.admin_token
        revoked = revoke_by_value(sim, sim.admin_token, foreign)
        with client(sim, foreign) as c:
            used = c.get(TOKENS)
    assert revoked.status_code == 400 and "different instance" in errors(revoked)[0]["message"]
    assert used.status_code == 401


# ---- refresh (JFrog REST APIs: "Create Token", Refresh Token) --------------------------------------------------------


def test_refresh_replaces_the_token_and_the_old_refresh_token_is_spent(sim: JFrogSimulator) -> None:
    old = create(sim, sim.user_token or "", refreshable=True, expires_in=DAY, description="rotating").json()
    new_response = create(
        sim,
        old["access_token"],
        grant_type="refresh_token",
        refresh_token=old["refresh_token"],
        include_reference_token=True,
    )
    new = new_response.json()
    reused = create(sim, new["access_token"], grant_type="refresh_token", refresh_token=old["refresh_token"])
    assert new_response.status_code == 200
    assert new["token_id"] != old["token_id"] and new["refresh_token"] != old["refresh_token"]
    assert new["expires_in"] == DAY and "reference_token" in new
    assert not sim.is_live(old["access_token"]) and sim.is_live(new["access_token"])
    assert sim.token(old["token_id"])["replaced_by"] == new["token_id"]  # type: ignore[index]
    assert sim.token(new["token_id"])["description"] == "rotating"  # type: ignore[index]
    assert reused.status_code == 400


def test_refresh_works_for_unsaved_short_lived_tokens(sim: JFrogSimulator) -> None:
    short = create(sim, sim.user_token or "", refreshable=True, expires_in=3600).json()
    renewed = create(sim, sim.user_token or "", grant_type="refresh_token", refresh_token=short["refresh_token"])
    assert renewed.status_code == 200 and renewed.json()["expires_in"] == 3600
    assert not sim.is_live(short["access_token"]) and sim.is_live(renewed.json()["access_token"])


def test_refresh_needs_the_same_user_and_a_live_refresh_token() -> None:
    with JFrogSimulator(refresh_grace=100) as sim:
        token = create(sim, sim.user_token or "", refreshable=True, expires_in=DAY).json()
        other_user = create(sim, sim.admin_token, grant_type="refresh_token", refresh_token=token["refresh_token"])
        missing = create(sim, sim.user_token or "", grant_type="refresh_token")
        sim.set_clock_offset(DAY + 50)  # expired, within the grace period
        in_grace = create(sim, sim.user_token or "", grant_type="refresh_token", refresh_token=token["refresh_token"])
        later = create(sim, sim.user_token or "", refreshable=True, expires_in=DAY).json()
        sim.set_clock_offset(2 * DAY + 200)
        too_late = create(sim, sim.user_token or "", grant_type="refresh_token", refresh_token=later["refresh_token"])
    assert (other_user.status_code, missing.status_code) == (403, 400)
    assert in_grace.status_code == 200 and too_late.status_code == 400


# ---- persistency and revocable thresholds ----------------------------------------------------------------------------


def test_tokens_under_the_persistency_threshold_work_but_cannot_be_seen_or_revoked(sim: JFrogSimulator) -> None:
    short = create(sim, sim.admin_token, username="feedkeeper", expires_in=3600).json()
    with client(sim, sim.admin_token) as admin:
        listed = [t["token_id"] for t in admin.get(TOKENS).json()["tokens"]]
        got = admin.get(f"{TOKENS}/{short['token_id']}")
        revoked = admin.delete(f"{TOKENS}/{short['token_id']}")
    by_value = revoke_by_value(sim, sim.admin_token, short["access_token"])
    with client(sim, short["access_token"]) as c:
        pypi = c.get(SIMPLE)
    assert short["token_id"] not in listed
    assert (got.status_code, revoked.status_code, by_value.status_code) == (404, 404, 404)
    assert pypi.status_code == 200 and sim.is_live(short["access_token"])
    assert sim.token(short["token_id"])["persisted"] is False  # type: ignore[index]


def test_tokens_under_the_revocable_threshold_are_listed_but_not_revocable_unless_forced(sim: JFrogSimulator) -> None:
    four_hours = create(sim, sim.admin_token, username="feedkeeper", expires_in=14400).json()
    forced = create(sim, sim.admin_token, username="feedkeeper", expires_in=600, force_revocable=True).json()
    with client(sim, sim.admin_token) as admin:
        listed = [t["token_id"] for t in admin.get(TOKENS).json()["tokens"]]
        refused = admin.delete(f"{TOKENS}/{four_hours['token_id']}")
        revoked = admin.delete(f"{TOKENS}/{forced['token_id']}")
    assert four_hours["token_id"] in listed and forced["token_id"] in listed
    assert refused.status_code == 400 and sim.is_live(four_hours["access_token"])
    assert jwt_payload(four_hours["access_token"])["ext"] == "{}"
    assert revoked.status_code == 200 and not sim.is_live(forced["access_token"])


def test_non_revocable_ignore_answers_200_and_the_token_lives_on() -> None:
    with JFrogSimulator(non_revocable="ignore") as sim, client(sim, sim.admin_token) as admin:
        token = create(sim, sim.admin_token, expires_in=14400).json()
        assert admin.delete(f"{TOKENS}/{token['token_id']}").status_code == 200
        assert sim.is_live(token["access_token"])


def test_reference_tokens_need_a_persistent_expiry_unless_configured_otherwise() -> None:
    with JFrogSimulator() as strict:
        refused = create(strict, strict.admin_token, expires_in=3600, include_reference_token=True)
    with JFrogSimulator(reference_needs_persistence=False) as lax:
        allowed = create(lax, lax.admin_token, expires_in=3600, include_reference_token=True).json()
        persisted = lax.token(allowed["token_id"])["persisted"]  # type: ignore[index]
    assert refused.status_code == 400 and persisted is True


# ---- expiry and the clock --------------------------------------------------------------------------------------------


def test_expired_tokens_are_refused_with_the_expired_message(sim: JFrogSimulator) -> None:
    token = create(sim, sim.admin_token, username="feedkeeper", expires_in=DAY, include_reference_token=True).json()
    sim.set_clock_offset(DAY + 1)
    with client(sim, token["access_token"]) as c:
        access = c.get(TOKENS)
    with client(sim) as c:
        pypi = c.get(SIMPLE, auth=("feedkeeper", token["reference_token"]))
    assert access.status_code == 401 and errors(access)[0]["message"] == "Invalid token, expired"
    assert pypi.status_code == 401 and not sim.is_live(token["access_token"])
    assert sim.is_live(sim.admin_token)  # non-expiring


# ---- authentication --------------------------------------------------------------------------------------------------


def test_basic_auth_on_the_access_api_is_refused_unless_enabled(sim: JFrogSimulator) -> None:
    with client(sim) as c:
        refused = c.get(TOKENS, auth=("admin", sim.admin_token))
        missing = c.get(TOKENS)
    assert refused.status_code == 401 and errors(refused)[0]["message"] == "Unsupported authentication method Basic"
    assert missing.status_code == 401
    with JFrogSimulator(basic_auth_api=True) as lax, client(lax) as c:
        accepted = c.get(TOKENS, auth=("admin", lax.admin_token))
        wrong_user = c.get(TOKENS, auth=("feedkeeper", lax.admin_token))
    assert accepted.status_code == 200 and wrong_user.status_code == 401


def test_pypi_credentials_basic_bearer_reference_and_art_api_header(sim: JFrogSimulator) -> None:
    token = create(sim, sim.admin_token, username="feedkeeper", expires_in=DAY, include_reference_token=True).json()
    with client(sim) as c:
        anonymous = c.get(SIMPLE)
        basic = c.get(SIMPLE, auth=("feedkeeper", token["access_token"]))
        basic_ref = c.get(SIMPLE, auth=("feedkeeper", token["reference_token"]))
        wrong_user = c.get(SIMPLE, auth=("someone", token["access_token"]))
        bearer_ref = c.get(SIMPLE, headers={"Authorization": f"Bearer {token['reference_token']}"})
        art_api = c.get(SIMPLE, headers={"X-JFrog-Art-Api": token["reference_token"]})
        art_api_jwt = c.get(SIMPLE, headers={"X-JFrog-Art-Api": token["access_token"]})
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"] == 'Basic realm="Artifactory Realm"'
    assert errors(anonymous)[0] == {"status": 401, "message": "Authentication is required"}
    assert [r.status_code for r in (basic, basic_ref, bearer_ref, art_api)] == [200] * 4
    assert wrong_user.status_code == 401 and art_api_jwt.status_code == 401
    assert "feedkeeper-probe/" in basic.text and basic.headers["Content-Type"].startswith("text/html")
    with JFrogSimulator(basic_username_must_match=False) as lax, client(lax) as c:
        assert c.get(SIMPLE, auth=("anyone", lax.user_token or "")).status_code == 200


def test_pypi_permissions_repositories_and_files(sim: JFrogSimulator) -> None:
    outsider = sim.add_user("outsider", groups=())
    group_token = sim.mint("outsider", scope="applied-permissions/groups:readers")["access_token"]
    with client(sim, outsider) as c:
        forbidden = c.get(SIMPLE)
    with client(sim, group_token) as c:
        via_group = c.get(SIMPLE)
    with client(sim, sim.user_token) as c:
        page = c.get(f"{SIMPLE}Feedkeeper_Probe/")
        href = re.search(r'href="([^"#]+)#sha256=([0-9a-f]{64})"', page.text)
        assert href is not None
        wheel = c.get(href.group(1))
        missing_project = c.get(f"{SIMPLE}nope/")
        missing_repo = c.get("/artifactory/api/pypi/pypi-other/simple/")
        post = c.post(SIMPLE)
    assert forbidden.status_code == 403 and via_group.status_code == 200
    assert page.status_code == 200 and href.group(1) == f"/artifactory/api/pypi/pypi-local/packages/{WHEEL}"
    assert wheel.status_code == 200 and wheel.content[:2] == b"PK"
    assert (missing_project.status_code, missing_repo.status_code, post.status_code) == (404, 404, 405)


def test_pings(sim: JFrogSimulator) -> None:
    with client(sim) as c:
        access_anonymous = c.get("/access/api/v1/system/ping")
        access = c.get("/access/api/v1/system/ping", headers={"Authorization": f"Bearer {sim.admin_token}"})
        artifactory = c.get("/artifactory/api/system/ping")
        artifactory_bad = c.get("/artifactory/api/system/ping", headers={"Authorization": "Bearer nope"})
    assert access_anonymous.status_code == 401
    assert (access.status_code, access.text, access.headers["Content-Type"]) == (200, "OK", "text/plain")
    assert (artifactory.status_code, artifactory.text) == (200, "OK") and artifactory_bad.status_code == 401
    with JFrogSimulator(access_ping_auth=False) as lax, client(lax) as c:
        assert c.get("/access/api/v1/system/ping").text == "OK"


def test_unknown_paths_and_methods(sim: JFrogSimulator) -> None:
    with client(sim, sim.admin_token) as c:
        unknown = c.get("/access/api/v1/nothing")
        wrong_method = c.put(TOKENS)
        outside = c.get("/nothing")
    assert unknown.status_code == 404 and errors(unknown)[0]["code"] == "NOT_FOUND"
    assert wrong_method.status_code == 405 and "POST" in wrong_method.headers["Allow"]
    assert outside.status_code == 404


# ---- real pip --------------------------------------------------------------------------------------------------------


def test_pip_downloads_with_a_live_token_and_fails_once_it_is_revoked_by_id(
    sim: JFrogSimulator, tmp_path: Path
) -> None:
    token = create(sim, sim.admin_token, username="feedkeeper", expires_in=DAY).json()
    ok = pip_download(sim, "feedkeeper", token["access_token"], tmp_path / "ok")
    with client(sim, sim.admin_token) as c:
        assert c.delete(f"{TOKENS}/{token['token_id']}").status_code == 200
    refused = pip_download(sim, "feedkeeper", token["access_token"], tmp_path / "refused")
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "ok" / WHEEL).is_file()
    assert refused.returncode != 0 and not (tmp_path / "refused" / WHEEL).exists()
    assert "401" in refused.stdout + refused.stderr


def test_pip_downloads_with_a_reference_token_and_fails_once_it_is_revoked_by_value(
    sim: JFrogSimulator, tmp_path: Path
) -> None:
    token = create(sim, sim.admin_token, username="feedkeeper", expires_in=DAY, include_reference_token=True).json()
    ok = pip_download(sim, "feedkeeper", token["reference_token"], tmp_path / "ok")
    assert revoke_by_value(sim, sim.admin_token, token["reference_token"]).status_code == 200
    refused = pip_download(sim, "feedkeeper", token["reference_token"], tmp_path / "refused")
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "ok" / WHEEL).is_file()
    assert refused.returncode != 0 and not (tmp_path / "refused" / WHEEL).exists()


def test_pip_fails_once_the_token_expires(sim: JFrogSimulator, tmp_path: Path) -> None:
    token = create(sim, sim.user_token or "", expires_in=DAY).json()
    ok = pip_download(sim, "feedkeeper", token["access_token"], tmp_path / "ok")
    sim.set_clock_offset(DAY)
    refused = pip_download(sim, "feedkeeper", token["access_token"], tmp_path / "refused")
    assert ok.returncode == 0, ok.stderr
    assert refused.returncode != 0 and not (tmp_path / "refused" / WHEEL).exists()


# ---- faults, latency, control API, standalone ------------------------------------------------------------------------


def test_faults_429_with_retry_after_500_and_no_state_change(sim: JFrogSimulator) -> None:
    sim.faults.add(429, path_contains=TOKENS, method="POST")
    sim.faults.add(500, path_contains="/simple/")
    sim.faults.add(503, path_contains=TOKENS, method="POST", retry_after=4)
    before = len(sim.tokens())
    throttled = create(sim, sim.admin_token)
    unavailable = create(sim, sim.admin_token)
    with client(sim, sim.user_token) as c:
        broken = c.get(SIMPLE)
        fine = c.get(SIMPLE)
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "1")
    assert errors(throttled)[0]["code"] == "TOO_MANY_REQUESTS"
    assert (unavailable.status_code, unavailable.headers["Retry-After"]) == (503, "4")
    assert broken.status_code == 500 and errors(broken)[0]["status"] == 500
    assert fine.status_code == 200 and len(sim.tokens()) == before
    assert sim.requests.count(("POST", TOKENS)) == 2


def test_faults_apply_before_auth_and_timeouts_hang_then_close(sim: JFrogSimulator) -> None:
    sim.faults.add(500, path_contains=TOKENS)
    sim.faults.add("timeout", path_contains=TOKENS, hang=2.0)
    sim.faults.add("drop", path_contains=TOKENS)
    with client(sim, "not-a-token", timeout=0.5) as c:
        faulted = c.get(TOKENS)
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            c.get(TOKENS)
        assert time.monotonic() - started < 1.5
        with pytest.raises(httpx.TransportError):
            c.get(TOKENS)
        unauthenticated = c.get(TOKENS)
    assert faulted.status_code == 500 and unauthenticated.status_code == 401


def test_a_random_fault_rate_is_seeded_and_reproducible() -> None:
    def run() -> list[int]:
        with JFrogSimulator(seed=3) as sim, client(sim) as c:
            sim.faults.rate(0.5, statuses=(429, 503))
            return [c.get("/artifactory/api/system/ping").status_code for _ in range(12)]

    first, second = run(), run()
    assert first == second and {429, 503} & set(first) and 200 in first


def test_latency_delays_api_calls_but_not_the_control_api() -> None:
    with JFrogSimulator(latency=0.3) as sim, client(sim) as c:
        started = time.monotonic()
        c.get("/_sim/state")
        control = time.monotonic() - started
        started = time.monotonic()
        c.get("/artifactory/api/system/ping")
        api = time.monotonic() - started
    assert control < 0.25 <= api


def test_the_control_api_seeds_mints_moves_the_clock_and_injects_faults(sim: JFrogSimulator) -> None:
    with client(sim) as c:
        user = c.post("/_sim/users", json={"name": "ci", "groups": ["readers"]}).json()
        minted = c.post("/_sim/tokens", json={"username": "ci", "expires_in": 60}).json()
        c.post("/_sim/latency", json={"seconds": 0})
        c.post("/_sim/faults", json={"status": 503, "path_contains": "/system/ping"})
        with client(sim, user["token"]) as api:
            assert api.get(SIMPLE).status_code == 200
            assert api.get("/artifactory/api/system/ping").status_code == 503
        clock = c.post("/_sim/clock", json={"advance": 61}).json()
        state = c.get("/_sim/state").json()
        revoked = c.post("/_sim/revoke", json={"token": user["token"]}).json()
        unknown = c.get("/_sim/nope")
    assert minted["expires_in"] == 60 and clock["offset"] == 61
    record = next(t for t in state["tokens"] if t["token_id"] == minted["token_id"])
    assert record["persisted"] is False and record["expired"] is True
    assert ["GET", SIMPLE] in state["requests"] and {
        "name": "ci",
        "admin": False,
        "groups": ["readers"],
        "transient": False,
    } in state["users"]
    assert revoked == {"revoked": True} and not sim.is_live(user["token"])
    assert unknown.status_code == 404


def test_the_module_runs_alone_prints_its_url_and_stops_on_sigterm() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.jfrog", "--port", str(port)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        match = re.fullmatch(rf"jfrog: http://127\.0\.0\.1:{port} token=(\S+) repo=pypi-local user=feedkeeper", line)
        assert match is not None, line
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=5) as c:
            ping = c.get("/access/api/v1/system/ping", headers={"Authorization": f"Bearer {match.group(1)}"})
        assert ping.text == "OK"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
