"""The Valohai adapter against facts the platform does not pin down (docs/platforms.md §2): how an existing
variable name is refused, how projects show their owner, installations that do not list organizations, ``http://``
pagination links behind a TLS proxy, and one project listing per coverage check."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from core import http
from feeds import services as feed_services
from simulators.valohai import ValohaiSimulator
from targets import pushing, services
from targets.adapters import AdapterError, valohai_api, valohai_projects
from targets.adapters.valohai_api import ValohaiClient, ValohaiError
from targets.models import Delivery, Push, PushStatus, Target

VAR = "PRIVATE_PYPI_INDEX_URL"
PROXY = "https://vh.example.test"


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(valohai_projects, "sleep", lambda seconds: None)


def _push(delivery: Delivery) -> Push:
    push = Push.objects.filter(delivery=delivery).order_by("-id").first()
    if push is None or push.is_final:
        push = services.delivery_push(actor="system", delivery=delivery)
    pushing.push_dispatch(target_id=delivery.target_id)
    pushing.push_run(push_id=push.pk)
    push.refresh_from_db()
    return push


def _ids(org: dict[str, Any]) -> list[str]:
    return [p["id"] for p in org["projects"]]


def _listings(sim: ValohaiSimulator, path: str) -> int:
    return sum(1 for method, p in sim.requests if method == "GET" and p == path)


# --- 1. an existing name: overwritten or refused, with any status and wording ----------------------------------
# Whether POST projects/{id}/environment_variable/ overwrites an existing name is not documented; valohai-cli
# (commands/project/environment_variables/create.py) only POSTs. docs/platforms.md §2.3.


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "An environment variable with this name already exists."),
        (400, "Variable PRIVATE_PYPI_INDEX_URL is taken."),
        (409, "Conflict."),
    ],
    ids=["400-usual-wording", "400-other-wording", "409"],
)
def test_a_refused_existing_name_is_read_back_deleted_and_created_again_whatever_the_wording(
    db: None,
    admin: Any,
    feed: Any,
    vh_target: Target,
    valohai: ValohaiSimulator,
    acme: dict[str, Any],
    status: int,
    message: str,
) -> None:
    valohai.refuse_existing(status, message)
    ids = _ids(acme)
    valohai.set_env_var(ids[0], VAR, "https://old@pkgs.example.com/simple/")  # there before Feedkeeper
    delivery = services.delivery_create(actor=admin, feed=feed, target=vh_target, projects=["*"])
    assert (push := _push(delivery)).status == PushStatus.SUCCEEDED, push.error
    feed_services.feed_set_token(actor=admin, feed=feed, token="feed-token-2")
    feed.refresh_from_db()
    assert (push := _push(delivery)).status == PushStatus.SUCCEEDED, push.error
    for pid in ids:
        assert valohai.env_var(pid, VAR) == {"value": feed.credentialed_url(), "secret": True}
    assert sum(m == "DELETE" for m, _ in valohai.requests) == 1 + 3  # the one found first, then every project


def test_a_400_for_a_name_that_is_not_there_is_a_real_refusal_and_nothing_is_deleted(
    db: None, admin: Any, feed: Any, vh_target: Target, valohai: ValohaiSimulator, acme: dict[str, Any]
) -> None:
    pid = _ids(acme)[0]
    delivery = services.delivery_create(actor=admin, feed=feed, target=vh_target, projects=[pid])
    valohai.faults.add(400, count=None, path_contains="/environment_variable/", method="POST")
    push = _push(delivery)
    assert push.status == PushStatus.FAILED and "Simulated fault" in push.error
    assert not any(m == "DELETE" for m, _ in valohai.requests)
    assert ("GET", f"/api/v0/projects/{pid}/") in valohai.requests  # read back before deciding


def test_a_refusal_that_blames_another_field_deletes_nothing() -> None:
    error = ValohaiError("value: Not a valid string.", permanent=True, status=400, fields=frozenset({"value"}))
    assert not error.conflict
    assert ValohaiError("x", permanent=True, status=409).conflict
    assert ValohaiError("x", permanent=True, status=400, fields=frozenset({"name"})).conflict


def test_the_overwriting_variant_needs_no_delete(
    db: None, admin: Any, feed: Any, vh_target: Target, valohai: ValohaiSimulator, acme: dict[str, Any]
) -> None:
    valohai.overwrite_existing = True
    delivery = services.delivery_create(actor=admin, feed=feed, target=vh_target, projects=["*"])
    assert _push(delivery).status == PushStatus.SUCCEEDED
    feed_services.feed_set_token(actor=admin, feed=feed, token="feed-token-2")
    assert _push(delivery).status == PushStatus.SUCCEEDED
    assert not any(m == "DELETE" for m, _ in valohai.requests)


# --- 2. organizations and project owners ------------------------------------------------------------------------
# valohai-cli tests/fixtures/data.py shows a project with "owner": 1 and one with "owner": {"id", "username"};
# docs/platforms.md §2.2.


@pytest.mark.parametrize(
    ("style", "distinct"),
    [("id", False), ("object", True), ("id", True)],
    ids=["bare-id", "object-with-another-id", "bare-id-not-the-org-id"],
)
def test_projects_are_matched_to_the_organization_whatever_their_owner_looks_like(
    db: None,
    valohai: ValohaiSimulator,
    acme: dict[str, Any],
    vh_target: Target,
    style: str,
    distinct: bool,
) -> None:
    valohai.add_organization("other-org")
    valohai.add_project("other-org", "not-ours")
    valohai.show_owners(style, distinct_ids=distinct)
    info = vh_target.adapter().describe()
    assert info["organization_id"] == str(acme["id"])
    assert sorted(p["id"] for p in info["projects"]) == sorted(_ids(acme))


def test_an_installation_that_does_not_list_organizations_fails_with_a_clear_message(
    db: None, admin: Any, feed: Any, vh_target: Target, valohai: ValohaiSimulator, acme: dict[str, Any]
) -> None:
    valohai.list_organizations = False
    delivery = services.delivery_create(actor=admin, feed=feed, target=vh_target, projects=["*"])
    push = _push(delivery)
    assert push.status == PushStatus.FAILED and push.attempts == 1
    assert "does not list organizations" in push.error and "acme" in push.error
    results = {r.name: r for r in vh_target.adapter().check_health([delivery])}
    assert results["organization"].status == "failing"
    assert "does not list organizations" in results["organization"].detail


# --- 4. a private installation behind a TLS-terminating proxy ---------------------------------------------------
# DRF builds absolute next links from the request (docs/platforms.md §2.5); behind a proxy that does not forward
# the scheme they come back as http://.


@pytest.fixture
def tls_proxy(valohai: ValohaiSimulator, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Requests to https://vh.example.test reach the simulator as a TLS-terminating proxy would forward them (the
    Host header kept, so its links read http://vh.example.test/…). Returns every URL Feedkeeper asked for."""
    real = http.request
    asked: list[str] = []

    def forward(method: str, url: str, **kwargs: Any) -> httpx.Response:
        asked.append(url)
        if url.startswith(PROXY + "/"):
            headers = {**(kwargs.pop("headers", None) or {}), "Host": "vh.example.test"}
            return real(method, valohai.url + url[len(PROXY) :], headers=headers, **kwargs)
        return real(method, url, **kwargs)

    monkeypatch.setattr(http, "request", forward)
    return asked


