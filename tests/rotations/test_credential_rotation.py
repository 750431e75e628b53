"""A Databricks target that signs in with a PAT rotates its own credential against the simulated workspace
(token/create, SCIM Me, token/delete): minted, tested, switched, verified, and the previous one deleted by its
id once nothing that started with it still runs; on the schedule; refused for OAuth; resumable; no secret kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AuditEvent
from core import crypto
from rotations import credential_services, engine, services, tasks
from rotations.models import Phase, Rotation, Status, StepStatus, Trigger
from simulators.databricks import DatabricksSimulator
from targets import services as target_services
from targets.adapters import AdapterError
from targets.models import Push, PushStatus, Target
from tests.support.leaks import database_dump

PASTED = "dapi-pasted-credential-5d0c1e"


@pytest.fixture
def databricks() -> Iterator[DatabricksSimulator]:
    with DatabricksSimulator(workspaces=1, token=None) as sim:
        sim.workspace(0).add_token(PASTED, user="feedkeeper@example.com", admin=True)
        yield sim


@pytest.fixture(autouse=True)
def no_worker(monkeypatch: pytest.MonkeyPatch, settings: Any) -> list[int]:
    """Rotations are advanced by the test, not a worker; no grace before revoking the previous credential."""
    settings.CREDENTIAL_REVOKE_GRACE_SECONDS = 0
    calls: list[int] = []
    monkeypatch.setattr(tasks.advance_rotation, "delay", lambda rotation_id: calls.append(rotation_id))
    monkeypatch.setattr(tasks.advance_rotation, "apply_async", lambda args, countdown=None: calls.append(args[0]))
    return calls


@pytest.fixture
def workspace(admin: Any, databricks: DatabricksSimulator) -> Target:
    return target_services.target_create(
        actor=admin, kind="databricks", name="ws-prod", url=databricks.urls[0], auth_type="pat", token=PASTED
    )


def _live(databricks: DatabricksSimulator) -> set[str]:
    return set(databricks.workspace(0).tokens)


def _rotate(admin: Any, target: Target) -> Rotation:
    rotation = credential_services.credential_rotation_request(actor=admin, target=target)
    engine.advance(rotation.pk)
    rotation.refresh_from_db()
    return rotation


def test_a_pat_target_mints_tests_switches_and_verifies_its_new_credential(
    db: None, admin: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    rotation = _rotate(admin, workspace)
    workspace.refresh_from_db()
    assert rotation.status == Status.COMPLETED and rotation.phase == Phase.DONE
    new_value = workspace.reveal_credential()
    assert new_value != PASTED and new_value in _live(databricks)
    assert workspace.credential_fingerprint == rotation.new_fingerprint == crypto.fingerprint(new_value)
    assert workspace.info["credential_id"] == rotation.new_credential_id
    assert workspace.credential_expires_source == "platform"
    assert workspace.credential_expires_at is not None
    assert 89 <= (workspace.credential_expires_at - timezone.now()).days <= 90
    steps = {s.name: s for s in rotation.steps.all()}
    assert [steps[n].status for n in ("mint", "test", "switch", "verify")] == [StepStatus.DONE] * 4
    # The pasted credential is not Feedkeeper's to name: the admin revokes it, and it is still alive until then.
    assert steps["revoke"].status == StepStatus.MANUAL and "yourself" in steps["revoke"].detail
    assert PASTED in _live(databricks)
    assert rotation.pending_credential == ""
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"rotation.start", "rotation.mint", "target.credential_rotated", "rotation.completed"} <= actions


def test_the_next_rotation_deletes_the_credential_feedkeeper_minted_by_its_id(
    db: None, admin: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    first = _rotate(admin, workspace)
    workspace.refresh_from_db()
    minted_first = workspace.reveal_credential()
    second = _rotate(admin, workspace)
    workspace.refresh_from_db()
    assert second.status == Status.COMPLETED and second.previous_credential_id == first.new_credential_id
    assert second.previous_revoked_at is not None
    assert minted_first not in _live(databricks)
    assert workspace.reveal_credential() in _live(databricks)
    assert second.steps.get(name="revoke").status == StepStatus.DONE


def test_revocation_waits_while_a_push_that_started_with_the_old_credential_runs(
    db: None, admin: Any, workspace: Target, databricks: DatabricksSimulator, feed: Any
) -> None:
    _rotate(admin, workspace)  # now Feedkeeper minted the credential in use
    workspace.refresh_from_db()
    old_value = workspace.reveal_credential()
    delivery = target_services.delivery_create(actor=admin, feed=feed, target=workspace, mode="workspace_default")
    push = Push.objects.create(
        delivery=delivery,
        target=workspace,
        status=PushStatus.RUNNING,
        started_at=timezone.now() - timedelta(seconds=5),
    )
    rotation = _rotate(admin, workspace)
    assert rotation.status == Status.COMPLETED and rotation.phase == Phase.REVOKE
    revoke = rotation.steps.get(name="revoke")
    assert revoke.status == StepStatus.WAITING and "still run" in revoke.detail
    assert old_value in _live(databricks)
    Push.objects.filter(pk=push.pk).update(status=PushStatus.SUCCEEDED, finished_at=timezone.now())
    engine.advance(rotation.pk)
    rotation.refresh_from_db()
    assert rotation.phase == Phase.DONE and old_value not in _live(databricks)


def test_a_refused_new_credential_is_deleted_at_once_and_nothing_is_switched(
    db: None, admin: Any, workspace: Target, databricks: DatabricksSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from targets.adapters.databricks import DatabricksAdapter

    def refuse(self: Any, secret: str) -> str:
        raise AdapterError("Invalid access token.", permanent=True)

    monkeypatch.setattr(DatabricksAdapter, "credential_test", refuse)
    before = _live(databricks)
    rotation = _rotate(admin, workspace)
    workspace.refresh_from_db()
    assert rotation.status == Status.FAILED and rotation.phase == Phase.TEST
    assert workspace.reveal_credential() == PASTED
    assert _live(databricks) == before  # the minted one is gone again
    assert rotation.pending_credential == ""


def test_a_mint_whose_answer_was_lost_is_found_by_its_name_and_deleted_before_minting_again(
    db: None, admin: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    rotation = credential_services.credential_rotation_request(actor=admin, target=workspace)
    # The platform minted, the worker died before storing the answer: a token named after the rotation exists.
    lost = "dapi-lost-answer-0000"
    databricks.workspace(0).add_token(lost, user="feedkeeper@example.com", comment=rotation.mint_description)
    rotation.steps.filter(name="mint").update(attempts=1, status=StepStatus.RUNNING)
    engine.advance(rotation.pk)
    rotation.refresh_from_db()
    assert rotation.status == Status.COMPLETED
    assert lost not in _live(databricks)
    named = [t for t in databricks.workspace(0).tokens.values() if t.comment == rotation.mint_description]
    assert len(named) == 1


def test_a_target_authenticating_with_oauth_cannot_rotate_its_credential(
    db: None, admin: Any, databricks: DatabricksSimulator
) -> None:
    databricks.workspace(0).add_service_principal("sp-app", "sp-secret")
    target = target_services.target_create(
        actor=admin,
        kind="databricks",
        name="sp",
        url=databricks.urls[0],
        auth_type="oauth_m2m",
        client_id="sp-app",
        client_secret="sp-secret",
    )
    with pytest.raises(ValidationError, match="cannot mint its own credential"):
        credential_services.credential_rotation_request(actor=admin, target=target)
    with pytest.raises(ValidationError, match="cannot mint their own"):
        target_services.target_update(actor=admin, target=target, credential_rotation_days=30)
    assert not Rotation.objects.exists()


def test_a_second_request_while_one_runs_is_refused_naming_the_running_one(
    db: None, admin: Any, workspace: Target
) -> None:
    running = credential_services.credential_rotation_request(actor=admin, target=workspace)
    with pytest.raises(ValidationError, match=f"Rotation {running.pk} of this target's credential is running"):
        credential_services.credential_rotation_request(actor=admin, target=workspace)
    assert Rotation.objects.count() == 1


def test_the_scheduler_starts_a_due_credential_rotation_once(
    db: None, admin: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    target_services.target_update(actor=admin, target=workspace, credential_rotation_days=30)
    workspace.refresh_from_db()
    assert workspace.credential_next_rotation_at is not None
    assert 29 <= (workspace.credential_next_rotation_at - timezone.now()).days <= 30
    assert credential_services.start_due_credentials() == []
    Target.objects.filter(pk=workspace.pk).update(credential_next_rotation_at=timezone.now() - timedelta(minutes=1))
    result = services.tick()
    assert result["credentials_started"] == 1
    assert services.tick()["credentials_started"] == 0  # one runs already
    rotation = Rotation.objects.get(target=workspace)
    assert rotation.trigger == Trigger.SCHEDULE
    engine.advance(rotation.pk)
    workspace.refresh_from_db()
    # The new credential lives 90 days; the next rotation is 30 days after it was set, before its expiry lead.
    assert workspace.credential_next_rotation_at is not None
    assert 29 <= (workspace.credential_next_rotation_at - timezone.now()).days <= 30


def test_a_failed_credential_rotation_is_retried_from_a_fresh_mint(
    db: None, admin: Any, workspace: Target, databricks: DatabricksSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from targets.adapters.databricks import DatabricksAdapter

    original = DatabricksAdapter.credential_test
    monkeypatch.setattr(
        DatabricksAdapter,
        "credential_test",
        lambda self, secret: (_ for _ in ()).throw(AdapterError("Invalid access token.", permanent=True)),
    )
    rotation = _rotate(admin, workspace)
    assert rotation.status == Status.FAILED
    with pytest.raises(ValidationError, match="nothing to roll back"):
        services.rotation_rollback(actor=admin, rotation=rotation)
    monkeypatch.setattr(DatabricksAdapter, "credential_test", original)
    services.rotation_retry(actor=admin, rotation=rotation)
    engine.advance(rotation.pk)
    rotation.refresh_from_db()
    workspace.refresh_from_db()
    assert rotation.status == Status.COMPLETED
    assert workspace.credential_fingerprint == rotation.new_fingerprint


def test_no_minted_credential_is_stored_or_recorded_in_plain_text(
    db: None, admin: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    _rotate(admin, workspace)
    _rotate(admin, workspace)
    minted = [t.value for t in databricks.workspace(0).tokens.values() if t.comment.startswith("Feedkeeper")]
    assert minted
    dump = database_dump()
    for value in [*minted, PASTED]:
        assert value not in dump


# --- the API ------------------------------------------------------------------------------------------------------


def test_admins_start_a_credential_rotation_through_the_api_and_find_it_by_target(
    db: None, admin: Any, operator: Any, api: Any, workspace: Target
) -> None:
    url = f"/api/v1/targets/{workspace.pk}/rotate-credential/"
    assert api(operator).post(url).status_code == 403
    answer = api(admin).post(url)
    assert answer.status_code == 202, answer.content
    again = api(admin).post(url)
    assert again.status_code == 400 and f"Rotation {answer.json()['id']}" in again.json()["non_field_errors"][0]
    listed = api(admin).get(f"/api/v1/rotations/?target={workspace.pk}").json()
    assert listed["count"] == 1
    row = listed["results"][0]
    assert row["target"] == workspace.pk and row["feed"] is None
    assert [s["name"] for s in row["steps"]] == ["mint", "test", "switch", "verify", "revoke"]
    assert api(admin).post("/api/v1/targets/999999/rotate-credential/").status_code == 404


def test_the_api_takes_and_shows_a_target_credentials_expiry_and_schedule(
    db: None, admin: Any, api: Any, workspace: Target
) -> None:
    url = f"/api/v1/targets/{workspace.pk}/"
    body = (
        api(admin)
        .patch(url, {"credential_expires_at": "2027-01-15T00:00:00Z", "credential_rotation_days": 30}, format="json")
        .json()
    )
    assert body["credential_expires_at"].startswith("2027-01-15")
    assert body["credential_expires_source"] == "entered"
    assert body["credential_rotation_days"] == 30 and body["credential_next_rotation_at"]
    assert body["credential_expiry_status"] in ("ok", "expiring")
    bad = api(admin).patch(url, {"credential_rotation_days": 0}, format="json")
    assert bad.status_code == 400 and "credential_rotation_days" in bad.json()


# --- restarting what still runs with the old value ------------------------------------------------------------


def test_an_operator_restarts_the_clusters_still_running_with_the_previous_token(
    db: None,
    admin: Any,
    operator: Any,
    api: Any,
    workspace: Target,
    databricks: DatabricksSimulator,
    feed: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    ws = databricks.workspace(0)
    delivery = target_services.delivery_create(actor=admin, feed=feed, target=workspace, mode="workspace_default")
    from targets.models import Delivery

    Delivery.objects.filter(pk=delivery.pk).update(status="delivered", delivered_remote_ts=ws.now_ms())
    stale = ws.add_cluster(name="etl", state="RUNNING", start_time=ws.now_ms() - 3_600_000)
    rotation = Rotation.objects.create(
        feed=feed, status=Status.COMPLETED, phase=Phase.REVOKE, previous_fingerprint="old", new_fingerprint="new"
    )
    url = f"/api/v1/rotations/{rotation.pk}/restart-clusters/"
    refused = api(operator).post(url, {}, format="json")
    assert refused.status_code == 400 and "consent" in refused.json()
    with django_capture_on_commit_callbacks(execute=True):
        answer = api(operator).post(url, {"consent": True}, format="json")
    assert answer.status_code == 202, answer.content
    assert ws.restarts.get(stale) == 1
    event = AuditEvent.objects.get(action="rotation.restart_readers")
    assert event.actor_name == operator.username and "restarted etl" in event.detail["results"][0]


def test_a_completed_credential_rotation_is_announced_once(
    db: None, admin: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    from rotations.signals import rotation_finished

    heard: list[tuple[int, str]] = []

    def listen(sender: Any, *, rotation: Rotation, status: str, **kwargs: Any) -> None:
        heard.append((rotation.pk, status))

    rotation_finished.connect(listen)
    try:
        rotation = _rotate(admin, workspace)
    finally:
        rotation_finished.disconnect(listen)
    assert heard == [(rotation.pk, Status.COMPLETED)]
