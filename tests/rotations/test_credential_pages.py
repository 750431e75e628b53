"""Pages of a target's own credential: its expiry and rotation on the target page, "Rotate credential", a
credential rotation's detail and the rotations list; restarting clusters from a feed rotation with consent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from core import crypto
from rotations.models import Phase, Rotation, RotationStep, Status, StepStatus
from targets.models import Target

SECRET = "dapi-page-secret-9f8e7d"


@pytest.fixture(autouse=True)
def no_worker(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from rotations import tasks

    calls: list[int] = []
    monkeypatch.setattr(tasks.advance_rotation, "delay", lambda rotation_id: calls.append(rotation_id))
    return calls


def _target(auth_type: str = "pat", **extra: Any) -> Target:
    return Target.objects.create(
        name=f"ws-{auth_type}",
        kind="databricks",
        url="https://adb-1.azuredatabricks.net",
        auth_type=auth_type,
        config={"client_id": "sp"} if auth_type == "oauth_m2m" else {},
        credential=crypto.encrypt(SECRET),
        credential_fingerprint=crypto.fingerprint(SECRET),
        **extra,
    )


def test_the_target_page_shows_the_credential_expiry_and_schedule(db: None, admin_client: Any) -> None:
    target = _target(
        credential_expires_at=timezone.now() + timedelta(days=10),
        credential_expires_source="platform",
        credential_rotation_days=30,
        credential_next_rotation_at=timezone.now() + timedelta(days=3),
    )
    page = admin_client.get(f"/targets/{target.pk}/").content.decode()
    assert "Credential expires" in page and "badge-expiring" in page and "as the platform tells" in page
    assert "every 30 days" in page and "Rotate credential" in page
    assert SECRET not in page


def test_only_a_pat_target_offers_rotate_credential(db: None, admin_client: Any) -> None:
    target = _target("oauth_m2m")
    page = admin_client.get(f"/targets/{target.pk}/").content.decode()
    assert "Rotate credential" not in page and "badge-unknown" in page


def test_an_admin_starts_a_credential_rotation_from_the_target_page(
    db: None, admin_client: Any, no_worker: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    target = _target()
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_client.post(f"/rotations/target/{target.pk}/rotate/")
    rotation = Rotation.objects.get(target=target)
    assert answer.status_code == 302 and answer["Location"] == f"/rotations/{rotation.pk}/"
    assert no_worker == [rotation.pk]
    page = admin_client.get(f"/rotations/{rotation.pk}/").content.decode()
    assert f"{target.name}</a>'s credential" in page and "Switch" in page and 'id="rotation-deliveries"' not in page
    listing = admin_client.get(f"/rotations/?target={target.pk}").content.decode()
    assert f"#{rotation.pk}" in listing and "credential" in listing


def test_an_oauth_target_cannot_start_one_and_is_told_why(db: None, admin_client: Any) -> None:
    target = _target("oauth_m2m")
    answer = admin_client.post(f"/rotations/target/{target.pk}/rotate/", follow=True)
    assert "cannot mint its own credential" in answer.content.decode()
    assert not Rotation.objects.exists()


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_only_admins_rotate_a_target_credential(db: None, role: str, request: Any, login: Any) -> None:
    target = _target()
    client = login(request.getfixturevalue(role))
    assert client.post(f"/rotations/target/{target.pk}/rotate/").status_code == 403
    assert not Rotation.objects.exists()


def test_the_restart_form_needs_consent_and_appears_only_while_clusters_wait(
    db: None, admin: Any, operator: Any, login: Any, feed: Any
) -> None:
    rotation = Rotation.objects.create(feed=feed, status=Status.COMPLETED, phase=Phase.REVOKE)
    RotationStep.objects.create(
        rotation=rotation,
        name=Phase.REVOKE,
        status=StepStatus.WAITING,
        detail="Waiting for these to restart, they still run with the previous token: ws: etl (s/k).",
    )
    client = login(operator)
    page = client.get(f"/rotations/{rotation.pk}/").content.decode()
    assert 'id="restart-readers"' in page and "I consent" in page
    refused = client.post(f"/rotations/{rotation.pk}/restart/", follow=True).content.decode()
    assert "Tick the box to consent" in refused
    done = client.post(f"/rotations/{rotation.pk}/restart/", {"consent": "yes"}, follow=True).content.decode()
    assert "Restarting the clusters" in done
    RotationStep.objects.filter(rotation=rotation).update(status=StepStatus.DONE, detail="Revoked.")
    assert 'id="restart-readers"' not in client.get(f"/rotations/{rotation.pk}/").content.decode()
