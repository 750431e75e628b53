"""The GitHub simulator speaks the real REST API: driven by PyGithub, by httpx and by PyNaCl directly."""

from __future__ import annotations

import base64
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import github
import httpx
import pytest
from github import Auth, Github
from nacl.encoding import Base64Encoder
from nacl.public import PrivateKey, PublicKey, SealedBox

from simulators.github import DEFAULT_TOKEN, GitHubSimulator

REPO_ROOT = Path(__file__).resolve().parents[2]
ISO_SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
URL = "https://feed-user:s3cr3t@pypi.example.test/simple/"


# ---- fixtures and helpers ----------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """PyGithub uses requests, which honours proxy variables; the simulator is on loopback."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def sim() -> Iterator[GitHubSimulator]:
    """A running simulator: org ``acme`` (admin token ``ghp-sim-token``) with private repos ``app`` and ``lib``."""
    with GitHubSimulator() as simulator:
        simulator.add_repo("acme", "app")
        simulator.add_repo("acme", "lib")
        yield simulator


def gh(sim: GitHubSimulator, token: str = DEFAULT_TOKEN, retry: Any = None, **kwargs: Any) -> Github:
    """PyGithub against the simulator, without its client-side throttling."""
    return Github(
        base_url=sim.api_url,
        auth=Auth.Token(token),
        retry=retry,
        timeout=5,
        seconds_between_requests=None,
        seconds_between_writes=None,
        **kwargs,
    )


def raw(sim: GitHubSimulator, token: str | None = DEFAULT_TOKEN) -> httpx.Client:
    """An httpx client sending what GitHub recommends."""
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=sim.api_url, headers=headers, timeout=5, trust_env=False)


def seal(key_b64: str, value: str) -> str:
    """What GitHub's docs (and PyGithub) do: a libsodium sealed box, base64-encoded."""
    box = SealedBox(PublicKey(key_b64.encode(), Base64Encoder))
    return base64.b64encode(box.encrypt(value.encode())).decode()


def put_secret(c: httpx.Client, base: str, name: str, value: str, **extra: Any) -> httpx.Response:
    """Fetch the public key of ``base`` (``/orgs/acme`` or ``/repos/acme/app``) and PUT a sealed value."""
    key = c.get(f"{base}/actions/secrets/public-key").json()
    body = {"encrypted_value": seal(key["key"], value), "key_id": key["key_id"], **extra}
    return c.put(f"{base}/actions/secrets/{name}", json=body)


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- organization secrets through PyGithub -----------------------------------------------------------------------


def test_pygithub_creates_a_selected_org_secret_that_the_simulator_decrypts(sim: GitHubSimulator) -> None:
    g = gh(sim)
    org = g.get_organization("acme")
    repo = g.get_repo("acme/app")

    created = org.create_secret(
        "PIP_INDEX_URL", URL, visibility="selected", secret_type="actions", selected_repositories=[repo]
    )

    assert created.name == "PIP_INDEX_URL"
    assert sim.secret_value("acme", "PIP_INDEX_URL") == URL
    stored = sim.secret("acme", "PIP_INDEX_URL")
    assert stored is not None
    assert stored["visibility"] == "selected" and stored["selected_repository_ids"] == [repo.id]
    assert sim.requests[-2:] == [
        ("GET", "/orgs/acme/actions/secrets/public-key"),
        ("PUT", "/orgs/acme/actions/secrets/PIP_INDEX_URL"),
    ]


def test_create_answers_201_with_an_empty_object_and_update_answers_204(sim: GitHubSimulator) -> None:
    with raw(sim) as c:
        first = put_secret(c, "/orgs/acme", "PIP_INDEX_URL", "one", visibility="all")
        second = put_secret(c, "/orgs/acme", "PIP_INDEX_URL", "two", visibility="private")
    assert (first.status_code, first.json()) == (201, {})
    assert (second.status_code, second.content) == (204, b"")
    assert "content-type" not in second.headers
    assert sim.secret_value("acme", "PIP_INDEX_URL") == "two"
    stored = sim.secret("acme", "PIP_INDEX_URL")
    assert stored is not None and stored["visibility"] == "private"


