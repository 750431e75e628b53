"""The rotation engine step by step: each step's outcome, failures that leave the previous token valid, retry,
rollback, resuming after a crash, one rotation per feed, the schedule, emergency, and no token in any record."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AuditEvent
from core import crypto, http
from feeds import providers
from feeds import services as feed_services
from feeds.models import Connection, Feed, TokenVersion
from feeds.providers.base import ProviderError
from rotations import engine, services
from rotations.models import Phase, Rotation, RotationStep, Status, StepStatus
from targets.models import Delivery, DeliveryStatus, Target
from tests.rotations.fakes import FakeProvider

OLD = "old-token-canary-7c1e"
PASTED = "pasted-token-canary-3a9d"


@pytest.fixture(autouse=True)
def fake_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeProvider]]:
    monkeypatch.setitem(providers.PROVIDERS, "fake", "tests.rotations.fakes.FakeProvider")
    providers._load.cache_clear()
    FakeProvider.reset()
    yield FakeProvider
    providers._load.cache_clear()


@pytest.fixture
def accepted(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The index behind the HTTP seam accepts exactly these tokens (HTTP Basic passwords)."""
    tokens: set[str] = set()

    def handler(request: httpx.Request) -> httpx.Response:
        auth = request.headers.get("Authorization", "")
        password = (
            base64.b64decode(auth.split(" ", 1)[1]).decode().split(":", 1)[1] if auth.startswith("Basic ") else ""
        )
        if password in tokens or password in set(FakeProvider.live.values()):
            return httpx.Response(200, html="<html><body><a href='x/'>x</a></body></html>")
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="index"'})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    monkeypatch.setattr(http, "client", lambda: client)
    tokens.add(OLD)
    return tokens


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, Any]]:
    """Rotation tasks are recorded instead of run: the tests drive the engine themselves."""
    calls: list[tuple[int, Any]] = []
    from rotations import tasks

    monkeypatch.setattr(services, "_enqueue", lambda rotation, countdown=None: calls.append((rotation.pk, countdown)))
    monkeypatch.setattr(
        tasks.advance_rotation, "apply_async", lambda args, countdown=None: calls.append((args[0], countdown))
    )
    monkeypatch.setattr(tasks.advance_rotation, "delay", lambda rotation_id: calls.append((rotation_id, None)))
    return calls


@pytest.fixture
def connection(db: None) -> Connection:
    c = Connection(name="fake", kind="fake", url="https://tokens.example")
    c.set_secret("credential", "connection-secret-canary")
    c.save()
    return c


@pytest.fixture
def feed(admin: Any, accepted: set[str]) -> Feed:
    return feed_services.feed_create(
        actor=admin,
        name="acme",
        kind="generic",
        index_url="https://pypi.acme.example/simple/",
        username="ci",
        token=OLD,
    )


def _deliveries(feed: Feed, count: int = 2) -> list[Delivery]:
    target = Target(
        name="gh", kind="github", url="https://api.github.example", auth_type="token", config={"organization": "acme"}
    )
    target.set_credential("ghp-target")
    target.save()
    return [
        Delivery.objects.create(
            feed=feed,
            target=target,
            mode="actions_repo_secret",
            config={"variable": "PIP_INDEX_URL", "repositories": [f"repo{i}"]},
            location=f"repo:repo{i}/PIP_INDEX_URL",
            status=DeliveryStatus.DELIVERED,
            delivered_fingerprint=feed.fingerprint,
        )
        for i in range(count)
    ]


def _land(deliveries: list[Delivery], fingerprint: str, status: str = DeliveryStatus.DELIVERED) -> None:
    Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(status=status, delivered_fingerprint=fingerprint)


def _version(pk: int | None) -> TokenVersion:
    assert pk is not None
    return TokenVersion.objects.get(pk=pk)


def _steps(rotation: Rotation) -> dict[str, str]:
    return dict(RotationStep.objects.filter(rotation=rotation).values_list("name", "status"))


