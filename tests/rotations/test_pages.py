"""Rotation pages: the list, one rotation (polled while it runs), retry and roll back, and on a feed: the
Rotation section, rotate now, token leaked and the rotation settings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from feeds.models import Connection, Feed, TokenVersion
from rotations.models import STEP_ORDER, Phase, Rotation, RotationStep, Status, StepStatus, Trigger
from targets.models import Delivery
from tests.rotations.conftest import CONNECTION_TOKEN, FEED_TOKEN, JFROG_FEED_TOKEN, make_rotation

Login = Callable[[User], Client]

CANARY = "canary-rotation-3f9a1c0e7b"
RANK = {"outsider": 0, "viewer": 1, "operator": 2, "admin": 3}


def future(days: int = 90) -> str:
    return (timezone.localtime() + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


def with_steps(rotation: Rotation, **statuses: str) -> Rotation:
    for name in STEP_ORDER:
        RotationStep.objects.create(rotation=rotation, name=name, status=statuses.get(str(name), StepStatus.PENDING))
    return rotation


def settings_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "rotation_connection": "",
        "rotation_interval_days": "",
        "rotation_lead_days": 14,
        "rotation_grace_hours": 24,
        "token_lifetime_days": 90,
    }
    data.update(overrides)
    return data


# --- who may open what -------------------------------------------------------------------------------------------

# (url name, method, lowest role that may use it)
PAGES = [
    ("list", "get", "viewer"),
    ("detail", "get", "viewer"),
    ("retry", "post", "operator"),
    ("rollback", "post", "operator"),
    ("rotate", "get", "operator"),
    ("leaked", "get", "operator"),
    ("settings", "get", "admin"),
]


def page_url(name: str, feed: Feed) -> str:
    if name == "list":
        return reverse("rotations:list")
    if name in ("detail", "retry", "rollback"):
        rotation = Rotation.objects.filter(feed=feed).first() or make_rotation(feed, status=Status.FAILED)
        return reverse(f"rotations:{name}", args=[rotation.pk])
    return reverse(f"rotations:{name}", args=[feed.pk])


@pytest.mark.parametrize(("name", "method", "needed"), PAGES)
def test_every_rotation_page_sends_anonymous_users_to_the_login_page(
    client: Client, feed: Feed, name: str, method: str, needed: str
) -> None:
    response = getattr(client, method)(page_url(name, feed))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


@pytest.mark.parametrize("role", ["outsider", "viewer", "operator", "admin"])
@pytest.mark.parametrize(("name", "method", "needed"), PAGES)
def test_every_rotation_page_works_for_its_role_and_refuses_lower_roles_with_403(
    request: pytest.FixtureRequest,
    login: Login,
    feed: Feed,
    enqueued: list[int],
    role: str,
    name: str,
    method: str,
    needed: str,
) -> None:
    client = login(request.getfixturevalue(role))
    response = getattr(client, method)(page_url(name, feed))
    if RANK[role] >= RANK[needed]:
        assert response.status_code == (302 if method == "post" else 200)
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("role", ["outsider", "viewer"])
def test_viewers_cannot_start_retry_or_roll_back_a_rotation(
    request: pytest.FixtureRequest, login: Login, feed: Feed, enqueued: list[int], role: str
) -> None:
    failed = make_rotation(feed, status=Status.FAILED, phase=Phase.MINT)
    client = login(request.getfixturevalue(role))
    assert client.post(reverse("rotations:rotate", args=[feed.pk]), {"token": CANARY}).status_code == 403
    leaked = {"confirm_name": feed.name, "token": CANARY}
    assert client.post(reverse("rotations:leaked", args=[feed.pk]), leaked).status_code == 403
    assert client.post(reverse("rotations:retry", args=[failed.pk])).status_code == 403
    assert client.post(reverse("rotations:rollback", args=[failed.pk])).status_code == 403
    assert Rotation.objects.count() == 1 and enqueued == []
    failed.refresh_from_db()
    assert failed.status == Status.FAILED


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_admins_may_change_the_rotation_settings(
    request: pytest.FixtureRequest, login: Login, feed: Feed, role: str
) -> None:
    response = login(request.getfixturevalue(role)).post(
        reverse("rotations:settings", args=[feed.pk]), settings_data(token_lifetime_days=30)
    )
    assert response.status_code == 403
    feed.refresh_from_db()
    assert feed.token_lifetime_days == 90


# --- the feed's Rotation section ---------------------------------------------------------------------------------


def test_viewers_see_the_rotation_section_without_any_mutating_button(
    login: Login, viewer: User, feed: Feed, delivery: Delivery
) -> None:
    body = login(viewer).get(reverse("feeds:detail", args=[feed.pk])).content.decode()
    assert 'id="rotation"' in body and "manual (paste)" in body and "Never rotated." in body
    for action in ("Rotate now", "Token leaked", "Rotation settings"):
        assert action not in body
    assert reverse("rotations:rotate", args=[feed.pk]) not in body
    assert reverse("rotations:settings", args=[feed.pk]) not in body


def test_operators_get_rotate_and_leaked_and_admins_also_the_settings(
    login: Login, operator: User, admin: User, feed: Feed
) -> None:
    body = login(operator).get(reverse("feeds:detail", args=[feed.pk])).content.decode()
    assert "Rotate now" in body and "Token leaked" in body and "Rotation settings" not in body
    body = login(admin).get(reverse("feeds:detail", args=[feed.pk])).content.decode()
    assert "Rotate now" in body and "Token leaked" in body and "Rotation settings" in body
    assert reverse("rotations:settings", args=[feed.pk]) in body


def test_the_rotation_section_shows_the_connection_running_rotation_and_last_five(
    login: Login, admin: User, jfrog_feed: Feed, connection: Connection
) -> None:
    for _ in range(6):
        make_rotation(jfrog_feed, status=Status.COMPLETED, phase=Phase.DONE)
    running = make_rotation(jfrog_feed, status=Status.RUNNING, phase=Phase.PUSH)
    body = login(admin).get(reverse("feeds:detail", args=[jfrog_feed.pk])).content.decode()
    assert reverse("feeds:connection-detail", args=[connection.pk]) in body and connection.name in body
    assert "manual (paste)" not in body
    assert f"rotation {running.pk}" in body and "at step push" in body
    section = body.split('id="recent-rotations"')[1].split("</table>")[0]
    assert section.count("<tr>") == 6, "the header and the last five"
    assert f"#{running.pk}<" in section
    assert "90 days" in body and "14 days before expiry" in body and "24 hours" in body


def test_the_dependents_table_lists_each_place_of_each_delivery(
    login: Login, viewer: User, feed: Feed, delivery: Delivery
) -> None:
    body = login(viewer).get(reverse("feeds:detail", args=[feed.pk])).content.decode()
    table = body.split('id="dependents"')[1].split("</table>")[0]
    assert delivery.target.name in table and delivery.location in table
    assert reverse("targets:delivery-detail", args=[delivery.pk]) in table
    assert feed.fingerprint in table and "current" in table


# --- rotate now ----------------------------------------------------------------------------------------------------


def test_the_rotate_page_shows_the_dry_run_and_asks_for_the_new_token_when_there_is_no_connection(
    login: Login, operator: User, feed: Feed, delivery: Delivery
) -> None:
    body = login(operator).get(reverse("rotations:rotate", args=[feed.pk])).content.decode()
    assert "Pasted by an admin" in body
    assert "1 delivery pushed" in body and delivery.location in body
    assert 'type="password"' in body and 'name="token"' in body and 'name="token_expires_at"' in body
    assert FEED_TOKEN not in body


def test_rotate_now_with_a_pasted_token_starts_a_rotation_and_redirects_to_it(
    login: Login, operator: User, feed: Feed, enqueued: list[int]
) -> None:
    client = login(operator)
    response = client.post(reverse("rotations:rotate", args=[feed.pk]), {"token": CANARY, "token_expires_at": future()})
    rotation = Rotation.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("rotations:detail", args=[rotation.pk])
    assert enqueued == [rotation.pk]
    assert rotation.trigger == Trigger.MANUAL and not rotation.emergency and rotation.status == Status.RUNNING
    assert rotation.new_token is not None and rotation.new_token.reveal() == CANARY
    assert rotation.new_token.stage == TokenVersion.Stage.PENDING and rotation.new_token.expires_at is not None
    page = client.get(response["Location"])
    body = page.content.decode()
    assert f"Rotation {rotation.pk} started." in body and rotation.new_fingerprint in body
    assert CANARY not in body


def test_a_feed_with_a_connection_rotates_without_a_token_field(
    login: Login, operator: User, jfrog_feed: Feed, connection: Connection, enqueued: list[int]
) -> None:
    client = login(operator)
    body = client.get(reverse("rotations:rotate", args=[jfrog_feed.pk])).content.decode()
    assert 'name="token"' not in body and connection.name in body and "valid 90 days" in body
    response = client.post(reverse("rotations:rotate", args=[jfrog_feed.pk]), {})
    rotation = Rotation.objects.get()
    assert response.status_code == 302 and rotation.new_token is None and rotation.phase == Phase.MINT
    assert enqueued == [rotation.pk]


def test_rotating_without_a_token_and_without_a_connection_is_refused(
    login: Login, operator: User, feed: Feed, enqueued: list[int]
) -> None:
    response = login(operator).post(reverse("rotations:rotate", args=[feed.pk]), {"token": ""})
    assert response.status_code == 400
    assert response.context["form"].errors["token"]
    assert not Rotation.objects.exists() and enqueued == []


def test_a_second_rotation_while_one_runs_shows_the_is_running_message(
    login: Login, operator: User, feed: Feed, enqueued: list[int]
) -> None:
    client = login(operator)
    assert client.post(reverse("rotations:rotate", args=[feed.pk]), {"token": "first-new-token"}).status_code == 302
    running = Rotation.objects.get()
    page = client.get(reverse("rotations:rotate", args=[feed.pk])).content.decode()
    assert reverse("rotations:detail", args=[running.pk]) in page and "is running" in page
    response = client.post(reverse("rotations:rotate", args=[feed.pk]), {"token": CANARY})
    assert response.status_code == 400
    body = response.content.decode()
    assert f"Rotation {running.pk} of this feed is running" in body
    assert CANARY not in body
    assert Rotation.objects.count() == 1 and enqueued == [running.pk]


def test_a_refused_pasted_token_is_not_echoed(login: Login, operator: User, feed: Feed, enqueued: list[int]) -> None:
    response = login(operator).post(reverse("rotations:rotate", args=[feed.pk]), {"token": CANARY + " "})
    assert response.status_code == 400
    body = response.content.decode()
    assert "spaces at its ends" in body and CANARY not in body
    assert not Rotation.objects.exists()


# --- token leaked --------------------------------------------------------------------------------------------------


def test_leaked_with_a_wrong_name_changes_nothing_and_says_why(
    login: Login, operator: User, feed: Feed, enqueued: list[int]
) -> None:
    response = login(operator).post(
        reverse("rotations:leaked", args=[feed.pk]), {"confirm_name": feed.name.upper(), "token": CANARY}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "type it exactly to confirm" in body and CANARY not in body
    assert not Rotation.objects.exists() and enqueued == []
    assert TokenVersion.objects.filter(feed=feed).count() == 1


def test_leaked_with_the_exact_name_starts_an_emergency_rotation(
    login: Login, operator: User, feed: Feed, enqueued: list[int]
) -> None:
    client = login(operator)
    page = client.get(reverse("rotations:leaked", args=[feed.pk])).content.decode()
    assert 'name="confirm_name"' in page and 'type="password"' in page
    response = client.post(reverse("rotations:leaked", args=[feed.pk]), {"confirm_name": feed.name, "token": CANARY})
    rotation = Rotation.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("rotations:detail", args=[rotation.pk])
    assert rotation.emergency and rotation.trigger == Trigger.EMERGENCY and enqueued == [rotation.pk]
    body = client.get(response["Location"]).content.decode()
    assert "Emergency rotation" in body and "emergency: the previous token leaked" in body
    assert CANARY not in body


def test_leaked_for_a_feed_with_a_connection_needs_only_the_name(
    login: Login, operator: User, jfrog_feed: Feed, enqueued: list[int]
) -> None:
    client = login(operator)
    body = client.get(reverse("rotations:leaked", args=[jfrog_feed.pk])).content.decode()
    assert 'name="token"' not in body and "revoked as soon as the new token is verified everywhere" in body
    response = client.post(reverse("rotations:leaked", args=[jfrog_feed.pk]), {"confirm_name": jfrog_feed.name})
    assert response.status_code == 302
    assert Rotation.objects.get().emergency


# --- rotation settings ---------------------------------------------------------------------------------------------


def test_the_settings_form_refuses_a_lifetime_of_zero_and_changes_nothing(
    login: Login, admin: User, feed: Feed
) -> None:
    response = login(admin).post(reverse("rotations:settings", args=[feed.pk]), settings_data(token_lifetime_days=0))
    assert response.status_code == 400
    assert response.context["form"].errors["token_lifetime_days"] == ["Enter a number from 1 to 365."]
    feed.refresh_from_db()
    assert feed.token_lifetime_days == 90


@pytest.mark.parametrize(
    ("field", "value"),
    [("rotation_interval_days", 0), ("rotation_interval_days", 366), ("rotation_grace_hours", 24 * 30 + 1)],
)
def test_the_settings_form_validates_every_bound(login: Login, admin: User, feed: Feed, field: str, value: int) -> None:
    response = login(admin).post(reverse("rotations:settings", args=[feed.pk]), settings_data(**{field: value}))
    assert response.status_code == 400 and response.context["form"].errors[field]


def test_the_settings_form_saves_and_reschedules(login: Login, admin: User, feed: Feed) -> None:
    data = settings_data(rotation_interval_days=30, rotation_lead_days=7, rotation_grace_hours=2)
    response = login(admin).post(reverse("rotations:settings", args=[feed.pk]), data)
    assert response.status_code == 302 and response["Location"] == reverse("feeds:detail", args=[feed.pk])
    feed.refresh_from_db()
    assert (feed.rotation_interval_days, feed.rotation_lead_days, feed.rotation_grace_hours) == (30, 7, 2)
    assert feed.next_rotation_at is not None


def test_the_connection_select_offers_only_connections_that_can_mint_the_feeds_kind(
    login: Login, admin: User, feed: Feed, jfrog_feed: Feed, connection: Connection
) -> None:
    client = login(admin)
    generic = client.get(reverse("rotations:settings", args=[feed.pk])).content.decode()
    assert connection.name not in generic
    jfrog = client.get(reverse("rotations:settings", args=[jfrog_feed.pk])).content.decode()
    assert f'value="{connection.pk}" selected' in jfrog
    # Choosing none: the next token is pasted.
    response = client.post(reverse("rotations:settings", args=[jfrog_feed.pk]), settings_data(rotation_connection=""))
    assert response.status_code == 302
    jfrog_feed.refresh_from_db()
    assert jfrog_feed.rotation_connection is None
    # An incompatible connection is refused, even posted by hand.
    response = client.post(
        reverse("rotations:settings", args=[feed.pk]), settings_data(rotation_connection=connection.pk)
    )
    assert response.status_code == 400
    feed.refresh_from_db()
    assert feed.rotation_connection is None


# --- list and detail -----------------------------------------------------------------------------------------------


def test_the_list_is_newest_first_and_filters_by_feed_and_status(
    login: Login, viewer: User, feed: Feed, jfrog_feed: Feed
) -> None:
    old = make_rotation(feed, status=Status.COMPLETED, phase=Phase.DONE, new_fingerprint="aaaa1111")
    new = make_rotation(feed, status=Status.FAILED, phase=Phase.PUSH, new_fingerprint="bbbb2222")
    other = make_rotation(jfrog_feed, status=Status.FAILED, phase=Phase.MINT)
    client = login(viewer)
    rows = list(client.get(reverse("rotations:list")).context["rotations"])
    assert rows == [other, new, old]
    body = client.get(reverse("rotations:list")).content.decode()
    assert body.index(f"#{new.pk}<") < body.index(f"#{old.pk}<")
    assert "aaaa1111" in body and feed.fingerprint in body
    by_feed = client.get(reverse("rotations:list"), {"feed": feed.pk})
    assert list(by_feed.context["rotations"]) == [new, old]
    by_status = client.get(reverse("rotations:list"), {"feed": str(feed.pk), "status": "failed"})
    assert list(by_status.context["rotations"]) == [new]
    bad = client.get(reverse("rotations:list"), {"status": "exploded"})
    assert bad.status_code == 400 and "Status:" in bad.content.decode()


def test_a_running_rotation_polls_its_progress_and_htmx_gets_only_the_partial(
    login: Login, viewer: User, feed: Feed, delivery: Delivery
) -> None:
    rotation = with_steps(
        make_rotation(
            feed,
            phase=Phase.VERIFY,
            new_fingerprint="cafe0001",
            deliveries={str(delivery.pk): {"status": "pushing", "fingerprint": "cafe0001"}},
        ),
        mint=StepStatus.DONE,
        test=StepStatus.DONE,
        push=StepStatus.DONE,
        verify=StepStatus.WAITING,
    )
    RotationStep.objects.filter(rotation=rotation, name=Phase.VERIFY).update(detail="0 of 1 deliveries verified.")
    client = login(viewer)
    page = client.get(reverse("rotations:detail", args=[rotation.pk]))
    body = page.content.decode()
    assert 'hx-trigger="every 2s"' in body and "<html" in body
    assert "0 of 1 deliveries verified." in body
    assert reverse("targets:delivery-detail", args=[delivery.pk]) in body and delivery.location in body
    partial = client.get(reverse("rotations:detail", args=[rotation.pk]), headers={"HX-Request": "true"})
    text = partial.content.decode()
    assert "<html" not in text and text.lstrip().startswith('<section id="progress"')
    assert 'hx-trigger="every 2s"' in text and "HX-Request" in partial["Vary"]
    assert "Retry" not in body and "Roll back" not in body


def test_polling_stops_once_the_rotation_is_final(login: Login, viewer: User, feed: Feed) -> None:
    done = with_steps(
        make_rotation(feed, status=Status.COMPLETED, phase=Phase.DONE, revoke_done=True),
        **{str(p): StepStatus.DONE for p in STEP_ORDER},
    )
    waiting = with_steps(
        make_rotation(feed, status=Status.COMPLETED, phase=Phase.REVOKE, revoke_after=timezone.now()),
        revoke=StepStatus.WAITING,
    )
    client = login(viewer)
    done_partial = client.get(reverse("rotations:detail", args=[done.pk]), headers={"HX-Request": "true"})
    assert "hx-trigger" not in done_partial.content.decode()
    waiting_page = client.get(reverse("rotations:detail", args=[waiting.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in waiting_page, "completed, but the revocation is still to come"


def test_operators_retry_a_failed_rotation(
    login: Login, operator: User, viewer: User, feed: Feed, enqueued: list[int]
) -> None:
    rotation = with_steps(
        make_rotation(feed, status=Status.FAILED, phase=Phase.MINT, error="The connection refused."),
        mint=StepStatus.FAILED,
    )
    viewer_body = login(viewer).get(reverse("rotations:detail", args=[rotation.pk])).content.decode()
    assert "The connection refused." in viewer_body and "Retry" not in viewer_body and "Roll back" not in viewer_body
    client = login(operator)
    body = client.get(reverse("rotations:detail", args=[rotation.pk])).content.decode()
    assert reverse("rotations:retry", args=[rotation.pk]) in body
    assert reverse("rotations:rollback", args=[rotation.pk]) in body
    response = client.post(reverse("rotations:retry", args=[rotation.pk]), follow=True)
    assert response.redirect_chain == [(reverse("rotations:detail", args=[rotation.pk]), 302)]
    assert f"Rotation {rotation.pk} is taken up again." in response.content.decode()
    rotation.refresh_from_db()
    assert rotation.status == Status.RUNNING and rotation.error == "" and enqueued == [rotation.pk]


def test_a_completed_rotation_whose_revocation_failed_offers_retry_but_not_roll_back(
    login: Login, operator: User, feed: Feed, enqueued: list[int]
) -> None:
    rotation = with_steps(make_rotation(feed, status=Status.COMPLETED, phase=Phase.REVOKE), revoke=StepStatus.FAILED)
    client = login(operator)
    body = client.get(reverse("rotations:detail", args=[rotation.pk])).content.decode()
    assert reverse("rotations:retry", args=[rotation.pk]) in body
    assert reverse("rotations:rollback", args=[rotation.pk]) not in body
    assert 'hx-trigger="every 2s"' not in body
    assert client.post(reverse("rotations:retry", args=[rotation.pk])).status_code == 302
    assert RotationStep.objects.get(rotation=rotation, name=Phase.REVOKE).status == StepStatus.PENDING
    assert enqueued == [rotation.pk]


def test_operators_roll_back_a_failed_rotation(login: Login, operator: User, feed: Feed, enqueued: list[int]) -> None:
    rotation = with_steps(make_rotation(feed, status=Status.FAILED, phase=Phase.VERIFY), verify=StepStatus.FAILED)
    response = login(operator).post(reverse("rotations:rollback", args=[rotation.pk]), follow=True)
    assert "the previous token is pushed everywhere again" in response.content.decode()
    rotation.refresh_from_db()
    assert rotation.status == Status.RUNNING and rotation.phase == Phase.ROLLBACK and enqueued == [rotation.pk]


def test_a_refused_retry_or_rollback_shows_the_services_message(
    login: Login, operator: User, feed: Feed, enqueued: list[int]
) -> None:
    rotation = with_steps(
        make_rotation(feed, status=Status.COMPLETED, phase=Phase.DONE, revoke_done=True),
        **{str(p): StepStatus.DONE for p in STEP_ORDER},
    )
    client = login(operator)
    retried = client.post(reverse("rotations:retry", args=[rotation.pk]), follow=True).content.decode()
    assert "Only a failed rotation can be retried; this one is completed." in retried
    rolled = client.post(reverse("rotations:rollback", args=[rotation.pk]), follow=True).content.decode()
    assert "Only a failed rotation (or one still verifying) can be rolled back" in rolled
    rotation.refresh_from_db()
    assert rotation.status == Status.COMPLETED and enqueued == []


def test_an_unknown_rotation_or_feed_is_404(login: Login, viewer: User, operator: User, db: None) -> None:
    assert login(viewer).get(reverse("rotations:detail", args=[999])).status_code == 404
    assert login(operator).get(reverse("rotations:rotate", args=[999])).status_code == 404


def test_the_navigation_links_to_rotations(login: Login, viewer: User, db: None) -> None:
    body = login(viewer).get(reverse("rotations:list")).content.decode()
    assert f'href="{reverse("rotations:list")}" aria-current="page"' in body


# --- the canary --------------------------------------------------------------------------------------------------


def test_no_token_appears_in_any_rotation_page(
    login: Login,
    admin: User,
    feed: Feed,
    jfrog_feed: Feed,
    delivery: Delivery,
    enqueued: list[int],
) -> None:
    client = login(admin)
    answers = [client.post(reverse("rotations:rotate", args=[feed.pk]), {"token": CANARY}, follow=True)]
    rotation = Rotation.objects.get()
    answers.append(client.post(reverse("rotations:rotate", args=[feed.pk]), {"token": CANARY + "-again"}))
    answers.append(client.post(reverse("rotations:leaked", args=[feed.pk]), {"confirm_name": "no", "token": CANARY}))
    urls = [
        reverse("rotations:list"),
        reverse("rotations:detail", args=[rotation.pk]),
        reverse("rotations:rotate", args=[feed.pk]),
        reverse("rotations:leaked", args=[feed.pk]),
        reverse("rotations:settings", args=[feed.pk]),
        reverse("rotations:rotate", args=[jfrog_feed.pk]),
        reverse("rotations:settings", args=[jfrog_feed.pk]),
        reverse("feeds:detail", args=[feed.pk]),
        reverse("feeds:detail", args=[jfrog_feed.pk]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        answers.append(response)
    answers.append(client.get(reverse("rotations:detail", args=[rotation.pk]), headers={"HX-Request": "true"}))
    for response in answers:
        text = response.content.decode()
        for secret in (CANARY, FEED_TOKEN, JFROG_FEED_TOKEN, CONNECTION_TOKEN):
            assert secret not in text