def test_pygithub_updates_an_existing_secret_and_get_secret_reads_it_back(sim: GitHubSimulator) -> None:
    org = gh(sim).get_organization("acme")
    org.create_secret("PIP_INDEX_URL", "old", visibility="all")
    org.create_secret("PIP_INDEX_URL", URL, visibility="private")

    secret = org.get_secret("PIP_INDEX_URL")
    assert secret.name == "PIP_INDEX_URL" and secret.visibility == "private"
    assert secret.created_at.tzinfo is not None and secret.created_at.microsecond == 0
    assert secret.updated_at >= secret.created_at
    assert sim.secret_value("acme", "PIP_INDEX_URL") == URL


def test_secret_json_has_second_precision_z_timestamps_and_selected_url_only_when_selected(
    sim: GitHubSimulator,
) -> None:
    with raw(sim) as c:
        put_secret(c, "/orgs/acme", "ALL_REPOS", "x", visibility="all")
        put_secret(c, "/orgs/acme", "SOME_REPOS", "y", visibility="selected")
        everyone = c.get("/orgs/acme/actions/secrets/ALL_REPOS").json()
        some = c.get("/orgs/acme/actions/secrets/SOME_REPOS").json()
    assert set(everyone) == {"name", "created_at", "updated_at", "visibility"}
    assert ISO_SECONDS.match(everyone["created_at"]) and ISO_SECONDS.match(everyone["updated_at"])
    assert some["selected_repositories_url"] == f"{sim.api_url}/orgs/acme/actions/secrets/SOME_REPOS/repositories"
    assert "value" not in some and "encrypted_value" not in some


def test_pygithub_lists_org_secrets_across_pages(sim: GitHubSimulator) -> None:
    with raw(sim) as c:
        for i in range(35):
            assert put_secret(c, "/orgs/acme", f"S_{i:02d}", str(i), visibility="all").status_code == 201
        page = c.get("/orgs/acme/actions/secrets", params={"per_page": 10, "page": 2})
    assert page.json()["total_count"] == 35
    assert [s["name"] for s in page.json()["secrets"]] == [f"S_{i:02d}" for i in range(10, 20)]
    assert 'rel="next"' in page.headers["Link"] and 'rel="prev"' in page.headers["Link"]

    secrets = gh(sim, per_page=10).get_organization("acme").get_secrets()
    assert [s.name for s in secrets] == [f"S_{i:02d}" for i in range(35)]
    assert {s.visibility for s in secrets} == {"all"}


def test_selected_repositories_can_be_listed_set_added_and_removed(sim: GitHubSimulator) -> None:
    g = gh(sim)
    org = g.get_organization("acme")
    app, lib = g.get_repo("acme/app"), g.get_repo("acme/lib")
    org.create_secret("SHARED", "v", visibility="selected", selected_repositories=[app])
    secret = org.get_secret("SHARED")

    assert secret.visibility == "selected"  # also completes PyGithub's lazy object (selected_repositories needs it)
    assert [r.full_name for r in secret.selected_repositories] == ["acme/app"]
    assert secret.add_repo(lib) is True
    assert [r.name for r in secret.selected_repositories] == ["app", "lib"]
    assert secret.remove_repo(app) is True
    stored = sim.secret("acme", "SHARED")
    assert stored is not None and stored["selected_repository_ids"] == [lib.id]

    with raw(sim) as c:
        replaced = c.put("/orgs/acme/actions/secrets/SHARED/repositories", json={"selected_repository_ids": [app.id]})
        listed = c.get("/orgs/acme/actions/secrets/SHARED/repositories").json()
        put_secret(c, "/orgs/acme", "EVERYWHERE", "v", visibility="all")
        conflict = c.put(f"/orgs/acme/actions/secrets/EVERYWHERE/repositories/{app.id}")
    assert replaced.status_code == 204
    assert listed["total_count"] == 1 and listed["repositories"][0]["id"] == app.id
    assert conflict.status_code == 409