def test_http_next_links_of_the_targets_own_host_are_followed_over_https(
    db: None,
    admin: Any,
    valohai: ValohaiSimulator,
    acme: dict[str, Any],
    tls_proxy: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(valohai_api, "PAGE_SIZE", 1)
    target = services.target_create(
        actor=admin, kind="valohai", name="private", url=PROXY, token="vh-sim-token", organization="acme"
    )
    info = target.adapter().describe()
    assert sorted(p["id"] for p in info["projects"]) == sorted(_ids(acme))
    assert sum("/api/v0/projects/" in url for url in tls_proxy) == 3
    assert all(url.startswith(PROXY + "/") for url in tls_proxy)


@pytest.mark.parametrize(
    "link",
    [
        "http://elsewhere.test/api/v0/projects/?offset=1",
        "http://vh.example.test:8080/api/v0/projects/?offset=1",
        "http://user@vh.example.test/api/v0/projects/?offset=1",
        "ftp://vh.example.test/api/v0/projects/?offset=1",
    ],
)
def test_other_hosts_ports_and_schemes_never_get_the_token(link: str) -> None:
    api = ValohaiClient(url=PROXY, token="t-123")
    with pytest.raises(ValohaiError) as info:
        api.same_origin(link)
    assert info.value.permanent and "another host" in str(info.value)
    assert api.same_origin("http://VH.example.test:80/api/v0/x/?a=1") == f"{PROXY}/api/v0/x/?a=1"
    assert api.same_origin(f"{PROXY}:443/api/v0/x/") == f"{PROXY}:443/api/v0/x/"
    plain = ValohaiClient(url="http://vh.example.test", token="t-123")
    with pytest.raises(ValohaiError):  # never a change of scheme the other way
        plain.same_origin(f"{PROXY}/api/v0/x/")


# --- coverage: the organization's projects are listed once per check ------------------------------------------


def test_the_coverage_check_lists_the_projects_once_for_every_delivery_of_the_target(
    db: None, admin: Any, feed: Any, vh_target: Target, valohai: ValohaiSimulator, acme: dict[str, Any]
) -> None:
    ids = _ids(acme)
    every_a = services.delivery_create(actor=admin, feed=feed, target=vh_target, projects=["*"])
    every_b = services.delivery_create(actor=admin, feed=feed, target=vh_target, projects=["*"], variable="OTHER")
    some = services.delivery_create(actor=admin, feed=feed, target=vh_target, projects=ids[:1], variable="THIRD")
    for delivery in (every_a, every_b, some):
        assert _push(delivery).status == PushStatus.SUCCEEDED
    deliveries = list(Delivery.objects.filter(target=vh_target).order_by("pk"))
    adapter = vh_target.adapter()
    valohai.requests.clear()
    assert adapter.deliveries_needing_push(deliveries) == []
    valohai.add_project("acme", "project-late")
    assert adapter.deliveries_needing_push(deliveries) == [every_a.pk, every_b.pk]
    assert _listings(valohai, "/api/v0/projects/") == 2  # one per call, not one per delivery
    assert _listings(valohai, "/api/v0/organizations/") == 2
    valohai.requests.clear()
    assert adapter.deliveries_needing_push([d for d in deliveries if d.pk == some.pk]) == []
    assert valohai.requests == []  # listed projects only: nothing to ask Valohai
    valohai.requests.clear()
    assert pushing.pushes_reconcile()["coverage"] == 1  # one target checked
    assert _listings(valohai, "/api/v0/projects/") == 1
    requested = Push.objects.filter(reason="coverage").values_list("delivery_id", flat=True)
    assert sorted(requested) == [every_a.pk, every_b.pk]


def test_needs_push_still_answers_for_one_delivery(
    db: None, admin: Any, feed: Any, vh_target: Target, valohai: ValohaiSimulator, acme: dict[str, Any]
) -> None:
    delivery = services.delivery_create(actor=admin, feed=feed, target=vh_target, projects=["*"])
    assert _push(delivery).status == PushStatus.SUCCEEDED
    delivery.refresh_from_db()
    assert vh_target.adapter().needs_push(delivery) is False
    valohai.add_project("acme", "project-late")
    assert vh_target.adapter().needs_push(delivery) is True


def test_a_coverage_check_without_the_organizations_listing_is_an_adapter_error(
    db: None, admin: Any, feed: Any, vh_target: Target, valohai: ValohaiSimulator, acme: dict[str, Any]
) -> None:
    delivery = services.delivery_create(actor=admin, feed=feed, target=vh_target, projects=["*"])
    assert _push(delivery).status == PushStatus.SUCCEEDED
    valohai.list_organizations = False
    with pytest.raises(AdapterError, match="does not list organizations"):
        vh_target.adapter().deliveries_needing_push([delivery])


# --- 3. runs see project variables only when they inherit them -------------------------------------------------
# Valohai docs, valohai.yaml "step.environment-variables" (docs.valohai.com/valohai-yaml/step-environment-variables/):
# "Make sure that the [X] Inherit project's environment variables and secrets checkbox is ticked when creating the
# execution." docs/platforms.md §2.3.


def test_the_delivery_form_and_the_mode_say_runs_must_inherit_project_variables(db: None, vh_target: Target) -> None:
    from targets.adapters.valohai import ValohaiAdapter
    from targets.forms import DeliveryForm

    form = DeliveryForm(target=vh_target)
    assert "Inherit project's environment variables and secrets" in str(form.fields["variable"].help_text)
    assert "inherit_environment_variables" in ValohaiAdapter.modes["project_variable"].help
    assert "Inherit project's environment variables" in ValohaiAdapter.modes["project_variable"].help