def _everything_recorded(rotation: Rotation) -> str:
    rows = [
        json.dumps(list(Rotation.objects.filter(pk=rotation.pk).values()), default=str),
        json.dumps(list(RotationStep.objects.filter(rotation=rotation).values()), default=str),
        json.dumps(list(AuditEvent.objects.values()), default=str),
    ]
    return "\n".join(rows)


def test_a_minted_rotation_goes_through_every_step_and_revokes_the_previous_token_after_the_grace(
    admin: Any, feed: Feed, connection: Connection, queued: list[Any], accepted: set[str], settings: Any
) -> None:
    feed_services.feed_update(actor=admin, feed=feed, rotation_connection=connection.pk, rotation_grace_hours=0)
    FakeProvider.live["pasted-old"] = OLD
    deliveries = _deliveries(feed)
    rotation = services.rotation_request(actor=admin, feed=feed)
    assert rotation.status == Status.RUNNING and queued == [(rotation.pk, None)]

    assert engine.advance(rotation.pk) == Phase.VERIFY  # mint, test, push; now waiting for the deliveries
    rotation.refresh_from_db()
    feed.refresh_from_db()
    assert rotation.new_fingerprint and feed.fingerprint == rotation.new_fingerprint
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.STALE}
    assert _steps(rotation)[Phase.VERIFY] == StepStatus.WAITING
    assert queued[-1] == (rotation.pk, settings.ROTATION_POLL_SECONDS)

    _land(deliveries, rotation.new_fingerprint)
    assert engine.advance(rotation.pk) == Phase.DONE  # verify, promote, revoke (no grace)
    rotation.refresh_from_db()
    assert rotation.status == Status.COMPLETED and rotation.previous_revoked_at is not None
    assert _steps(rotation) == {
        Phase.MINT: StepStatus.DONE,
        Phase.TEST: StepStatus.DONE,
        Phase.PUSH: StepStatus.DONE,
        Phase.VERIFY: StepStatus.DONE,
        Phase.PROMOTE: StepStatus.DONE,
        Phase.REVOKE: StepStatus.DONE,
    }
    new, old = (
        _version(rotation.new_token_id),
        _version(rotation.previous_token_id),
    )
    assert (new.stage, old.stage) == (TokenVersion.Stage.CURRENT, TokenVersion.Stage.REVOKED)
    assert "pasted-old" in FakeProvider.revoked  # a pasted previous token is revoked by its value
    assert {d["fingerprint"] for d in rotation.deliveries.values()} == {rotation.new_fingerprint}
    recorded = _everything_recorded(rotation)
    for secret in (OLD, new.reveal(), "connection-secret-canary"):
        assert secret not in recorded


def test_the_grace_keeps_the_previous_token_until_it_passes(
    admin: Any, feed: Feed, connection: Connection, queued: list[Any]
) -> None:
    feed_services.feed_update(actor=admin, feed=feed, rotation_connection=connection.pk, rotation_grace_hours=24)
    rotation = services.rotation_request(actor=admin, feed=feed)
    assert engine.advance(rotation.pk) == Phase.REVOKE
    rotation.refresh_from_db()
    assert rotation.status == Status.COMPLETED and rotation.previous_revoked_at is None
    assert rotation.revoke_after is not None and rotation.revoke_after > timezone.now() + timedelta(hours=23)
    assert services.resume_lost() == 0  # not due yet
    Rotation.objects.filter(pk=rotation.pk).update(revoke_after=timezone.now() - timedelta(seconds=1))
    assert services.resume_lost() == 1
    assert engine.advance(rotation.pk) == Phase.DONE
    rotation.refresh_from_db()
    assert rotation.previous_revoked_at is not None