def test_org_secret_visibility_and_repository_ids_are_validated(sim: GitHubSimulator) -> None:
    sim.add_org("other")
    foreign = sim.add_repo("other", "theirs")
    app_id = sim.add_repo("acme", "svc")["id"]
    with raw(sim) as c:
        missing = put_secret(c, "/orgs/acme", "A", "v")
        public = put_secret(c, "/orgs/acme", "A", "v", visibility="public")
        ids_without_selected = put_secret(c, "/orgs/acme", "A", "v", visibility="all", selected_repository_ids=[app_id])
        not_ours = put_secret(c, "/orgs/acme", "A", "v", visibility="selected", selected_repository_ids=[foreign["id"]])
    assert (
        missing.status_code == 422 and missing.json()["message"] == 'Invalid request.\n\n"visibility" wasn\'t supplied.'
    )
    assert public.status_code == 422 and "visibility" in public.json()["message"]
    assert (
        ids_without_selected.status_code == 422 and "selected_repository_ids" in ids_without_selected.json()["message"]
    )
    assert not_ours.status_code == 422 and str(foreign["id"]) in not_ours.json()["message"]
    assert missing.json()["status"] == "422" and missing.json()["documentation_url"].startswith("https://docs.github")
    assert sim.secret("acme", "A") is None


# ---- repository secrets ------------------------------------------------------------------------------------------


def test_pygithub_creates_gets_lists_and_deletes_repository_secrets(sim: GitHubSimulator) -> None:
    repo = gh(sim).get_repo("acme/app")

    repo.create_secret("PIP_INDEX_URL", URL)
    assert sim.repo_secret_value("acme", "app", "PIP_INDEX_URL") == URL
    assert repo.get_secret("PIP_INDEX_URL").updated_at.microsecond == 0
    assert [s.name for s in repo.get_secrets()] == ["PIP_INDEX_URL"]
    assert sim.secret_value("acme", "PIP_INDEX_URL") is None  # not an organization secret

    assert repo.delete_secret("PIP_INDEX_URL") is True
    assert sim.repo_secret_value("acme", "app", "PIP_INDEX_URL") is None
    assert repo.delete_secret("PIP_INDEX_URL") is False  # 404 now


def test_every_repository_has_its_own_key_pair(sim: GitHubSimulator) -> None:
    with raw(sim) as c:
        org_key = c.get("/orgs/acme/actions/secrets/public-key").json()
        app_key = c.get("/repos/acme/app/actions/secrets/public-key").json()
        lib_key = c.get("/repos/acme/lib/actions/secrets/public-key").json()
        crossed = c.put(
            "/repos/acme/app/actions/secrets/X",
            json={"encrypted_value": seal(lib_key["key"], "v"), "key_id": lib_key["key_id"]},
        )
    assert len({org_key["key_id"], app_key["key_id"], lib_key["key_id"]}) == 3
    assert len({org_key["key"], app_key["key"], lib_key["key"]}) == 3
    assert len(base64.b64decode(app_key["key"])) == 32
    assert crossed.status_code == 422


# ---- encryption ----------------------------------------------------------------------------------------------------


def test_a_pynacl_sealed_box_made_with_the_fetched_key_decrypts_in_the_simulator(sim: GitHubSimulator) -> None:
    with raw(sim) as c:
        key = c.get("/orgs/acme/actions/secrets/public-key").json()
        sealed = SealedBox(PublicKey(base64.b64decode(key["key"]))).encrypt("ünïcødé ✓".encode())
        answer = c.put(
            "/orgs/acme/actions/secrets/UNICODE",
            json={"encrypted_value": base64.b64encode(sealed).decode(), "key_id": key["key_id"], "visibility": "all"},
        )
    assert answer.status_code == 201
    assert sim.secret_value("acme", "UNICODE") == "ünïcødé ✓"


