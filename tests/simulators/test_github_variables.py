"""The GitHub simulator's Actions variables (what scans read), checked with PyGithub 2.8: `org.get_variables()`,
`org.create_variable()`, `repo.get_variables()`, `repo.create_variable()`, `repo.delete_variable()`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from github import Auth, Github, GithubException

from simulators.github import DEFAULT_TOKEN, GitHubSimulator
from simulators.github.variables_api import set_variable, variables_of


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def sim() -> Iterator[GitHubSimulator]:
    with GitHubSimulator() as simulator:
        simulator.add_repo("acme", "app")
        yield simulator


def gh(sim: GitHubSimulator, token: str = DEFAULT_TOKEN) -> Github:
    return Github(
        base_url=sim.api_url,
        auth=Auth.Token(token),
        retry=None,
        timeout=5,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


def test_pygithub_creates_and_lists_organization_variables_across_pages(sim: GitHubSimulator) -> None:
    org = gh(sim).get_organization("acme")
    org.create_variable("pip_index_url", "https://pkgs.example.com/simple/")
    for i in range(40):
        set_variable(sim.state, "acme", f"V_{i:02d}", str(i))
    # PyGithub 2.8.1's OrganizationVariable never declares ``_value`` (its ``value`` property raises), so the
    # values are checked on the simulator's side.
    names = {v.name for v in org.get_variables()}
    assert len(names) == 41 and "PIP_INDEX_URL" in names
    assert variables_of(sim.state, "acme")["PIP_INDEX_URL"] == "https://pkgs.example.com/simple/"
    assert org.get_variable("PIP_INDEX_URL").visibility == "all"


def test_pygithub_creates_lists_and_deletes_repository_variables(sim: GitHubSimulator) -> None:
    repo = gh(sim).get_repo("acme/app")
    repo.create_variable("EXTRA", "value")
    assert [(v.name, v.value) for v in repo.get_variables()] == [("EXTRA", "value")]
    assert repo.delete_variable("EXTRA") is True
    assert variables_of(sim.state, "acme", "app") == {}


def test_a_page_holds_at_most_30_variables_and_a_duplicate_name_is_a_409(sim: GitHubSimulator) -> None:
    for i in range(35):
        set_variable(sim.state, "acme", f"V_{i:02d}", str(i))
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}", "Accept": "application/vnd.github+json"}
    with httpx.Client(base_url=sim.api_url, headers=headers) as client:
        page = client.get("/orgs/acme/actions/variables", params={"per_page": 100})
        assert page.json()["total_count"] == 35 and len(page.json()["variables"]) == 30
        assert 'rel="next"' in page.headers["link"]
        assert len(client.get("/orgs/acme/actions/variables").json()["variables"]) == 10
        again = client.post("/orgs/acme/actions/variables", json={"name": "v_00", "value": "x"})
        assert again.status_code == 409


def test_a_token_that_does_not_administer_the_organization_cannot_read_variables(sim: GitHubSimulator) -> None:
    sim.state.add_token("ghp-outsider", "mallory", admin_of=[])
    with pytest.raises(GithubException) as refused:
        list(gh(sim, "ghp-outsider").get_organization("acme").get_variables())
    assert refused.value.status in (403, 404)
