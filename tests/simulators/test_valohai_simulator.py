"""The Valohai simulator speaks the real API: driven by the official valohai-cli and by httpx directly."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulators.valohai import ValohaiSimulator

TOKEN = "vh-sim-token"
REPO_ROOT = Path(__file__).resolve().parents[2]


# ---- fixtures and helpers ----------------------------------------------------------------------------------------


@pytest.fixture
def sim() -> Iterator[ValohaiSimulator]:
    """A started simulator with organization ``acme`` and project ``proj-1``."""
    with ValohaiSimulator() as simulator:
        simulator.add_organization("acme", members=["admin"])
        simulator.add_project("acme", "proj-1")
        yield simulator


def project_id(sim: ValohaiSimulator, name: str = "proj-1") -> str:
    """The uuid of a seeded project."""
    return str(next(p["id"] for p in sim.dump()["projects"] if p["name"] == name))


def client(sim: ValohaiSimulator, token: str | None = TOKEN, timeout: float = 5.0) -> httpx.Client:
    """An httpx client for the simulator, authenticated like valohai-cli."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    return httpx.Client(base_url=sim.url, headers=headers, timeout=timeout, trust_env=False)


def env_var_path(pid: str) -> str:
    """The project env var endpoint."""
    return f"/api/v0/projects/{pid}/environment_variable/"


def vh_command() -> list[str]:
    """The official CLI: the venv's ``vh`` script, or the click entry point through this interpreter."""
    pytest.importorskip("valohai_cli")
    script = Path(sys.executable).parent / "vh"
    if script.exists():
        return [str(script)]
    found = shutil.which("vh")
    if found:
        return [found]
    return [sys.executable, "-c", "from valohai_cli.cli import cli; cli()"]