def test_a_stale_key_id_after_rotation_is_refused_until_the_key_is_fetched_again(sim: GitHubSimulator) -> None:
    with raw(sim) as c:
        old = c.get("/orgs/acme/actions/secrets/public-key").json()
        new_id = sim.rotate_key("acme")
        stale = c.put(
            "/orgs/acme/actions/secrets/PIP_INDEX_URL",
            json={"encrypted_value": seal(old["key"], URL), "key_id": old["key_id"], "visibility": "all"},
        )
        assert stale.status_code == 422 and "key_id" in stale.json()["message"]
        assert sim.secret("acme", "PIP_INDEX_URL") is None

        fresh = put_secret(c, "/orgs/acme", "PIP_INDEX_URL", URL, visibility="all")
    assert new_id != old["key_id"]
    assert fresh.status_code == 201 and sim.secret_value("acme", "PIP_INDEX_URL") == URL


def test_values_that_do_not_open_with_the_key_or_are_not_base64_are_refused(sim: GitHubSimulator) -> None:
    stranger = PrivateKey.generate().public_key.encode(Base64Encoder).decode()
    with raw(sim) as c:
        key_id = c.get("/repos/acme/app/actions/secrets/public-key").json()["key_id"]
        wrong_key = c.put(
            "/repos/acme/app/actions/secrets/X", json={"encrypted_value": seal(stranger, "v"), "key_id": key_id}
        )
        not_b64 = c.put("/repos/acme/app/actions/secrets/X", json={"encrypted_value": "not base64!", "key_id": key_id})
        no_key_id = c.put("/repos/acme/app/actions/secrets/X", json={"encrypted_value": "AAAA"})
    assert wrong_key.status_code == 422
    assert wrong_key.json()["message"] == "Bad request - validation failed due to an improperly encrypted secret"
    assert not_b64.status_code == 422 and "does not match" in not_b64.json()["message"]
    assert no_key_id.json()["message"] == 'Invalid request.\n\n"key_id" wasn\'t supplied.'
    assert sim.repo_secret_value("acme", "app", "X") is None


# ---- names and limits ----------------------------------------------------------------------------------------------


def test_names_are_stored_upper_cased_and_read_case_insensitively(sim: GitHubSimulator) -> None:
    repo = gh(sim).get_repo("acme/app")
    repo.create_secret("pip_index_url", URL)
    with raw(sim) as c:
        lower = c.get("/repos/acme/app/actions/secrets/pip_index_url").json()
    assert lower["name"] == "PIP_INDEX_URL"
    assert sim.repo_secret_value("acme", "app", "PIP_INDEX_URL") == URL
    assert [s.name for s in repo.get_secrets()] == ["PIP_INDEX_URL"]


@pytest.mark.parametrize("name", ["GITHUB_TOKEN", "github_x", "1ST", "PIP-INDEX", "PIP.INDEX"])
def test_names_breaking_githubs_rules_are_refused_with_422(sim: GitHubSimulator, name: str) -> None:
    with pytest.raises(github.GithubException) as caught:
        gh(sim).get_organization("acme").create_secret(name, "v", visibility="all")
    assert caught.value.status == 422
    assert caught.value.data["message"].startswith("Bad request - Secret names")
    assert sim.dump()["orgs"][0]["secrets"] == []


def test_values_above_48_kb_are_refused(sim: GitHubSimulator) -> None:
    with raw(sim) as c:
        at_limit = put_secret(c, "/orgs/acme", "BIG", "x" * 48_000, visibility="all")
        above = put_secret(c, "/orgs/acme", "BIGGER", "x" * 48_001, visibility="all")
    assert at_limit.status_code == 201
    assert above.status_code == 422 and "48 KB" in above.json()["message"]
    assert sim.secret("acme", "BIGGER") is None


