"""The Valohai adapter against the Valohai simulator, over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

import simulators.valohai.api as sim_api
from feeds import services as feed_services
from simulators.valohai import ValohaiSimulator
from targets import checks, pushing, services
from targets.adapters import AdapterError, valohai_api, valohai_projects
from targets.models import Delivery, DeliveryStatus, Push, PushStatus, Target, TargetCheck

VAR = "PRIVATE_PYPI_INDEX_URL"


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-place retries wait (Retry-After, backoff); tests need not."""
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


def _every(admin: Any, feed: Any, target: Target, **values: Any) -> Delivery:
    return services.delivery_create(actor=admin, feed=feed, target=target, projects=["*"], **values)


# --- targets and describe ----------------------------------------------------------------------------------


def test_describe_resolves_the_organization_id_and_its_projects_across_pages(
    db: None,
    admin: Any,
    valohai: ValohaiSimulator,
    acme: dict[str, Any],
    vh_target: Target,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = valohai.add_organization("other-org")
    valohai.add_project("other-org", "not-ours")
    monkeypatch.setattr(valohai_api, "PAGE_SIZE", 1)
    assert vh_target.url == valohai.url and vh_target.auth_type == "token"
    info = vh_target.adapter().describe()
    pages = [path for method, path in valohai.requests if path == "/api/v0/projects/"]
    assert len(pages) == 4  # one project per page, the other organization's filtered out on our side
    assert info["organization_id"] == str(acme["id"]) and len(info["projects"]) == 3
    check = TargetCheck.objects.create(target=vh_target)
    checks.target_check_run(check_id=check.pk)
    vh_target.refresh_from_db()
    assert vh_target.info["organization_id"] == str(acme["id"]) != str(other["id"])
    assert vh_target.info["projects"] == [{"id": p["id"], "name": p["name"]} for p in acme["projects"]]


def test_a_valohai_target_needs_an_organization_and_defaults_to_app_valohai_com(db: None, admin: Any) -> None:
    with pytest.raises(ValidationError) as info:
        services.target_create(actor=admin, kind="valohai", name="x", token="t-123456")
    assert "organization" in info.value.message_dict
    target = services.target_create(actor=admin, kind="valohai", name="x", token="t-123456", organization="acme")
    assert target.url == "https://app.valohai.com" and target.auth_type == "token"


def test_a_next_link_to_another_host_is_refused_and_never_gets_the_token(
    db: None, valohai: ValohaiSimulator, acme: dict[str, Any], vh_target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ValohaiSimulator() as elsewhere:
        real = sim_api.paginate

        def foreign(items: list[Any], request: Any) -> dict[str, Any]:
            body = real(items, request)
            if body["next"]:
                body["next"] = body["next"].replace(valohai.url, elsewhere.url.replace("127.0.0.1", "localhost"))
            return body

        monkeypatch.setattr(sim_api, "paginate", foreign)
        monkeypatch.setattr(valohai_api, "PAGE_SIZE", 1)
        with pytest.raises(AdapterError) as info:
            vh_target.adapter().describe()
        assert info.value.permanent and "another host" in str(info.value)
        assert elsewhere.requests == []


# --- validation ---------------------------------------------------------------------------------------------


def test_an_invalid_variable_name_and_databricks_fields_are_refused(
    db: None, admin: Any, feed: Any, vh_target: Target
) -> None:
    with pytest.raises(ValidationError) as info:
        _every(admin, feed, vh_target, variable="PIP INDEX!")
    assert "variable" in info.value.message_dict
    with pytest.raises(ValidationError) as info:
        _every(admin, feed, vh_target, scope="s", key="k")
    assert {"scope", "key"} <= set(info.value.message_dict)
    with pytest.raises(ValidationError) as info:
        services.delivery_create(actor=admin, feed=feed, target=vh_target, projects=["not-a-uuid"])
    assert "projects" in info.value.message_dict


def test_locations_name_the_projects_and_variable_and_are_unique_per_target(
    db: None, admin: Any, feed: Any, vh_target: Target, acme: dict[str, Any]
) -> None:
    ids = _ids(acme)
    every = _every(admin, feed, vh_target)
    assert every.location == f"projects:*:{VAR}" and every.mode == "project_variable"
    some = services.delivery_create(
        actor=admin, feed=feed, target=vh_target, projects=[ids[1], ids[0]], variable="pip_index"
    )
    assert some.location == f"projects:{','.join(sorted(ids[:2]))}:pip_index"
    with pytest.raises(ValidationError):
        _every(admin, feed, vh_target)


# --- pushing ------------------------------------------------------------------------------------------------


def test_every_project_gets_the_url_as_a_secret_and_per_project_state(
    db: None, admin: Any, feed: Any, vh_target: Target, valohai: ValohaiSimulator, acme: dict[str, Any]
) -> None:
    delivery = _every(admin, feed, vh_target)
    push = _push(delivery)
    assert push.status == PushStatus.SUCCEEDED, push.error
    for pid in _ids(acme):
        assert valohai.env_var(pid, VAR) == {"value": feed.credentialed_url(), "secret": True}
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.delivered_fingerprint == feed.fingerprint
    states = delivery.state["projects"]
    assert set(states) == set(_ids(acme))
    assert {s["status"] for s in states.values()} == {"delivered"}
    assert {s["fingerprint"] for s in states.values()} == {feed.fingerprint}
    assert all(s["pushed_at"] for s in states.values())


@pytest.mark.parametrize("overwrites", [True, False], ids=["overwrite", "delete-then-create"])
def test_a_new_token_replaces_the_old_value_whether_valohai_overwrites_or_refuses(
    db: None,
    admin: Any,
    feed: Any,
    vh_target: Target,
    valohai: ValohaiSimulator,
    acme: dict[str, Any],
    overwrites: bool,
) -> None:
    valohai.overwrite_existing = overwrites
    delivery = _every(admin, feed, vh_target)
    assert _push(delivery).status == PushStatus.SUCCEEDED
    feed_services.feed_set_token(actor=admin, feed=feed, token="feed-token-2")
    feed.refresh_from_db()
    valohai.requests.clear()
    push = _push(delivery)
    assert push.status == PushStatus.SUCCEEDED, push.error
    assert "feed-token-2" in feed.credentialed_url()
    for pid in _ids(acme):
        assert valohai.env_var(pid, VAR) == {"value": feed.credentialed_url(), "secret": True}
        calls = [m for m, path in valohai.requests if f"/projects/{pid}/" in path]
        # The name was delivered there by the last push: a refused POST means it exists, no read to tell; the
        # read after is the verification.
        assert calls == (["POST", "GET"] if overwrites else ["POST", "DELETE", "POST", "GET"])
    deletes = [p for m, p in valohai.requests if m == "DELETE"]
    assert len(deletes) == (0 if overwrites else 3)


def test_a_name_delivered_before_but_deleted_on_valohai_since_is_created_again(
    db: None, admin: Any, feed: Any, vh_target: Target, valohai: ValohaiSimulator, acme: dict[str, Any]
) -> None:
    pid = _ids(acme)[0]
    delivery = services.delivery_create(actor=admin, feed=feed, target=vh_target, projects=[pid])
    assert _push(delivery).status == PushStatus.SUCCEEDED
    with valohai.lock:  # someone removed it on Valohai
        del valohai.state.projects[pid].env[VAR]
    feed_services.feed_set_token(actor=admin, feed=feed, token="feed-token-2")
    feed.refresh_from_db()
    push = _push(delivery)
    assert push.status == PushStatus.SUCCEEDED, push.error
    assert valohai.env_var(pid, VAR) == {"value": feed.credentialed_url(), "secret": True}


def test_a_429_on_the_create_is_not_blindly_retried_but_ends_with_the_value(
    db: None, admin: Any, feed: Any, vh_target: Target, valohai: ValohaiSimulator, acme: dict[str, Any]
) -> None:
    pid = _ids(acme)[0]
    delivery = services.delivery_create(actor=admin, feed=feed, target=vh_target, projects=[pid])
    valohai.faults.add(429, count=1, path_contains="/environment_variable/", method="POST", retry_after=0)
    push = _push(delivery)
    assert push.status == PushStatus.SUCCEEDED, push.error
    calls = [(m, p) for m, p in valohai.requests if pid in p]
    post, read = ("POST", f"/api/v0/projects/{pid}/environment_variable/"), ("GET", f"/api/v0/projects/{pid}/")
    assert calls[:3] == [post, read, post]  # re-read before the second POST
    assert valohai.env_var(pid, VAR) == {"value": feed.credentialed_url(), "secret": True}


def test_a_lost_answer_on_an_existing_variable_is_settled_by_delete_then_create(
    db: None, feed: Any, admin: Any, vh_target: Target, valohai: ValohaiSimulator, acme: dict[str, Any]
) -> None:
    pid = _ids(acme)[0]
    valohai.set_env_var(pid, VAR, "https://old@pkgs.example.com/simple/")
    delivery = services.delivery_create(actor=admin, feed=feed, target=vh_target, projects=[pid])
    valohai.faults.add("commit_then_timeout", count=1, path_contains="/environment_variable/", method="POST", hang=0.1)
    result = vh_target.adapter().push(delivery, "https://u:new-secret@pkgs.example.com/simple/", restart_consent=False)
    assert result.detail["projects"][pid]["status"] == "delivered"
    assert valohai.env_var(pid, VAR) == {"value": "https://u:new-secret@pkgs.example.com/simple/", "secret": True}
    assert ("DELETE", f"/api/v0/projects/{pid}/environment_variable/") in valohai.requests


def test_a_500_in_one_project_is_transient_after_the_others_are_done(
    db: None, admin: Any, feed: Any, vh_target: Target, valohai: ValohaiSimulator, acme: dict[str, Any]
) -> None:
    ids = _ids(acme)
    delivery = _every(admin, feed, vh_target)
    valohai.faults.add(500, count=None, path_contains=f"{ids[1]}/environment_variable/", method="POST")
    value = feed.credentialed_url()
    with pytest.raises(AdapterError) as info:
        vh_target.adapter().push(delivery, value, restart_consent=False)
    error = info.value
    assert not error.permanent
    assert "1 of 3 projects failed" in str(error) and "Internal error (HTTP 500)" in str(error)
    assert "feed-token-1" not in str(error) and "<html" not in str(error)
    assert error.detail["projects"][ids[1]]["status"] == "failed"
    assert valohai.env_var(ids[0], VAR)["value"] == value and valohai.env_var(ids[2], VAR)["value"] == value
    push = _push(delivery)  # the machinery keeps the per-project outcome of the failed attempt
    assert push.status == PushStatus.PENDING and push.attempts == 1
    delivery.refresh_from_db()
    assert delivery.state["projects"][ids[1]]["status"] == "failed"
    assert delivery.state["projects"][ids[0]]["status"] == "delivered"


def test_a_bad_token_fails_at_once_as_permanent_without_the_token_in_the_message(
    db: None, admin: Any, feed: Any, valohai: ValohaiSimulator, acme: dict[str, Any]
) -> None:
    target = services.target_create(
        actor=admin, kind="valohai", name="bad", url=valohai.url, token="vh-wrong-token-123", organization="acme"
    )
    delivery = services.delivery_create(actor=admin, feed=feed, target=target, projects=_ids(acme)[:1])
    push = _push(delivery)
    assert push.status == PushStatus.FAILED and push.attempts == 1
    assert "The Valohai token was refused" in push.error and "vh-wrong-token-123" not in push.error


# --- coverage -----------------------------------------------------------------------------------------------


def test_a_project_created_later_is_noticed_and_covered_by_the_reconciler(
    db: None, admin: Any, feed: Any, vh_target: Target, valohai: ValohaiSimulator, acme: dict[str, Any]
) -> None:
    delivery = _every(admin, feed, vh_target)
    assert _push(delivery).status == PushStatus.SUCCEEDED
    delivery.refresh_from_db()
    assert vh_target.adapter().needs_push(delivery) is False
    late = valohai.add_project("acme", "project-late")
    assert vh_target.adapter().needs_push(delivery) is True
    assert pushing.pushes_reconcile()["coverage"] == 1
    assert _push(delivery).status == PushStatus.SUCCEEDED
    assert valohai.env_var(late["id"], VAR) == {"value": feed.credentialed_url(), "secret": True}
    delivery.refresh_from_db()
    assert vh_target.adapter().needs_push(delivery) is False


# --- organization groups (experimental) ---------------------------------------------------------------------


def test_group_mode_creates_then_updates_one_group_holding_the_secret(
    db: None, admin: Any, feed: Any, vh_target: Target, valohai: ValohaiSimulator, acme: dict[str, Any]
) -> None:
    delivery = _every(admin, feed, vh_target, mode="organization_group")
    assert delivery.location == "group:feedkeeper-private_pypi_index_url"
    assert _push(delivery).status == PushStatus.SUCCEEDED
    feed_services.feed_set_token(actor=admin, feed=feed, token="feed-token-2")
    feed.refresh_from_db()
    valohai.add_project("acme", "project-4")
    assert _push(delivery).status == PushStatus.SUCCEEDED
    groups = valohai.dump()["groups"]
    assert len(groups) == 1
    group = groups[0]
    assert group["name"] == "feedkeeper-private_pypi_index_url" and group["organization"] == acme["id"]
    assert group["variables"] == [{"name": VAR, "value": feed.credentialed_url(), "secret": True}]
    assert len(group["projects"]) == 4


def test_group_mode_fails_clearly_where_the_installation_has_no_group_endpoint(db: None, admin: Any, feed: Any) -> None:
    with ValohaiSimulator(group_path=None) as sim:
        sim.add_organization("acme")
        sim.add_project("acme", "p")
        target = services.target_create(
            actor=admin, kind="valohai", name="old", url=sim.url, token="vh-sim-token", organization="acme"
        )
        delivery = _every(admin, feed, target, mode="organization_group")
        push = _push(delivery)
    assert push.status == PushStatus.FAILED and push.attempts == 1
    assert "does not answer the organization group endpoint /api/v0/environment-variable-groups/" in push.error
    assert "use project_variable or set VALOHAI_GROUP_PATH" in push.error


# --- health -------------------------------------------------------------------------------------------------


def test_health_reports_token_organization_each_project_coverage_and_the_feed(
    db: None, admin: Any, feed: Any, vh_target: Target, valohai: ValohaiSimulator, acme: dict[str, Any]
) -> None:
    ids = _ids(acme)
    delivery = _every(admin, feed, vh_target)
    assert _push(delivery).status == PushStatus.SUCCEEDED
    with valohai.lock:
        del valohai.state.projects[ids[0]].env[VAR]
    valohai.set_env_var(ids[1], VAR, "visible", secret=False)
    valohai.add_project("acme", "project-new")
    check = TargetCheck.objects.create(target=vh_target)
    checks.target_check_run(check_id=check.pk)
    check.refresh_from_db()
    results = {r["name"]: r for r in check.results}
    assert results["authentication"]["status"] == "ok" and "admin" in results["authentication"]["detail"]
    assert results["organization"]["status"] == "ok" and str(acme["id"]) in results["organization"]["detail"]
    assert results[f"{VAR} in project-1"]["status"] == "failing"
    assert "Missing" in results[f"{VAR} in project-1"]["detail"]
    assert results[f"{VAR} in project-2"]["status"] == "failing"
    assert "not secret" in results[f"{VAR} in project-2"]["detail"]
    ok = results[f"{VAR} in project-3"]
    assert ok["status"] == "ok" and feed.fingerprint in ok["detail"] and "current" in ok["detail"]
    assert results[f"{VAR} coverage"]["status"] == "warning"
    assert "project-new" in results[f"{VAR} coverage"]["detail"]
    assert results[f"feed {feed.name} accepts its token"]["status"] == "warning"
    assert check.status == "failing"
    vh_target.refresh_from_db()
    assert vh_target.health == "failing"


def test_health_shows_a_stale_fingerprint_and_a_refused_token(
    db: None, admin: Any, feed: Any, vh_target: Target, valohai: ValohaiSimulator, acme: dict[str, Any]
) -> None:
    delivery = services.delivery_create(actor=admin, feed=feed, target=vh_target, projects=_ids(acme)[:1])
    assert _push(delivery).status == PushStatus.SUCCEEDED
    feed_services.feed_set_token(actor=admin, feed=feed, token="feed-token-2")
    delivery.refresh_from_db()
    results = {r.name: r for r in vh_target.adapter().check_health([delivery])}
    assert results[f"{VAR} in project-1"].status == "warning"
    assert "Stale" in results[f"{VAR} in project-1"].detail
    services.target_update(actor=admin, target=vh_target, token="vh-revoked-token")
    vh_target.refresh_from_db()
    results = {r.name: r for r in vh_target.adapter().check_health([delivery])}
    assert results["authentication"].status == "failing"
    assert "refused" in results["authentication"].detail and "vh-revoked-token" not in results["authentication"].detail


def test_deliveries_writing_the_same_variable_in_a_common_project_are_refused(
    db: None, admin: Any, feed: Any, vh_target: Target, acme: dict[str, Any]
) -> None:
    from targets import services as target_services

    project_id = acme["projects"][0]["id"]
    target_services.delivery_create(actor=admin, feed=feed, target=vh_target, mode="project_variable", projects=["*"])
    with pytest.raises(ValidationError, match="already writes"):
        target_services.delivery_create(
            actor=admin, feed=feed, target=vh_target, mode="project_variable", projects=[project_id]
        )
    other = target_services.delivery_create(
        actor=admin,
        feed=feed,
        target=vh_target,
        mode="project_variable",
        projects=[project_id],
        variable="OTHER_INDEX_URL",
    )
    assert other.pk
