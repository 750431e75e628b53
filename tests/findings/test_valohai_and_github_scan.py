"""Scanning a simulated Valohai organization (non-secret project and group variables) and a GitHub organization
(Actions variables of the organization and its repositories) over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from feeds.models import Feed
from findings import services
from findings.models import Finding, FindingStatus, ScanStatus
from simulators.github import GitHubSimulator
from simulators.github.variables_api import set_variable, variables_of
from simulators.valohai import ValohaiSimulator
from targets.models import Target
from tests.findings.conftest import FEED_HOST, findings_of, run_pushes, scan, url


def test_a_valohai_scan_finds_non_secret_project_and_group_variables_only(
    db: None, feed: Feed, token: str, vh_target: Target, valohai: ValohaiSimulator, acme: dict[str, Any]
) -> None:
    first, second = acme["projects"]
    valohai.set_env_var(first["id"], "PIP_INDEX_URL", url(token), secret=False)
    valohai.set_env_var(second["id"], "PRIVATE_PYPI_INDEX_URL", url(token), secret=True)
    valohai.add_group("acme", "shared", variables=[{"name": "EXTRA_URL", "value": url(token), "secret": False}])
    run = scan(vh_target)
    assert run.status == ScanStatus.OK, run.detail
    found = findings_of(vh_target)
    assert set(found) == {"project project-1 variable PIP_INDEX_URL", "organization group shared variable EXTRA_URL"}
    project = found["project project-1 variable PIP_INDEX_URL"]
    assert project.editable and project.feed == feed and project.place["project_id"] == first["id"]
    assert project.excerpt.startswith(f"https://build:***@{FEED_HOST}/")
    assert not found["organization group shared variable EXTRA_URL"].editable


def test_an_installation_without_the_group_endpoint_scans_projects_and_resolves_no_group_finding(
    db: None, settings: Any, feed: Feed, token: str, vh_target: Target, valohai: ValohaiSimulator
) -> None:
    valohai.add_group("acme", "shared", variables=[{"name": "EXTRA_URL", "value": url(token), "secret": False}])
    scan(vh_target)
    settings.VALOHAI_GROUP_PATH = "/api/v0/no-such-endpoint/"
    run = scan(vh_target)
    assert run.status == ScanStatus.PARTIAL and "group endpoint" in run.detail
    assert Finding.objects.get(target=vh_target).status == FindingStatus.OPEN


def test_a_github_scan_finds_organization_and_repository_variables_on_every_page(
    db: None, feed: Feed, token: str, gh_target: Target, github: GitHubSimulator
) -> None:
    github.state.add_repo("acme", "app")
    github.state.add_repo("acme", "lib")
    for i in range(35):
        set_variable(github.state, "acme", f"VAR_{i:02d}", "plain")
    set_variable(github.state, "acme", "ZZ_PIP_INDEX_URL", url(token))
    set_variable(github.state, "acme", "PIP_EXTRA_INDEX_URL", url(token), repo="app")
    run = scan(gh_target)
    assert run.status == ScanStatus.OK, run.detail
    found = findings_of(gh_target)
    assert set(found) == {"organization variable ZZ_PIP_INDEX_URL", "app variable PIP_EXTRA_INDEX_URL"}
    assert all(f.feed == feed and f.editable for f in found.values())


def test_deleting_a_github_variable_resolves_its_finding(
    db: None, feed: Feed, token: str, gh_target: Target, github: GitHubSimulator
) -> None:
    set_variable(github.state, "acme", "PIP_INDEX_URL", url(token))
    scan(gh_target)
    github.state.variables[("acme", "")].clear()
    assert scan(gh_target).counts["resolved"] == 1


def test_replacing_a_github_variable_pushes_a_secret_then_deletes_the_variable_on_request(
    db: None, admin: Any, feed: Feed, token: str, gh_target: Target, github: GitHubSimulator
) -> None:
    github.state.add_repo("acme", "app")
    set_variable(github.state, "acme", "PIP_INDEX_URL", url(token), repo="app")
    scan(gh_target)
    finding = Finding.objects.get(target=gh_target)
    with pytest.raises(ValidationError):
        services.finding_remove_plaintext_request(actor=admin, finding=finding)
    delivery = services.finding_replace(actor=admin, finding=finding)
    assert (delivery.mode, delivery.cfg.repositories, delivery.cfg.variable) == (
        "actions_repo_secret",
        ["app"],
        "PIP_INDEX_URL",
    )
    finding.refresh_from_db()
    assert finding.status == FindingStatus.OPEN and AuditEvent.objects.filter(action="finding.replacing").exists()
    assert run_pushes(delivery).status == "succeeded"
    finding.refresh_from_db()
    assert services.plaintext_removable(finding)
    assert variables_of(github.state, "acme", "app") == {"PIP_INDEX_URL": url(token)}
    services.finding_remove_plaintext_run(finding_id=finding.pk, user_id=admin.pk)
    assert variables_of(github.state, "acme", "app") == {}
    finding.refresh_from_db()
    assert (finding.status, finding.resolution) == (FindingStatus.RESOLVED, "replaced")
    event = AuditEvent.objects.get(action="finding.replaced")
    assert event.detail["plaintext"] == "variable PIP_INDEX_URL deleted" and event.actor == admin
    assert scan(gh_target).counts["reopened"] == 0


def test_an_organization_variable_shared_with_selected_repositories_is_left_to_the_admin(
    db: None, feed: Feed, token: str, gh_target: Target, github: GitHubSimulator
) -> None:
    set_variable(github.state, "acme", "PIP_INDEX_URL", url(token), visibility="selected")
    scan(gh_target)
    finding = Finding.objects.get(target=gh_target)
    assert services.replacement_for(finding) is None
    assert "delete the variable" in services.manual_advice(finding)