def test_past_the_secret_count_limit_creation_is_refused_but_updates_still_work() -> None:
    with GitHubSimulator(max_org_secrets=2) as sim, raw(sim) as c:
        assert put_secret(c, "/orgs/acme", "ONE", "1", visibility="all").status_code == 201
        assert put_secret(c, "/orgs/acme", "TWO", "2", visibility="all").status_code == 201
        third = put_secret(c, "/orgs/acme", "THREE", "3", visibility="all")
        update = put_secret(c, "/orgs/acme", "ONE", "1b", visibility="all")
    assert third.status_code == 422 and "limit" in third.json()["message"]
    assert update.status_code == 204 and sim.secret_value("acme", "ONE") == "1b"


# ---- organizations, repositories, pagination ---------------------------------------------------------------------


def test_org_repos_paginate_over_more_than_100_repos_through_the_link_header(sim: GitHubSimulator) -> None:
    for i in range(248):
        sim.add_repo("acme", f"repo-{i:03d}", visibility="public" if i % 2 else "private")
    names = [r.name for r in gh(sim, per_page=100).get_organization("acme").get_repos()]
    assert len(names) == 250 and len(set(names)) == 250
    assert names[0] == "repo-247" and names[-1] == "app"  # newest first, GitHub's default order

    with raw(sim) as c:
        first = c.get("/orgs/acme/repos", params={"per_page": 100})
        last = c.get("/orgs/acme/repos", params={"per_page": 100, "page": 3})
    org_id = sim.add_org("acme")["id"]
    assert len(first.json()) == 100 and len(last.json()) == 50
    assert first.headers["Link"] == (
        f'<{sim.api_url}/organizations/{org_id}/repos?per_page=100&page=2>; rel="next", '
        f'<{sim.api_url}/organizations/{org_id}/repos?per_page=100&page=3>; rel="last"'
    )
    assert 'rel="prev"' in last.headers["Link"] and 'rel="first"' in last.headers["Link"]
    assert 'rel="next"' not in last.headers["Link"]


def test_per_page_defaults_to_30_caps_at_100_and_links_follow_the_host_header(sim: GitHubSimulator) -> None:
    for i in range(150):
        sim.add_repo("acme", f"r{i}")
    with raw(sim) as c:
        default = c.get("/orgs/acme/repos")
        capped = c.get("/orgs/acme/repos", params={"per_page": 500})
        proxied = c.get("/orgs/acme/repos", headers={"Host": "github.internal.test:8443"})
    assert len(default.json()) == 30 and len(capped.json()) == 100
    assert all(
        part.strip().startswith("<http://github.internal.test:8443/") for part in proxied.headers["Link"].split(",")
    )


def test_repository_and_organization_objects_have_the_fields_clients_use(sim: GitHubSimulator) -> None:
    sim.add_repo("acme", "site", visibility="public")
    sim.add_repo("acme", "corp", visibility="internal")
    g = gh(sim)
    org = g.get_organization("ACME")  # logins are case-insensitive
    repo = g.get_repo("acme/app")
    with raw(sim) as c:
        site = c.get("/repos/acme/site").json()
        corp = c.get("/repos/acme/corp").json()
        me = c.get("/user").json()
    assert (org.login, org.url) == ("acme", f"{sim.api_url}/orgs/acme")
    assert (repo.full_name, repo.private, repo.owner.login) == ("acme/app", True, "acme")
    assert repo.url == f"{sim.api_url}/repos/acme/app" and repo.permissions.admin is True
    assert (site["visibility"], site["private"]) == ("public", False)
    assert (corp["visibility"], corp["private"]) == ("internal", True)
    assert (me["login"], me["type"], isinstance(me["id"], int)) == ("admin", "User", True)


# ---- authentication and permissions --------------------------------------------------------------------------------