def test_a_pasted_token_the_feed_refuses_fails_the_test_and_nothing_is_pushed(
    admin: Any, feed: Feed, queued: list[Any]
) -> None:
    deliveries = _deliveries(feed)
    rotation = services.rotation_request(actor=admin, feed=feed, token=PASTED)
    assert _steps(rotation)[Phase.MINT] == StepStatus.SKIPPED
    assert engine.advance(rotation.pk) == Phase.TEST
    rotation.refresh_from_db()
    feed.refresh_from_db()
    assert rotation.status == Status.FAILED and "does not accept the new token" in rotation.error
    assert _version(feed.current_token_id).reveal() == OLD
    assert set(Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).values_list("status", flat=True)) == {
        DeliveryStatus.DELIVERED
    }
    assert _version(rotation.new_token_id).stage == TokenVersion.Stage.DISCARDED
    assert PASTED not in _everything_recorded(rotation)


def test_a_minted_token_that_fails_its_test_is_revoked_at_once(
    admin: Any, feed: Feed, connection: Connection, queued: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_services.feed_update(actor=admin, feed=feed, rotation_connection=connection.pk)
    from feeds.probe import ProbeResult

    monkeypatch.setattr(engine, "probe_index", lambda *a: ProbeResult("unauthorized", 401, "refused"))
    rotation = services.rotation_request(actor=admin, feed=feed)
    engine.advance(rotation.pk)
    rotation.refresh_from_db()
    assert rotation.status == Status.FAILED
    assert FakeProvider.revoked == ["id-1"] and not FakeProvider.live
    assert _version(rotation.new_token_id).stage == TokenVersion.Stage.REVOKED


def test_a_failed_delivery_fails_the_rotation_with_the_previous_token_valid_then_retry_completes(
    admin: Any, feed: Feed, queued: list[Any], accepted: set[str]
) -> None:
    accepted.add(PASTED)
    deliveries = _deliveries(feed, 3)
    rotation = services.rotation_request(actor=admin, feed=feed, token=PASTED)
    engine.advance(rotation.pk)
    rotation.refresh_from_db()
    _land(deliveries[:2], rotation.new_fingerprint)
    Delivery.objects.filter(pk=deliveries[2].pk).update(status=DeliveryStatus.FAILED, last_error="HTTP 500")
    engine.advance(rotation.pk)
    rotation.refresh_from_db()
    assert rotation.status == Status.FAILED and "1 of 3 deliveries failed" in rotation.error
    assert rotation.deliveries[str(deliveries[2].pk)]["status"] == DeliveryStatus.FAILED
    assert rotation.deliveries[str(deliveries[0].pk)]["fingerprint"] == rotation.new_fingerprint
    assert _version(rotation.previous_token_id).stage == TokenVersion.Stage.CURRENT

    services.rotation_retry(actor=admin, rotation=rotation)
    rotation.refresh_from_db()
    assert (rotation.status, rotation.phase) == (Status.RUNNING, Phase.VERIFY)
    _land(deliveries, rotation.new_fingerprint)
    engine.advance(rotation.pk)
    rotation.refresh_from_db()
    assert rotation.status == Status.COMPLETED


def test_rollback_puts_the_previous_token_back_everywhere_and_discards_the_new_one(
    admin: Any, feed: Feed, connection: Connection, queued: list[Any]
) -> None:
    feed_services.feed_update(actor=admin, feed=feed, rotation_connection=connection.pk)
    deliveries = _deliveries(feed)
    rotation = services.rotation_request(actor=admin, feed=feed)
    engine.advance(rotation.pk)
    rotation.refresh_from_db()
    Delivery.objects.filter(pk=deliveries[0].pk).update(status=DeliveryStatus.FAILED)
    engine.advance(rotation.pk)
    rotation.refresh_from_db()
    assert rotation.status == Status.FAILED

    services.rotation_rollback(actor=admin, rotation=rotation)
    feed.refresh_from_db()
    assert feed.fingerprint == rotation.previous_fingerprint
    assert engine.advance(rotation.pk) == Phase.ROLLBACK  # waits for the deliveries
    _land(deliveries, rotation.previous_fingerprint)
    engine.advance(rotation.pk)
    rotation.refresh_from_db()
    assert rotation.status == Status.ROLLED_BACK
    assert FakeProvider.revoked == ["id-1"]  # the minted token is revoked, the previous one never was
    assert _version(feed.current_token_id).reveal() == OLD


def test_one_rotation_per_feed_a_second_request_names_the_running_one(
    admin: Any, feed: Feed, queued: list[Any]
) -> None:
    first = services.rotation_request(actor=admin, feed=feed, token=PASTED)
    with pytest.raises(ValidationError) as exc:
        services.rotation_request(actor=admin, feed=feed, token="another-token-1234")
    assert f"Rotation {first.pk} of this feed is running" in str(exc.value)
    assert Rotation.objects.count() == 1 and TokenVersion.objects.filter(feed=feed).count() == 2


def test_bad_input_is_refused_and_changes_nothing(admin: Any, feed: Feed, queued: list[Any]) -> None:
    with pytest.raises(ValidationError, match="no rotation connection"):
        services.rotation_request(actor=admin, feed=feed)
    with pytest.raises(ValidationError, match="current token"):
        services.rotation_request(actor=admin, feed=feed, token=OLD)
    with pytest.raises(ValidationError):
        services.rotation_request(actor=admin, feed=feed, token=" spaced ")
    assert not Rotation.objects.exists() and queued == []


def test_a_worker_killed_inside_the_mint_resumes_without_leaving_a_live_unnamed_token(
    admin: Any, feed: Feed, connection: Connection, queued: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_services.feed_update(actor=admin, feed=feed, rotation_connection=connection.pk)
    rotation = services.rotation_request(actor=admin, feed=feed)
    real_build = TokenVersion.build

    def dies(**kwargs: Any) -> TokenVersion:
        raise SystemExit("worker killed after the provider minted")

    monkeypatch.setattr(TokenVersion, "build", dies)
    with pytest.raises(SystemExit):
        engine.advance(rotation.pk)
    assert list(FakeProvider.live) == ["id-1"]  # minted, never stored
    monkeypatch.setattr(TokenVersion, "build", real_build)
    Rotation.objects.filter(pk=rotation.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    engine.advance(rotation.pk)
    rotation.refresh_from_db()
    assert FakeProvider.revoked[0] == "id-1" and list(FakeProvider.live) == ["id-2"]
    assert _version(rotation.new_token_id).reveal() == FakeProvider.live["id-2"]
    assert RotationStep.objects.get(rotation=rotation, name=Phase.MINT).attempts == 2


def test_a_held_lease_keeps_a_second_worker_out(admin: Any, feed: Feed, queued: list[Any]) -> None:
    rotation = services.rotation_request(actor=admin, feed=feed, token=PASTED)
    assert engine._take_lease(rotation.pk)
    assert engine.advance(rotation.pk) is None
    assert Rotation.objects.get(pk=rotation.pk).phase == Phase.TEST


def test_transient_provider_failures_are_retried_then_fail_the_rotation(
    admin: Any, feed: Feed, connection: Connection, queued: list[Any]
) -> None:
    feed_services.feed_update(actor=admin, feed=feed, rotation_connection=connection.pk)
    FakeProvider.fail_mint.extend(ProviderError("HTTP 503", permanent=False) for _ in range(10))
    rotation = services.rotation_request(actor=admin, feed=feed)
    for _ in range(engine.PROVIDER_ATTEMPTS):
        engine.advance(rotation.pk)
    rotation.refresh_from_db()
    assert rotation.status == Status.FAILED and "Could not mint" in rotation.error
    assert RotationStep.objects.get(rotation=rotation, name=Phase.MINT).attempts == engine.PROVIDER_ATTEMPTS
    assert [c for c in queued if c[1] is not None]  # the retries were scheduled with a delay


def test_the_scheduler_starts_due_rotations_and_reminds_about_manual_feeds_once(
    admin: Any, feed: Feed, connection: Connection, queued: list[Any]
) -> None:
    manual = feed_services.feed_create(
        actor=admin,
        name="manual",
        kind="generic",
        index_url="https://pypi.other.example/simple/",
        token="m-token-1",
        token_expires_at=timezone.now() + timedelta(days=5),
    )
    feed_services.feed_update(actor=admin, feed=feed, rotation_connection=connection.pk, rotation_interval_days=30)
    assert services.tick()["started"] == 0
    TokenVersion.objects.filter(pk=_version(feed.current_token_id).pk).update(
        promoted_at=timezone.now() - timedelta(days=31)
    )
    result = services.tick()
    assert result["started"] == 1
    rotation = Rotation.objects.get(feed=feed)
    assert rotation.trigger == "schedule"
    assert services.tick()["started"] == 0  # running: not started twice
    assert AuditEvent.objects.filter(action="rotation.reminder", object_id=str(manual.pk)).count() == 1
    services.tick()
    assert AuditEvent.objects.filter(action="rotation.reminder", object_id=str(manual.pk)).count() == 1


def test_an_emergency_rotation_revokes_the_old_token_as_soon_as_it_is_verified(
    admin: Any, feed: Feed, connection: Connection, queued: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_services.feed_update(actor=admin, feed=feed, rotation_connection=connection.pk, rotation_grace_hours=72)
    monkeypatch.setattr(engine, "old_value_readers", lambda rotation: ["ws: etl (scope/key)"])
    deliveries = _deliveries(feed, 1)
    rotation = services.rotation_request(actor=admin, feed=feed, emergency=True)
    engine.advance(rotation.pk)
    rotation.refresh_from_db()
    _land(deliveries, rotation.new_fingerprint)
    engine.advance(rotation.pk)
    rotation.refresh_from_db()
    assert rotation.trigger == "emergency" and rotation.previous_revoked_at is not None
    revoke = RotationStep.objects.get(rotation=rotation, name=Phase.REVOKE)
    assert "restart them: ws: etl (scope/key)" in revoke.detail


def test_revocation_waits_for_clusters_still_running_the_old_value_until_the_maximum_grace(
    admin: Any, feed: Feed, connection: Connection, queued: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_services.feed_update(actor=admin, feed=feed, rotation_connection=connection.pk, rotation_grace_hours=0)
    monkeypatch.setattr(engine, "old_value_readers", lambda rotation: ["ws: etl (scope/key)"])
    rotation = services.rotation_request(actor=admin, feed=feed)
    assert engine.advance(rotation.pk) == Phase.REVOKE
    step = RotationStep.objects.get(rotation=rotation, name=Phase.REVOKE)
    assert step.status == StepStatus.WAITING and "etl" in step.detail
    Rotation.objects.filter(pk=rotation.pk).update(completed_at=timezone.now() - timedelta(days=30))
    assert engine.advance(rotation.pk) == Phase.DONE
    step.refresh_from_db()
    assert "maximum grace passed" in step.detail
    assert AuditEvent.objects.filter(action="rotation.revoke", detail__forced=True).exists()


def test_a_feed_without_connection_is_reminded_to_revoke_the_pasted_previous_token(
    admin: Any, feed: Feed, queued: list[Any], accepted: set[str]
) -> None:
    accepted.add(PASTED)
    rotation = services.rotation_request(actor=admin, feed=feed, token=PASTED)
    engine.advance(rotation.pk)
    Rotation.objects.filter(pk=rotation.pk).update(revoke_after=timezone.now())
    engine.advance(rotation.pk)
    rotation.refresh_from_db()
    step = RotationStep.objects.get(rotation=rotation, name=Phase.REVOKE)
    assert step.status == StepStatus.MANUAL and "yourself" in step.detail
    assert rotation.previous_revoked_at is None
    assert _version(rotation.previous_token_id).stage == TokenVersion.Stage.RETIRED


def test_dependents_list_every_place_with_its_fingerprint(admin: Any, feed: Feed) -> None:
    from rotations.dependents import feed_dependents

    _deliveries(feed, 2)
    rows = feed_dependents(feed)
    assert [r["place"] for r in rows] == [
        "repository repo0 secret PIP_INDEX_URL",
        "repository repo1 secret PIP_INDEX_URL",
    ]
    assert all(r["current"] and r["fingerprint"] == crypto.fingerprint(OLD) for r in rows)
