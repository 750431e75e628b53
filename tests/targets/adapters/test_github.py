"""The GitHub adapter against the GitHub simulator, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from feeds import services as feed_services
from simulators.github import GitHubSimulator
from targets import checks, pushing, services
from targets.adapters import AdapterError
from targets.adapters.github.client import GitHubClient
from targets.models import Delivery, DeliveryStatus, Push, PushStatus, Target

TOKEN = "ghp-sim-token"


@pytest.fixture
def github() -> Iterator[GitHubSimulator]:
    with GitHubSimulator() as sim:
        for name in ("app", "lib", "docs"):
            sim.add_repo("acme", name)
        yield sim


@pytest.fixture
def gh_target(admin: Any, github: GitHubSimulator) -> Target:
    return services.target_create(
        actor=admin, kind="github", name="gh-acme", url=github.api_url, auth_type="token", token=TOKEN,
        organization="acme",
    )  # fmt: skip


def _push(delivery: Delivery) -> Push:
    push = Push.objects.filter(delivery=delivery).order_by("-id").first()
    if push is None or push.is_final:
        push = services.delivery_push(actor="system", delivery=delivery)
    pushing.push_dispatch(target_id=delivery.target_id)
    pushing.push_run(push_id=push.pk)
    push.refresh_from_db()
    return push


# --- validation ----------------------------------------------------------------------------------------------


def test_the_organization_login_is_required(db: None, admin: Any, github: GitHubSimulator) -> None:
    with pytest.raises(ValidationError) as info:
        services.target_create(
            actor=admin, kind="github", name="gh", url=github.api_url, auth_type="token", token=TOKEN, organization=""
        )
    assert "organization" in info.value.message_dict and not Target.objects.exists()


def test_an_empty_url_means_github_com(db: None, admin: Any, django_capture_on_commit_callbacks: Any) -> None:
    target = services.target_create(actor=admin, kind="github", name="gh", url="", token=TOKEN, organization="acme")
    assert (target.url, target.auth_type, target.cfg.organization) == ("https://api.github.com", "token", "acme")


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"variable": "GITHUB_TOKEN"}, "variable"),
        ({"variable": "1ABC"}, "variable"),
        ({"variable": "has-dash"}, "variable"),
        ({"visibility": "public"}, "visibility"),
        ({"visibility": "selected"}, "repositories"),
        ({"visibility": "private", "repositories": ["app"]}, "repositories"),
        ({"repositories": ["bad/name"], "visibility": "selected"}, "repositories"),
        ({"mode": "actions_repo_secret"}, "repositories"),
        ({"mode": "actions_repo_secret", "repositories": ["app"], "visibility": "all"}, "visibility"),
        ({"scope": "databricks-only"}, "scope"),
    ],
)
def test_bad_delivery_settings_are_refused_with_the_field_named(
    db: None, admin: Any, feed: Any, gh_target: Target, values: dict[str, Any], field: str
) -> None:
    values = {"mode": "actions_org_secret", **values}
    with pytest.raises(ValidationError) as info:
        services.delivery_create(actor=admin, feed=feed, target=gh_target, **values)
    assert field in info.value.message_dict and not Delivery.objects.exists()


def test_names_are_upper_cased_and_default_to_pip_index_url(db: None, admin: Any, feed: Any, gh_target: Target) -> None:
    org = services.delivery_create(actor=admin, feed=feed, target=gh_target, mode="actions_org_secret")
    repo = services.delivery_create(
        actor=admin, feed=feed, target=gh_target, mode="actions_repo_secret", variable="pip_url", repositories=["App"]
    )
    assert (org.cfg.variable, org.cfg.visibility, org.location) == (
        "PIP_INDEX_URL",
        "private",
        "org-secret:PIP_INDEX_URL",
    )
    assert (repo.cfg.variable, repo.cfg.repositories) == ("PIP_URL", ["app"])


def test_two_repository_deliveries_of_one_name_may_not_share_a_repository(
    db: None, admin: Any, feed: Any, gh_target: Target
) -> None:
    services.delivery_create(
        actor=admin, feed=feed, target=gh_target, mode="actions_repo_secret", repositories=["app", "lib"]
    )
    with pytest.raises(ValidationError, match="Another delivery already writes"):
        services.delivery_create(
            actor=admin, feed=feed, target=gh_target, mode="actions_repo_secret", repositories=["lib", "docs"]
        )


# --- pushing -------------------------------------------------------------------------------------------------


def test_an_organization_secret_is_encrypted_put_and_verified(
    db: None, admin: Any, feed: Any, github: GitHubSimulator, gh_target: Target
) -> None:
    delivery = services.delivery_create(
        actor=admin, feed=feed, target=gh_target, mode="actions_org_secret", visibility="private"
    )
    push = _push(delivery)
    delivery.refresh_from_db()
    assert push.status == PushStatus.SUCCEEDED and delivery.status == DeliveryStatus.DELIVERED
    assert github.secret_value("acme", "PIP_INDEX_URL") == feed.credentialed_url()
    stored = github.secret("acme", "PIP_INDEX_URL")
    assert stored is not None and stored["visibility"] == "private"
    assert delivery.delivered_remote_ts is not None and delivery.delivered_fingerprint == feed.fingerprint


def test_a_selected_secret_is_shared_with_exactly_the_chosen_repositories(
    db: None, admin: Any, feed: Any, github: GitHubSimulator, gh_target: Target
) -> None:
    ids = {r: github.state.repo("acme", r).id for r in ("app", "lib")}
    delivery = services.delivery_create(
        actor=admin,
        feed=feed,
        target=gh_target,
        mode="actions_org_secret",
        visibility="selected",
        repositories=["lib", "app"],
    )
    assert _push(delivery).status == PushStatus.SUCCEEDED
    stored = github.secret("acme", "PIP_INDEX_URL")
    assert stored is not None and sorted(stored["selected_repository_ids"]) == sorted(ids.values())


def test_a_repository_secret_lands_in_each_listed_repository(
    db: None, admin: Any, feed: Any, github: GitHubSimulator, gh_target: Target
) -> None:
    delivery = services.delivery_create(
        actor=admin, feed=feed, target=gh_target, mode="actions_repo_secret", repositories=["app", "docs"]
    )
    assert _push(delivery).status == PushStatus.SUCCEEDED
    assert github.repo_secret_value("acme", "app", "PIP_INDEX_URL") == feed.credentialed_url()
    assert github.repo_secret_value("acme", "docs", "PIP_INDEX_URL") == feed.credentialed_url()
    assert github.repo_secret_value("acme", "lib", "PIP_INDEX_URL") is None


def test_a_missing_repository_fails_for_good_with_its_name(db: None, admin: Any, feed: Any, gh_target: Target) -> None:
    delivery = services.delivery_create(
        actor=admin, feed=feed, target=gh_target, mode="actions_org_secret", visibility="selected", repositories=["x"]
    )
    push = _push(delivery)
    assert push.status == PushStatus.FAILED and push.attempts == 1 and "acme/x does not exist" in push.error


def test_a_rotated_key_is_fetched_again_when_github_refuses_its_id(
    db: None, admin: Any, feed: Any, github: GitHubSimulator, gh_target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = GitHubClient.public_key
    fetched: list[str] = []

    def stale_once(self: GitHubClient, base: str) -> dict[str, str]:
        key = original(self, base)
        if not fetched:
            github.rotate_key("acme")  # the key we just read is now refused
        fetched.append(key["key_id"])
        return key

    monkeypatch.setattr(GitHubClient, "public_key", stale_once)
    delivery = services.delivery_create(actor=admin, feed=feed, target=gh_target, mode="actions_org_secret")
    assert _push(delivery).status == PushStatus.SUCCEEDED
    assert len(fetched) == 2 and fetched[0] != fetched[1]
    assert github.secret_value("acme", "PIP_INDEX_URL") == feed.credentialed_url()


def test_a_second_push_compares_with_the_time_its_last_push_read_back_instead_of_reading_before(
    db: None, admin: Any, feed: Any, github: GitHubSimulator, gh_target: Target
) -> None:
    delivery = services.delivery_create(
        actor=admin, feed=feed, target=gh_target, mode="actions_repo_secret", repositories=["app", "lib"]
    )
    assert _push(delivery).status == PushStatus.SUCCEEDED
    delivery.refresh_from_db()
    first = {place: info["at"] for place, info in delivery.state["places"].items()}
    assert len(first) == 2 and all(first.values())
    feed_services.feed_set_token(actor=admin, feed=feed, token="feed-token-2")
    github.requests.clear()
    assert _push(delivery).status == PushStatus.SUCCEEDED
    secret_paths = [path for _, path in github.requests if path.endswith("/PIP_INDEX_URL")]
    # Per repository: the put and, after both, the read-back; no read before the put.
    assert [m for m, path in github.requests if path.endswith("/PIP_INDEX_URL")] == ["PUT", "PUT", "GET", "GET"]
    assert len(set(secret_paths)) == 2
    feed.refresh_from_db()
    assert github.repo_secret_value("acme", "app", "PIP_INDEX_URL") == feed.credentialed_url()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.delivered_fingerprint == feed.fingerprint


def test_pushing_twice_in_the_same_second_still_verifies(
    db: None, admin: Any, feed: Any, github: GitHubSimulator, gh_target: Target
) -> None:
    delivery = services.delivery_create(actor=admin, feed=feed, target=gh_target, mode="actions_org_secret")
    assert _push(delivery).status == PushStatus.SUCCEEDED
    assert _push(delivery).status == PushStatus.SUCCEEDED  # updated_at has one-second precision


def test_a_bad_token_fails_at_once_and_never_leaks(
    db: None, admin: Any, feed: Any, github: GitHubSimulator, gh_target: Target
) -> None:
    services.target_update(actor=admin, target=gh_target, token="ghp-wrong-canary-7781")
    delivery = services.delivery_create(actor=admin, feed=feed, target=gh_target, mode="actions_org_secret")
    push = _push(delivery)
    assert push.status == PushStatus.FAILED and push.attempts == 1 and "refused the token" in push.error
    assert "ghp-wrong-canary-7781" not in push.error
    assert not any("ghp-wrong-canary-7781" in str(e.detail) for e in AuditEvent.objects.all())


def test_a_rate_limited_push_is_retried_later_honouring_retry_after(
    db: None, admin: Any, feed: Any, github: GitHubSimulator, gh_target: Target
) -> None:
    github.faults.add(status=429, count=1, path_contains="/actions/secrets/PIP_INDEX_URL", method="PUT", retry_after=7)
    delivery = services.delivery_create(actor=admin, feed=feed, target=gh_target, mode="actions_org_secret")
    push = _push(delivery)
    assert push.status == PushStatus.PENDING and push.next_attempt_at is not None
    wait = (push.next_attempt_at - datetime.now(UTC)).total_seconds()
    assert 5 < wait < 9 and "rate limit" in push.error


def test_an_exhausted_primary_rate_limit_waits_until_the_reset(github: GitHubSimulator) -> None:
    github.set_rate_used("admin", 5000)
    api = GitHubClient(url=github.api_url, token=TOKEN)
    with pytest.raises(AdapterError) as info:
        api.me()
    assert info.value.permanent is False and info.value.retry_after is not None and info.value.retry_after > 60


def test_enterprise_server_under_api_v3_works(db: None, admin: Any, feed: Any) -> None:
    with GitHubSimulator(prefix="/api/v3") as ghes:
        target = services.target_create(
            actor=admin, kind="github", name="ghes", url=ghes.api_url, token=TOKEN, organization="acme"
        )
        delivery = services.delivery_create(actor=admin, feed=feed, target=target, mode="actions_org_secret")
        assert _push(delivery).status == PushStatus.SUCCEEDED
        assert ghes.secret_value("acme", "PIP_INDEX_URL") == feed.credentialed_url()


# --- health --------------------------------------------------------------------------------------------------


def _health(target: Target) -> dict[str, tuple[str, str]]:
    check = checks.target_check_request(actor="system", target=target)
    checks.target_check_run(check_id=check.pk)
    check.refresh_from_db()
    return {r["name"]: (r["status"], r["detail"]) for r in check.results}


def test_health_reports_the_token_organization_rate_limit_and_each_secret(
    db: None, admin: Any, feed: Any, github: GitHubSimulator, gh_target: Target
) -> None:
    delivery = services.delivery_create(actor=admin, feed=feed, target=gh_target, mode="actions_org_secret")
    _push(delivery)
    results = _health(gh_target)
    assert results["authentication"][0] == "ok" and results["organization"][0] == "ok"
    assert results["rate limit"][0] == "ok"
    assert results["secret PIP_INDEX_URL in organization"][0] == "ok"
    gh_target.refresh_from_db()
    assert gh_target.info["organization_id"]


def test_health_warns_of_a_token_that_expires_soon(
    db: None, admin: Any, github: GitHubSimulator, django_capture_on_commit_callbacks: Any
) -> None:
    soon = datetime.now(UTC) + timedelta(days=5)
    github.add_token("ghp-expiring", "ci-bot", expires_at=soon, admin_of=["acme"])
    target = services.target_create(
        actor=admin, kind="github", name="gh", url=github.api_url, token="ghp-expiring", organization="acme"
    )
    status, detail = _health(target)["token expiry"]
    assert status == "warning" and soon.strftime("%Y-%m-%d") in detail


def test_health_fails_a_deleted_secret_and_warns_of_one_changed_outside_feedkeeper(
    db: None, admin: Any, feed: Any, github: GitHubSimulator, gh_target: Target
) -> None:
    deleted = services.delivery_create(
        actor=admin, feed=feed, target=gh_target, mode="actions_repo_secret", repositories=["app"]
    )
    _push(deleted)
    with github.state.lock:
        repo = github.state.repo("acme", "app")
        assert repo is not None
        repo.secrets.clear()
    assert _health(gh_target)["secret PIP_INDEX_URL in app"][0] == "failing"
    org = services.delivery_create(actor=admin, feed=feed, target=gh_target, mode="actions_org_secret")
    _push(org)
    org.refresh_from_db()
    Delivery.objects.filter(pk=org.pk).update(delivered_remote_ts=org.delivered_remote_ts - 5000)
    status, detail = _health(gh_target)["secret PIP_INDEX_URL in organization"]
    assert status == "warning" and "outside Feedkeeper" in detail


def test_a_new_feed_token_marks_github_deliveries_stale_and_pushes_the_new_value(
    db: None, admin: Any, feed: Any, github: GitHubSimulator, gh_target: Target
) -> None:
    delivery = services.delivery_create(actor=admin, feed=feed, target=gh_target, mode="actions_org_secret")
    _push(delivery)
    feed_services.feed_set_token(actor=admin, feed=feed, token="feed-token-2")
    delivery.refresh_from_db()
    assert delivery.status in (DeliveryStatus.STALE, DeliveryStatus.PENDING)
    assert _push(delivery).status == PushStatus.SUCCEEDED
    feed.refresh_from_db()
    assert github.secret_value("acme", "PIP_INDEX_URL") == feed.credentialed_url()
    assert "feed-token-2" in feed.credentialed_url()