def test_a_bad_token_raises_bad_credentials_and_a_missing_one_requires_authentication(sim: GitHubSimulator) -> None:
    with pytest.raises(github.BadCredentialsException) as caught:
        gh(sim, token="ghp-wrong").get_organization("acme")
    assert caught.value.status == 401
    assert caught.value.data == {
        "message": "Bad credentials",
        "documentation_url": "https://docs.github.com/rest",
        "status": "401",
    }
    with raw(sim, token=None) as c:
        anonymous = c.get("/orgs/acme")
        legacy = c.get("/user", headers={"Authorization": f"token {DEFAULT_TOKEN}"})
    assert anonymous.status_code == 401 and anonymous.json()["message"] == "Requires authentication"
    assert legacy.status_code == 200


def test_unknown_orgs_repos_secrets_and_paths_answer_404(sim: GitHubSimulator) -> None:
    g = gh(sim)
    with pytest.raises(github.UnknownObjectException):
        g.get_organization("nope")
    with pytest.raises(github.UnknownObjectException):
        g.get_repo("acme/nope")
    with pytest.raises(github.UnknownObjectException):
        _ = g.get_organization("acme").get_secret("MISSING").visibility
    with raw(sim) as c:
        unknown = c.get("/no/such/endpoint")
        wrong_method = c.delete("/user")
    assert unknown.status_code == 404 and unknown.json()["message"] == "Not Found"
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "GET"


def test_a_token_that_does_not_administer_the_org_gets_403_on_secrets(sim: GitHubSimulator) -> None:
    sim.add_token("ghp-member", "member", member_of=["acme"])
    sim.add_token("ghp-outsider", "outsider")
    member = gh(sim, token="ghp-member")
    with pytest.raises(github.GithubException) as caught:
        member.get_organization("acme").get_public_key()
    assert caught.value.status == 403
    assert caught.value.data["message"] == "Resource not accessible by personal access token"
    assert member.get_repo("acme/app").permissions.admin is False
    with pytest.raises(github.UnknownObjectException):
        gh(sim, token="ghp-outsider").get_repo("acme/app")  # private repos stay hidden from non-members
    with raw(sim, token="ghp-member") as c:
        assert c.put("/repos/acme/app/actions/secrets/X", json={}).status_code == 403