def run_vh(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``vh`` with a private config dir, no proxy and no inherited VALOHAI_* settings."""
    config_dir = tmp_path / "vh-config"
    config_dir.mkdir(exist_ok=True)
    base = {k: v for k, v in os.environ.items() if not k.startswith("VALOHAI_") and "proxy" not in k.lower()}
    base.update(VALOHAI_CONFIG_DIR=str(config_dir), NO_PROXY="127.0.0.1,localhost", **env)
    return subprocess.run(
        [*vh_command(), *args], env=base, cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False
    )


def cli_env(sim: ValohaiSimulator, pid: str, token: str = TOKEN) -> dict[str, str]:
    """The environment of docs/platforms.md §2.6."""
    return {
        "VALOHAI_HOST": f"{sim.url}/",
        "VALOHAI_TOKEN": token,
        "VALOHAI_PROJECT": pid,
        "VALOHAI_OUTPUT_FORMAT": "json",
    }


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- the official valohai-cli ------------------------------------------------------------------------------------


def test_the_cli_creates_a_secret_lists_it_without_its_value_and_deletes_it(
    sim: ValohaiSimulator, tmp_path: Path
) -> None:
    pid = project_id(sim)
    env = cli_env(sim, pid)
    url = "https://u:t@feed.test/simple/"

    created = run_vh(
        ["project", "environment-variables", "create", "--secret", f"PRIVATE_PYPI_INDEX_URL={url}"], tmp_path, **env
    )
    assert created.returncode == 0, created.stderr
    assert sim.env_var(pid, "PRIVATE_PYPI_INDEX_URL") == {"value": url, "secret": True}

    listed = run_vh(["project", "environment-variables", "list"], tmp_path, **env)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == {"PRIVATE_PYPI_INDEX_URL": {"secret": True, "value": None}}
    assert url not in listed.stdout + listed.stderr

    deleted = run_vh(["project", "environment-variables", "delete", "PRIVATE_PYPI_INDEX_URL"], tmp_path, **env)
    assert deleted.returncode == 0, deleted.stderr
    assert sim.env_var(pid, "PRIVATE_PYPI_INDEX_URL") is None
    assert ("DELETE", env_var_path(pid)) in sim.requests


def test_the_cli_reports_deleting_a_missing_variable_as_not_found(sim: ValohaiSimulator, tmp_path: Path) -> None:
    result = run_vh(["project", "environment-variables", "delete", "NOPE"], tmp_path, **cli_env(sim, project_id(sim)))
    assert result.returncode == 1
    assert "not found" in result.stderr


def test_the_cli_logs_in_with_host_and_token(sim: ValohaiSimulator, tmp_path: Path) -> None:
    result = run_vh(["login", "--host", f"{sim.url}/", "--token", TOKEN], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Hey admin" in result.stderr
    saved = json.loads((tmp_path / "vh-config" / "config.json").read_text())
    assert saved["host"] == f"{sim.url}/" and saved["user"]["username"] == "admin"


def test_the_cli_fails_with_invalid_token_when_the_token_is_bad(sim: ValohaiSimulator, tmp_path: Path) -> None:
    login = run_vh(["login", "--host", f"{sim.url}/", "--token", "wrong"], tmp_path)
    assert login.returncode != 0
    assert "Invalid token." in login.stderr

    listed = run_vh(["project", "environment-variables", "list"], tmp_path, **cli_env(sim, project_id(sim), "wrong"))
    assert listed.returncode != 0
    assert "Invalid token." in listed.stderr


def test_the_cli_shows_internal_error_for_an_html_500(sim: ValohaiSimulator, tmp_path: Path) -> None:
    sim.faults.add(status=500, path_contains="/environment_variable/", method="POST")
    result = run_vh(
        ["project", "environment-variables", "create", "--secret", "X=1"], tmp_path, **cli_env(sim, project_id(sim))
    )
    assert result.returncode != 0
    assert "API Error: Internal error" in result.stderr


# ---- authentication, organizations, projects ---------------------------------------------------------------------


def test_users_me_answers_the_token_owner(sim: ValohaiSimulator) -> None:
    with client(sim) as c:
        me = c.get("/api/v0/users/me/")
    assert me.status_code == 200
    assert me.json()["username"] == "admin" and isinstance(me.json()["id"], int)


def test_a_missing_or_bad_token_gets_drf_401_bodies(sim: ValohaiSimulator) -> None:
    with client(sim, token=None) as c:
        missing = c.get("/api/v0/users/me/")
        bad = c.get("/api/v0/users/me/", headers={"Authorization": "Token nope"})
        bearer = c.get("/api/v0/users/me/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert (missing.status_code, missing.json()) == (401, {"detail": "Authentication credentials were not provided."})
    assert (bad.status_code, bad.json()) == (401, {"detail": "Invalid token."})
    assert bad.headers["WWW-Authenticate"] == "Token"
    assert bearer.status_code == 401


def test_organizations_lists_only_the_users_memberships(sim: ValohaiSimulator) -> None:
    sim.add_user(token="other-token", username="other")
    sim.add_organization("elsewhere", members=["other"])
    with client(sim) as c:
        body = c.get("/api/v0/organizations/").json()
    assert [o["name"] for o in body["results"]] == ["acme"]
    org = body["results"][0]
    assert isinstance(org["id"], int) and org["url"] == f"{sim.url}/api/v0/organizations/{org['id']}/"


def test_project_pagination_walks_all_25_projects_with_absolute_next_links(sim: ValohaiSimulator) -> None:
    for i in range(2, 26):
        sim.add_project("acme", f"proj-{i}")
    seen: list[str] = []
    pages = 0
    with client(sim) as c:
        url: str | None = "/api/v0/projects/?limit=10"
        while url:
            page = c.get(url).json()
            assert page["count"] == 25
            seen += [p["name"] for p in page["results"]]
            url = page["next"]
            pages += 1
            if url:
                assert url.startswith(f"{sim.url}/api/v0/projects/?")
        last = c.get("/api/v0/projects/?limit=10&offset=20").json()
        second = c.get("/api/v0/projects/?limit=10&offset=10").json()
    assert pages == 3 and len(seen) == 25 and len(set(seen)) == 25
    assert last["previous"] == f"{sim.url}/api/v0/projects/?limit=10&offset=10"
    assert second["previous"] == f"{sim.url}/api/v0/projects/?limit=10"


def test_next_links_follow_the_host_header(sim: ValohaiSimulator) -> None:
    sim.add_project("acme", "proj-2")
    with client(sim) as c:
        page = c.get("/api/v0/projects/?limit=1", headers={"Host": "valohai.example.test:8443"}).json()
    assert page["next"] == "http://valohai.example.test:8443/api/v0/projects/?limit=1&offset=1"


def test_project_owners_can_show_as_bare_ids_distinct_from_the_organizations(sim: ValohaiSimulator) -> None:
    # valohai-cli's tests/fixtures/data.py has a project with "owner": 1 and another with {"id", "username"}.
    pid = project_id(sim)
    org_id = sim.dump()["organizations"][0]["id"]
    with client(sim) as c:
        sim.show_owners("id")
        bare = c.get(f"/api/v0/projects/{pid}/").json()["owner"]
        sim.show_owners("object", distinct_ids=True)
        distinct = c.get(f"/api/v0/projects/{pid}/").json()["owner"]
        sim.show_owners("id", distinct_ids=True)
        listed = c.get("/api/v0/projects/").json()["results"][0]["owner"]
    assert bare == org_id
    assert distinct["username"] == "acme" and distinct["id"] != org_id
    assert listed == distinct["id"]


def test_an_installation_without_the_organizations_listing_answers_404(sim: ValohaiSimulator) -> None:
    sim.list_organizations = False
    with client(sim) as c:
        listing = c.get("/api/v0/organizations/")
        me = c.get("/api/v0/users/me/")
    assert (listing.status_code, listing.json()) == (404, {"detail": "Not found."})
    assert me.status_code == 200 and me.json()["organizations"] == []


def test_a_project_has_the_documented_fields_and_an_org_owner(sim: ValohaiSimulator) -> None:
    pid = project_id(sim)
    with client(sim) as c:
        project = c.get(f"/api/v0/projects/{pid}/").json()
        options = c.get("/api/v0/projects/ownership_options/").json()
    org_id = sim.dump()["organizations"][0]["id"]
    assert project["owner"] == {"id": org_id, "username": "acme"}
    assert project["url"] == f"{sim.url}/api/v0/projects/{pid}/"
    for key in ("ctime", "mtime", "urls", "read_only", "environment_variables", "execution_count"):
        assert key in project
    assert options == ["acme"]


def test_projects_of_other_organizations_are_invisible_and_answer_404(sim: ValohaiSimulator) -> None:
    sim.add_user(token="other-token", username="other")
    sim.add_organization("elsewhere", members=["other"])
    hidden = sim.add_project("elsewhere", "secret-proj")
    with client(sim) as c:
        names = [p["name"] for p in c.get("/api/v0/projects/").json()["results"]]
        detail = c.get(f"/api/v0/projects/{hidden['id']}/")
        write = c.post(env_var_path(hidden["id"]), json={"name": "A", "value": "b", "secret": True})
        unknown = c.get("/api/v0/projects/00000000-0000-0000-0000-000000000000/")
    assert names == ["proj-1"]
    assert (detail.status_code, detail.json()) == (404, {"detail": "Not found."})
    assert write.status_code == 404 and unknown.status_code == 404


# ---- project environment variables -------------------------------------------------------------------------------


def test_creating_a_variable_answers_201_without_the_value_and_secrets_read_back_as_null(sim: ValohaiSimulator) -> None:
    pid = project_id(sim)
    with client(sim) as c:
        created = c.post(
            env_var_path(pid), json={"name": "PRIVATE_PYPI_INDEX_URL", "value": "https://x/", "secret": True}
        )
        public = c.post(env_var_path(pid), json={"name": "MODE", "value": "prod", "secret": False})
        env = c.get(f"/api/v0/projects/{pid}/").json()["environment_variables"]
    assert (created.status_code, created.json()) == (201, {"name": "PRIVATE_PYPI_INDEX_URL", "secret": True})
    assert public.status_code == 201
    assert env == {
        "MODE": {"value": "prod", "secret": False},
        "PRIVATE_PYPI_INDEX_URL": {"value": None, "secret": True},
    }
    assert sim.env_var(pid, "PRIVATE_PYPI_INDEX_URL") == {"value": "https://x/", "secret": True}


def test_bad_names_and_missing_values_get_drf_field_errors(sim: ValohaiSimulator) -> None:
    pid = project_id(sim)
    with client(sim) as c:
        bad_name = c.post(env_var_path(pid), json={"name": "NOT VALID!", "value": "x", "secret": True})
        no_value = c.post(env_var_path(pid), json={"name": "OK_NAME", "secret": True})
        broken_json = c.post(env_var_path(pid), content=b"{not json", headers={"Content-Type": "application/json"})
    assert (bad_name.status_code, bad_name.json()) == (400, {"name": ["Enter a valid name."]})
    assert (no_value.status_code, no_value.json()) == (400, {"value": ["This field is required."]})
    assert broken_json.status_code == 400 and broken_json.json()["detail"].startswith("JSON parse error")
    assert sim.env_var(pid, "OK_NAME") is None


def test_an_existing_name_is_refused_by_default_and_overwritten_with_200_when_asked(sim: ValohaiSimulator) -> None:
    # Whether Valohai overwrites or refuses an existing name is undocumented (docs/platforms.md §2.3): the
    # refusing variant is the default so clients always exercise delete-then-create.
    pid = project_id(sim)
    with client(sim) as c:
        c.post(env_var_path(pid), json={"name": "URL", "value": "old", "secret": True})
        refused = c.post(env_var_path(pid), json={"name": "URL", "value": "new", "secret": True})
        assert sim.env_var(pid, "URL") == {"value": "old", "secret": True}
        sim.overwrite_existing = True
        again = c.post(env_var_path(pid), json={"name": "URL", "value": "new", "secret": True})
    assert (refused.status_code, refused.json()) == (
        400,
        {"name": ["An environment variable with this name already exists."]},
    )
    assert (again.status_code, again.json()) == (200, {"name": "URL", "secret": True})
    assert sim.env_var(pid, "URL") == {"value": "new", "secret": True}


@pytest.mark.parametrize(
    ("status", "body"),
    [(400, {"name": ["Name is taken."]}), (409, {"detail": "Name is taken."})],
    ids=["400", "409"],
)
def test_the_refusal_of_an_existing_name_has_a_configurable_status_and_wording(
    status: int, body: dict[str, Any]
) -> None:
    with ValohaiSimulator(exists_status=status, exists_message="Name is taken.") as sim:
        sim.add_organization("acme")
        pid = sim.add_project("acme", "proj-1")["id"]
        with client(sim) as c:
            c.post(env_var_path(pid), json={"name": "URL", "value": "old", "secret": True})
            again = c.post(env_var_path(pid), json={"name": "URL", "value": "new", "secret": True})
            deleted = c.request("DELETE", env_var_path(pid), json={"name": "URL"})
            recreated = c.post(env_var_path(pid), json={"name": "URL", "value": "new", "secret": True})
        assert (again.status_code, again.json()) == (status, body)
        assert deleted.status_code == 204 and deleted.content == b""
        assert recreated.status_code == 201
        assert sim.env_var(pid, "URL") == {"value": "new", "secret": True}


def test_delete_takes_the_name_in_a_json_body_and_answers_404_when_missing(sim: ValohaiSimulator) -> None:
    pid = project_id(sim)
    sim.set_env_var(pid, "GONE", "x")
    with client(sim) as c:
        first = c.request("DELETE", env_var_path(pid), json={"name": "GONE"})
        second = c.request("DELETE", env_var_path(pid), json={"name": "GONE"})
    assert first.status_code == 204
    assert (second.status_code, second.json()) == (404, {"detail": "Not found."})


def test_unknown_paths_and_methods_get_drf_errors(sim: ValohaiSimulator) -> None:
    with client(sim) as c:
        unknown = c.get("/api/v0/nothing-here/")
        no_slash = c.get("/api/v0/users/me")
        wrong_method = c.get(env_var_path(project_id(sim)))
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Not found."})
    assert no_slash.status_code == 404
    assert (wrong_method.status_code, wrong_method.json()) == (405, {"detail": 'Method "GET" not allowed.'})


def test_concurrent_writes_from_many_threads_are_all_kept(sim: ValohaiSimulator) -> None:
    pid = project_id(sim)

    def write(i: int) -> None:
        with client(sim) as c:
            assert c.post(env_var_path(pid), json={"name": f"V{i}", "value": str(i), "secret": True}).status_code == 201

    threads = [threading.Thread(target=write, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sim.env_vars(pid)) == 20


# ---- organization environment-variable groups --------------------------------------------------------------------


def test_groups_support_create_list_retrieve_patch_put_and_delete_with_null_secrets(sim: ValohaiSimulator) -> None:
    pid = project_id(sim)
    org_id = sim.dump()["organizations"][0]["id"]
    path = "/api/v0/environment-variable-groups/"
    body = {
        "organization": org_id,
        "name": "pypi",
        "variables": [
            {"name": "PRIVATE_PYPI_INDEX_URL", "value": "https://u:t@f/simple/", "secret": True},
            {"name": "MODE", "value": "prod", "secret": False},
        ],
        "projects": [pid],
    }
    with client(sim) as c:
        created = c.post(path, json=body)
        gid = created.json()["id"]
        listed = c.get(path, params={"organization": org_id}).json()
        other_org = c.get(path, params={"organization": org_id + 999}).json()
        fetched = c.get(f"{path}{gid}/").json()
        patched = c.patch(
            f"{path}{gid}/",
            json={"variables": [{"name": "PRIVATE_PYPI_INDEX_URL", "value": "https://u:t2@f/simple/", "secret": True}]},
        )
        put = c.put(f"{path}{gid}/", json={**body, "name": "pypi-renamed"})
        deleted = c.delete(f"{path}{gid}/")
        gone = c.get(f"{path}{gid}/")
    assert created.status_code == 201
    assert created.json()["variables"][0] == {"name": "PRIVATE_PYPI_INDEX_URL", "value": None, "secret": True}
    assert created.json()["variables"][1]["value"] == "prod" and created.json()["projects"] == [pid]
    assert listed["count"] == 1 and listed["results"][0]["id"] == gid and other_org["count"] == 0
    assert fetched["name"] == "pypi" and fetched["organization"] == org_id
    assert patched.status_code == 200
    assert put.status_code == 200 and put.json()["name"] == "pypi-renamed"
    assert deleted.status_code == 204 and gone.status_code == 404


def test_a_group_patch_keeps_the_stored_secret_when_its_value_is_sent_as_null(sim: ValohaiSimulator) -> None:
    group = sim.add_group(
        "acme",
        "pypi",
        variables=[{"name": "A", "value": "keep-me", "secret": True}, {"name": "B", "value": "old", "secret": True}],
    )
    with client(sim) as c:
        response = c.patch(
            f"/api/v0/environment-variable-groups/{group['id']}/",
            json={
                "variables": [
                    {"name": "A", "value": None, "secret": True},
                    {"name": "B", "value": "new", "secret": True},
                ]
            },
        )
    assert response.status_code == 200
    stored = sim.group(group["id"])
    assert stored is not None
    assert stored["variables"] == [
        {"name": "A", "value": "keep-me", "secret": True},
        {"name": "B", "value": "new", "secret": True},
    ]


def test_group_validation_errors_use_field_and_non_field_shapes(sim: ValohaiSimulator) -> None:
    org_id = sim.dump()["organizations"][0]["id"]
    path = "/api/v0/environment-variable-groups/"
    with client(sim) as c:
        first = c.post(path, json={"organization": org_id, "name": "dup"})
        duplicate = c.post(path, json={"organization": org_id, "name": "dup"})
        bad_org = c.post(path, json={"organization": 424242, "name": "x"})
        bad_var = c.post(
            path,
            json={
                "organization": org_id,
                "name": "y",
                "variables": [{"name": "OK", "value": "1"}, {"name": "bad name", "value": "2"}],
            },
        )
        missing = c.post(path, json={})
    assert first.status_code == 201
    assert duplicate.json() == {"non_field_errors": ["The fields organization, name must make a unique set."]}
    assert bad_org.json() == {"organization": ['Invalid pk "424242" - object does not exist.']}
    assert bad_var.json() == {"variables": [{}, {"name": ["Enter a valid name."]}]}
    assert missing.json() == {"organization": ["This field is required."], "name": ["This field is required."]}


def test_a_member_who_is_not_an_admin_cannot_edit_groups(sim: ValohaiSimulator) -> None:
    sim.add_user(token="viewer-token", username="viewer")
    sim.add_organization("shared", members=["admin", "viewer"], admins=["admin"])
    group = sim.add_group("shared", "pypi", variables=[{"name": "A", "value": "s", "secret": True}])
    with client(sim, token="viewer-token") as c:
        seen = c.get(f"/api/v0/environment-variable-groups/{group['id']}/")
        denied = c.delete(f"/api/v0/environment-variable-groups/{group['id']}/")
    assert seen.status_code == 200 and seen.json()["variables"][0]["value"] is None
    assert denied.status_code == 403


def test_without_a_group_path_the_group_endpoint_answers_404() -> None:
    with ValohaiSimulator(group_path=None) as sim:
        sim.add_organization("acme")
        with client(sim) as c:
            response = c.get("/api/v0/environment-variable-groups/")
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


def test_the_group_endpoint_can_live_at_another_path() -> None:
    with ValohaiSimulator(group_path="/api/v0/organization-env-groups") as sim:
        org = sim.add_organization("acme")
        with client(sim) as c:
            moved = c.post("/api/v0/organization-env-groups/", json={"organization": org["id"], "name": "g"})
            default = c.get("/api/v0/environment-variable-groups/")
    assert moved.status_code == 201 and default.status_code == 404


# ---- faults and latency ------------------------------------------------------------------------------------------


def test_a_429_fault_carries_retry_after_and_the_drf_throttle_detail(sim: ValohaiSimulator) -> None:
    pid = project_id(sim)
    sim.faults.add(status=429, count=2, path_contains="/environment_variable/", method="POST", retry_after=1)
    with client(sim) as c:
        other = c.get(f"/api/v0/projects/{pid}/")
        answers = [c.post(env_var_path(pid), json={"name": "A", "value": "b", "secret": True}) for _ in range(3)]
    assert other.status_code == 200
    assert [r.status_code for r in answers] == [429, 429, 201]
    assert answers[0].headers["Retry-After"] == "1"
    assert answers[0].json() == {"detail": "Request was throttled. Expected available in 1 second."}


def test_a_500_fault_is_an_html_page(sim: ValohaiSimulator) -> None:
    sim.faults.add(status=500)
    with client(sim) as c:
        response = c.get("/api/v0/users/me/")
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<html><body><h1>Server Error (500)</h1></body></html>" in response.text


def test_commit_then_timeout_applies_the_write_but_drops_the_answer(sim: ValohaiSimulator) -> None:
    pid = project_id(sim)
    sim.faults.add(status="commit_then_timeout", path_contains="/environment_variable/", hang=0.2)
    with client(sim) as c, pytest.raises(httpx.RemoteProtocolError):
        c.post(env_var_path(pid), json={"name": "LOST", "value": "written", "secret": True})
    assert sim.env_var(pid, "LOST") == {"value": "written", "secret": True}


def test_a_timeout_fault_hangs_and_drops_the_connection_without_writing(sim: ValohaiSimulator) -> None:
    pid = project_id(sim)
    sim.faults.add(status="timeout", hang=5)
    with client(sim, timeout=0.3) as c, pytest.raises(httpx.ReadTimeout):
        c.post(env_var_path(pid), json={"name": "NEVER", "value": "x", "secret": True})
    assert sim.env_var(pid, "NEVER") is None


def test_the_random_fault_rate_is_seeded_and_reproducible() -> None:
    def statuses(seed: int) -> list[int]:
        with ValohaiSimulator(seed=seed) as sim:
            sim.faults.rate(0.5, statuses=(429, 500, 503))
            with client(sim) as c:
                return [c.get("/api/v0/users/me/").status_code for _ in range(30)]

    first = statuses(7)
    assert first == statuses(7)
    assert {200, 429, 500, 503} <= set(first)


def test_latency_delays_api_calls_but_not_the_control_api() -> None:
    # A wide margin: a loaded CI machine may take a few hundred ms to answer anything.
    with ValohaiSimulator(latency=1.5) as sim, client(sim) as c:
        start = time.monotonic()
        c.get("/_sim/state")
        control = time.monotonic() - start
        start = time.monotonic()
        c.get("/api/v0/users/me/")
        api = time.monotonic() - start
    assert control < 1.2 and api >= 1.5


# ---- control API and command line --------------------------------------------------------------------------------


def test_the_control_api_seeds_users_projects_faults_and_latency_without_auth(sim: ValohaiSimulator) -> None:
    with client(sim, token=None) as c:
        user = c.post("/_sim/users", json={"token": "t2", "username": "bob"})
        project = c.post("/_sim/projects", json={"org": "acme", "name": "new"})
        fault = c.post("/_sim/faults", json={"status": 503, "count": 1, "path_contains": "/users/me/"})
        latency = c.post("/_sim/latency", json={"seconds": 0})
        throttled = c.get("/api/v0/users/me/", headers={"Authorization": "Token t2"})
        cleared = c.post("/_sim/faults", json={"clear": True})
        rate = c.post("/_sim/faults", json={"rate": 0.2, "statuses": [500]})
        state = c.get("/_sim/state").json()
    assert user.status_code == 201 and user.json()["username"] == "bob"
    assert project.status_code == 201 and project.json()["owner"]["username"] == "acme"
    assert fault.status_code == 200 and latency.json() == {"latency": 0.0}
    assert throttled.status_code == 503 and cleared.json()["rules"] == []
    assert rate.json()["rate"]["probability"] == 0.2
    assert {p["name"] for p in state["projects"]} == {"proj-1", "new"}


def test_the_state_dump_includes_secret_values_for_tests(sim: ValohaiSimulator) -> None:
    pid = project_id(sim)
    with client(sim) as c:
        c.post(env_var_path(pid), json={"name": "S", "value": "shh", "secret": True})
        state = c.get("/_sim/state").json()
    project = next(p for p in state["projects"] if p["id"] == pid)
    assert project["environment_variables"] == {"S": {"value": "shh", "secret": True}}
    assert ("POST", env_var_path(pid)) in sim.requests


def test_the_module_runs_alone_prints_its_url_and_stops_on_sigterm() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulators.valohai",
            "--port",
            str(port),
            "--orgs",
            "2",
            "--projects",
            "3",
            "--token",
            "vh-xyz",
            "--no-overwrite",
            "--exists-status",
            "409",
            "--project-owner",
            "id",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == f"valohai: http://127.0.0.1:{port} token=vh-xyz organizations=org-1,org-2"
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=5, headers={"Authorization": "Token vh-xyz"}
        ) as c:
            projects: dict[str, Any] = c.get("/api/v0/projects/").json()
            state = c.get("/_sim/state").json()
        assert projects["count"] == 6 and state["overwrite_existing"] is False and state["exists_status"] == 409
        assert isinstance(projects["results"][0]["owner"], int) and state["project_owner"] == "id"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