def test_token_expiry_is_announced_in_a_header_and_an_expired_token_is_bad_credentials(sim: GitHubSimulator) -> None:
    sim.add_token("ghp-expiring", "ci", expires_at=datetime(2099, 12, 31, tzinfo=UTC), admin_of=["acme"])
    sim.add_token("ghp-expired", "old", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    with raw(sim, token="ghp-expiring") as c:
        expiring = c.get("/user")
    with raw(sim) as c:
        forever = c.get("/user")
    with raw(sim, token="ghp-expired") as c:
        expired = c.get("/user")
    assert expiring.headers["github-authentication-token-expiration"] == "2099-12-31 00:00:00 UTC"
    assert "github-authentication-token-expiration" not in forever.headers
    assert expired.status_code == 401 and expired.json()["message"] == "Bad credentials"


# ---- rate limits and faults ----------------------------------------------------------------------------------------


def test_every_answer_carries_rate_limit_headers_that_count_down(sim: GitHubSimulator) -> None:
    with raw(sim) as c:
        one = c.get("/orgs/acme")
        two = c.get("/orgs/nope")
        status = c.get("/rate_limit")
    assert one.headers["X-RateLimit-Limit"] == "5000" and one.headers["X-RateLimit-Resource"] == "core"
    assert (one.headers["X-RateLimit-Used"], one.headers["X-RateLimit-Remaining"]) == ("1", "4999")
    assert (two.headers["X-RateLimit-Used"], two.headers["X-RateLimit-Remaining"]) == ("2", "4998")
    assert int(one.headers["X-RateLimit-Reset"]) > time.time()
    core = status.json()["resources"]["core"]
    assert core == {"limit": 5000, "used": 2, "remaining": 4998, "reset": int(one.headers["X-RateLimit-Reset"])}
    assert status.json()["rate"] == core  # /rate_limit itself is not counted


def test_an_exhausted_primary_limit_answers_403_with_remaining_zero() -> None:
    with GitHubSimulator(rate_limit=3) as sim, raw(sim) as c:
        answers = [c.get("/user") for _ in range(4)]
        user_id = answers[0].json()["id"]
        with pytest.raises(github.RateLimitExceededException) as caught:
            gh(sim).get_organization("acme")
    assert [a.status_code for a in answers] == [200, 200, 200, 403]
    assert answers[3].json()["message"] == f"API rate limit exceeded for user ID {user_id}."
    assert answers[3].headers["X-RateLimit-Remaining"] == "0" and answers[3].headers["X-RateLimit-Used"] == "3"
    assert caught.value.status == 403


def test_secondary_rate_limit_faults_answer_429_or_403_with_retry_after(sim: GitHubSimulator) -> None:
    sim.faults.add(429, path_contains="/actions/secrets/public-key", retry_after=7)
    sim.faults.add(403, path_contains="/actions/secrets/public-key", retry_after=9)
    sim.faults.add(403, path_contains="/actions/secrets/public-key", error_code="primary")
    with raw(sim) as c:
        too_many = c.get("/orgs/acme/actions/secrets/public-key")
        forbidden = c.get("/orgs/acme/actions/secrets/public-key")
        primary = c.get("/orgs/acme/actions/secrets/public-key")
        fine = c.get("/orgs/acme/actions/secrets/public-key")
    assert (too_many.status_code, too_many.headers["Retry-After"]) == (429, "7")
    assert (forbidden.status_code, forbidden.headers["Retry-After"]) == (403, "9")
    assert too_many.json()["message"].startswith("You have exceeded a secondary rate limit")
    assert "X-RateLimit-Remaining" in forbidden.headers
    assert primary.json()["message"].startswith("API rate limit exceeded for user ID ")
    assert primary.headers["X-RateLimit-Remaining"] == "0" and "Retry-After" not in primary.headers
    assert fine.status_code == 200 and fine.headers["X-RateLimit-Used"] == "1"  # faults are not counted


def test_pygithub_waits_out_a_secondary_limit_and_retries_5xx(sim: GitHubSimulator) -> None:
    sim.faults.add(403, path_contains="/orgs/acme/actions/secrets/public-key", retry_after=1)
    sim.faults.add(502, count=2, path_contains="/orgs/acme/actions/secrets/PIP")
    started = time.monotonic()
    org = gh(sim, retry=github.GithubRetry()).get_organization("acme")
    org.create_secret("PIP", URL, visibility="all")
    assert time.monotonic() - started >= 1.0
    assert sim.secret_value("acme", "PIP") == URL
    assert sim.requests.count(("GET", "/orgs/acme/actions/secrets/public-key")) == 2
    assert sim.requests.count(("PUT", "/orgs/acme/actions/secrets/PIP")) == 3


def test_html_502_and_dropped_connections_leave_no_state(sim: GitHubSimulator) -> None:
    sim.faults.add(502, path_contains="/actions/secrets", method="GET")
    sim.faults.add("drop", path_contains="/actions/secrets/", method="PUT")
    with raw(sim) as c:
        gateway = c.get("/orgs/acme/actions/secrets")
        key = c.get("/orgs/acme/actions/secrets/public-key").json()
        with pytest.raises(httpx.TransportError):
            c.put(
                "/orgs/acme/actions/secrets/X",
                json={"encrypted_value": seal(key["key"], "v"), "key_id": key["key_id"], "visibility": "all"},
            )
    assert gateway.status_code == 502 and gateway.headers["Content-Type"].startswith("text/html")
    assert sim.secret("acme", "X") is None


# ---- Enterprise prefix, concurrency, control API, standalone -------------------------------------------------------


def test_the_enterprise_prefix_api_v3_works_with_pygithub() -> None:
    with GitHubSimulator(prefix="/api/v3") as sim:
        for i in range(40):
            sim.add_repo("acme", f"r{i}")
        g = gh(sim)
        org = g.get_organization("acme")
        org.create_secret("PIP_INDEX_URL", URL, visibility="selected", selected_repositories=[g.get_repo("acme/r1")])
        names = [r.name for r in org.get_repos()]
        with httpx.Client(base_url=sim.url, trust_env=False, timeout=5) as c:
            at_root = c.get("/orgs/acme", headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"})
    assert sim.api_url.endswith("/api/v3") and org.url == f"{sim.api_url}/orgs/acme"
    assert sim.secret_value("acme", "PIP_INDEX_URL") == URL
    assert len(names) == 40  # followed Link headers under /api/v3
    assert ("PUT", "/api/v3/orgs/acme/actions/secrets/PIP_INDEX_URL") in sim.requests
    assert at_root.status_code == 404


def test_concurrent_writes_from_many_threads_are_all_kept(sim: GitHubSimulator) -> None:
    statuses: list[int] = []
    with raw(sim) as c:  # httpx clients are thread-safe; one pool, many connections
        key = c.get("/orgs/acme/actions/secrets/public-key").json()

        def write(i: int) -> None:
            body = {"encrypted_value": seal(key["key"], f"v{i}"), "key_id": key["key_id"], "visibility": "all"}
            statuses.append(c.put(f"/orgs/acme/actions/secrets/S{i}", json=body).status_code)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
    assert statuses == [201] * 24
    assert all(sim.secret_value("acme", f"S{i}") == f"v{i}" for i in range(24))


def test_the_control_api_seeds_rotates_injects_and_shows_plaintexts_without_auth(sim: GitHubSimulator) -> None:
    with httpx.Client(base_url=sim.url, trust_env=False, timeout=5) as c:
        org = c.post("/_sim/orgs", json={"login": "globex"}).json()
        repo = c.post("/_sim/repos", json={"org": "globex", "name": "svc", "visibility": "internal"}).json()
        c.post("/_sim/tokens", json={"token": "ghp-globex", "login": "ops", "admin_of": ["globex"]})
        old_key = sim.public_key("globex", "svc")
        rotated = c.post("/_sim/rotate_key", json={"org": "globex", "repo": "svc"}).json()
        c.post("/_sim/faults", json={"status": 503, "path_contains": "/user"})
        c.post("/_sim/latency", json={"seconds": 0})
        with raw(sim, token="ghp-globex") as api:
            assert api.get("/user").status_code == 503
            assert put_secret(api, "/repos/globex/svc", "TOKEN", "plain").status_code == 201
        state = c.get("/_sim/state").json()
        unknown = c.get("/_sim/nope")
    assert org["login"] == "globex" and repo["full_name"] == "globex/svc"
    assert rotated["key_id"] != old_key["key_id"] and set(rotated) == {"key_id", "key"}
    globex = next(o for o in state["orgs"] if o["login"] == "globex")
    assert globex["repos"][0]["secrets"][0]["value"] == "plain"
    assert ["PUT", "/repos/globex/svc/actions/secrets/TOKEN"] in state["requests"]
    assert unknown.status_code == 404


def test_latency_delays_api_calls_but_not_the_control_api() -> None:
    with GitHubSimulator(latency=0.3) as sim, raw(sim) as c:
        started = time.monotonic()
        c.get("/_sim/state")
        control = time.monotonic() - started
        started = time.monotonic()
        c.get("/user")
        api = time.monotonic() - started
    assert control < 0.25 <= api


def test_the_module_runs_alone_prints_its_url_and_stops_on_sigterm() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.github", "--port", str(port), "--prefix", "/api/v3", "--repos", "3"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == f"github: http://127.0.0.1:{port}/api/v3 token=ghp-sim-token org=acme repos=3"
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}/api/v3",
            trust_env=False,
            timeout=5,
            headers={"Authorization": "Bearer ghp-sim-token"},
        ) as c:
            repos = c.get("/orgs/acme/repos").json()
        assert sorted(r["name"] for r in repos) == ["repo-1", "repo-2", "repo-3"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
