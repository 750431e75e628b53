"""Feed pages: list, detail, create, edit, replace token, delete, check now, and the check-row partial."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from core.models import CheckRun
from feeds.models import Feed, FeedCheck, TokenVersion
from tests.feeds.conftest import FEED_TOKEN

Login = Callable[[User], Client]

NEW_TOKEN = "new-token-5d1e0b77"


def create_data(**overrides: str) -> dict[str, str]:
    data = {
        "name": "team-feed",
        "kind": "generic",
        "index_url": "https://pypi.team.example/simple/",
        "username": "builder",
        "token": NEW_TOKEN,
        "token_expires_at": "",
    }
    data.update(overrides)
    return data


def edit_data(feed: Feed, **overrides: str) -> dict[str, str]:
    data = {"name": feed.name, "kind": feed.kind, "index_url": feed.index_url, "username": feed.username}
    data.update(overrides)
    return data


def future(days: int = 90) -> str:
    return (timezone.localtime() + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


# --- who may open what -------------------------------------------------------------------------------------------

# (url name, method, lowest role that may use it)
PAGES = [
    ("list", "get", "viewer"),
    ("detail", "get", "viewer"),
    ("create", "get", "admin"),
    ("edit", "get", "admin"),
    ("token", "get", "admin"),
    ("delete", "get", "admin"),
    ("check", "post", "operator"),
    ("check-row", "get", "viewer"),
]
RANK = {"outsider": 0, "viewer": 1, "operator": 2, "admin": 3}


def page_url(name: str, feed: Feed) -> str:
    if name in ("list", "create"):
        return reverse(f"feeds:{name}")
    if name == "check-row":
        return reverse("feeds:check-row", args=[FeedCheck.objects.create(feed=feed).pk])
    return reverse(f"feeds:{name}", args=[feed.pk])


@pytest.mark.parametrize(("name", "method", "needed"), PAGES)
def test_every_feed_page_sends_anonymous_users_to_the_login_page(
    client: Client, feed: Feed, name: str, method: str, needed: str
) -> None:
    url = page_url(name, feed)
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


@pytest.mark.parametrize("role", ["outsider", "viewer", "operator", "admin"])
@pytest.mark.parametrize(("name", "method", "needed"), PAGES)
def test_every_feed_page_works_for_its_role_and_refuses_lower_roles_with_403(
    request: pytest.FixtureRequest,
    login: Login,
    feed: Feed,
    fake_index: object,
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


def test_a_superuser_without_groups_counts_as_an_admin(login: Login, db: None) -> None:
    boss = User.objects.create_superuser("root", "root@example.com", "pw")
    response = login(boss).post(reverse("feeds:create"), create_data())
    assert response.status_code == 302
    assert Feed.objects.filter(name="team-feed").exists()


@pytest.mark.parametrize("role", ["outsider", "viewer", "operator"])
def test_only_admins_may_create_edit_replace_tokens_or_delete(
    request: pytest.FixtureRequest, login: Login, feed: Feed, role: str
) -> None:
    client = login(request.getfixturevalue(role))
    before = AuditEvent.objects.count()
    assert client.post(reverse("feeds:create"), create_data()).status_code == 403
    assert client.post(reverse("feeds:edit", args=[feed.pk]), edit_data(feed, name="renamed")).status_code == 403
    assert client.post(reverse("feeds:token", args=[feed.pk]), {"token": NEW_TOKEN}).status_code == 403
    assert client.post(reverse("feeds:delete", args=[feed.pk]), {"confirm_name": feed.name}).status_code == 403
    feed.refresh_from_db()
    assert (Feed.objects.count(), feed.name, feed.current_token.reveal()) == (1, "acme-private", FEED_TOKEN)
    assert AuditEvent.objects.exclude(outcome="denied").count() == before  # only the refusals are recorded


@pytest.mark.parametrize("role", ["outsider", "viewer"])
def test_viewers_and_outsiders_cannot_start_a_check(
    request: pytest.FixtureRequest, login: Login, feed: Feed, role: str
) -> None:
    response = login(request.getfixturevalue(role)).post(reverse("feeds:check", args=[feed.pk]))
    assert response.status_code == 403
    assert FeedCheck.objects.count() == 1, "only the check queued when the feed was created"


# --- list and detail ---------------------------------------------------------------------------------------------


def test_the_list_shows_each_feed_with_its_fingerprint_never_its_token(login: Login, viewer: User, feed: Feed) -> None:
    response = login(viewer).get(reverse("feeds:list"))
    body = response.content.decode()
    assert feed.name in body and feed.index_url in body and feed.fingerprint in body
    assert FEED_TOKEN not in body


def test_the_detail_page_shows_the_token_history_by_fingerprint(login: Login, admin: User, feed: Feed) -> None:
    old = feed.fingerprint
    login(admin).post(reverse("feeds:token", args=[feed.pk]), {"token": NEW_TOKEN})
    body = login(admin).get(reverse("feeds:detail", args=[feed.pk])).content.decode()
    feed.refresh_from_db()
    assert old in body and feed.fingerprint in body and "retired" in body
    assert FEED_TOKEN not in body and NEW_TOKEN not in body


def test_the_token_history_shows_each_tokens_stage(login: Login, admin: User, feed: Feed) -> None:
    from feeds.models import TokenVersion

    for stage in ("pending", "previous", "revoked", "discarded"):
        version = TokenVersion.build(feed=feed, token=f"stage-token-{stage}-123456")
        version.stage = stage
        version.save()
    body = login(admin).get(reverse("feeds:detail", args=[feed.pk])).content.decode()
    for label in ('title="in use">current', ">pending<", ">previous<", ">revoked ", ">discarded<"):
        assert label in body
    assert "stage-token-" not in body


def test_an_unknown_feed_is_404(login: Login, viewer: User, db: None) -> None:
    assert login(viewer).get(reverse("feeds:detail", args=[999])).status_code == 404


# --- create ------------------------------------------------------------------------------------------------------


def test_an_admin_creates_a_generic_feed_with_its_token_encrypted(login: Login, admin: User) -> None:
    response = login(admin).post(reverse("feeds:create"), create_data(token_expires_at=future()))
    feed = Feed.objects.get(name="team-feed")
    assert response.status_code == 302 and response["Location"] == reverse("feeds:detail", args=[feed.pk])
    assert feed.index_url == "https://pypi.team.example/simple/" and feed.username == "builder"
    assert feed.current_token.ciphertext != NEW_TOKEN and NEW_TOKEN not in feed.current_token.ciphertext
    assert feed.current_token.reveal() == NEW_TOKEN
    assert feed.expiry_status() == "ok"
    assert FeedCheck.objects.filter(feed=feed, status="pending").exists(), "a check is queued on save"


def test_azure_devops_parts_build_the_project_feed_url(login: Login, admin: User) -> None:
    data = create_data(kind="azure_devops", index_url="", username="", organization="Acme Org", project="Data")
    data["feed_name"] = "py-feed"
    assert login(admin).post(reverse("feeds:create"), data).status_code == 302
    feed = Feed.objects.get(name="team-feed")
    assert feed.index_url == "https://pkgs.dev.azure.com/Acme%20Org/Data/_packaging/py-feed/pypi/simple/"
    assert feed.effective_username == "feedkeeper"


def test_azure_devops_without_a_project_builds_the_organization_feed_url(login: Login, admin: User) -> None:
    data = create_data(kind="azure_devops", index_url="", organization="acme", feed_name="shared")
    assert login(admin).post(reverse("feeds:create"), data).status_code == 302
    assert Feed.objects.get().index_url == "https://pkgs.dev.azure.com/acme/_packaging/shared/pypi/simple/"


def test_azure_devops_without_a_feed_name_is_refused(login: Login, admin: User) -> None:
    data = create_data(kind="azure_devops", index_url="", organization="acme")
    response = login(admin).post(reverse("feeds:create"), data)
    assert response.status_code == 400
    assert response.context["form"].errors["feed_name"] == ["This field is required for this kind of feed."]
    assert not Feed.objects.exists()


def test_jfrog_parts_build_the_artifactory_url(login: Login, admin: User) -> None:
    data = create_data(kind="jfrog", index_url="", base_url="https://acme.jfrog.io/artifactory/", repository="py")
    assert login(admin).post(reverse("feeds:create"), data).status_code == 302
    assert Feed.objects.get().index_url == "https://acme.jfrog.io/artifactory/api/pypi/py/simple"


def test_jfrog_without_a_username_is_refused(login: Login, admin: User) -> None:
    data = create_data(kind="jfrog", index_url="", username="", base_url="https://acme.jfrog.io", repository="py")
    response = login(admin).post(reverse("feeds:create"), data)
    assert response.status_code == 400
    assert "needs the username" in response.context["form"].errors["username"][0]
    assert not Feed.objects.exists()


def test_a_duplicate_name_is_refused_whatever_its_case(login: Login, admin: User, feed: Feed) -> None:
    response = login(admin).post(reverse("feeds:create"), create_data(name="ACME-private"))
    assert response.status_code == 400
    assert response.context["form"].errors["name"] == ["A feed with this name already exists."]
    assert Feed.objects.count() == 1


def test_a_missing_token_is_refused(login: Login, admin: User) -> None:
    response = login(admin).post(reverse("feeds:create"), create_data(token=""))
    assert response.status_code == 400
    assert response.context["form"].errors["token"] == ["This field is required."]
    assert not Feed.objects.exists()


def test_it_rejects_an_index_url_with_embedded_credentials_without_repeating_them(login: Login, admin: User) -> None:
    url = "https://bob:hunter2-secret@pypi.team.example/simple/"
    response = login(admin).post(reverse("feeds:create"), create_data(index_url=url))
    body = response.content.decode()
    assert response.status_code == 400
    assert "must not contain credentials" in body
    assert "hunter2-secret" not in body and "bob:" not in body
    assert not Feed.objects.exists()


def test_it_rejects_a_jfrog_base_url_with_embedded_credentials_without_repeating_them(
    login: Login, admin: User
) -> None:
    data = create_data(kind="jfrog", index_url="", base_url="https://me:p4ss-word@acme.jfrog.io", repository="py")
    response = login(admin).post(reverse("feeds:create"), data)
    assert response.status_code == 400
    assert "must not contain credentials" in response.content.decode()
    assert "p4ss-word" not in response.content.decode()


def test_it_rejects_plain_http_for_a_host_not_in_plain_http_hosts(login: Login, admin: User) -> None:
    response = login(admin).post(reverse("feeds:create"), create_data(index_url="http://pypi.team.example/simple/"))
    assert response.status_code == 400
    assert "must use https" in response.context["form"].errors["index_url"][0]
    assert not Feed.objects.exists()


def test_it_allows_plain_http_for_a_host_in_plain_http_hosts(login: Login, admin: User) -> None:
    response = login(admin).post(reverse("feeds:create"), create_data(index_url="http://127.0.0.1:8080/simple/"))
    assert response.status_code == 302


def test_it_rejects_a_link_local_metadata_address(login: Login, admin: User) -> None:
    response = login(admin).post(reverse("feeds:create"), create_data(index_url="https://169.254.169.254/simple/"))
    assert response.status_code == 400
    assert "link-local" in response.context["form"].errors["index_url"][0]
    assert not Feed.objects.exists()


def test_it_rejects_an_expiry_in_the_past(login: Login, admin: User) -> None:
    response = login(admin).post(reverse("feeds:create"), create_data(token_expires_at="2020-01-01T00:00"))
    assert response.status_code == 400
    assert "in the past" in response.context["form"].errors["token_expires_at"][0]
    assert not Feed.objects.exists()


def test_the_token_input_never_renders_a_value_not_even_after_a_failed_post(
    login: Login, admin: User, feed: Feed
) -> None:
    client = login(admin)
    empty = client.get(reverse("feeds:create")).content.decode()
    assert 'type="password"' in empty
    failed = client.post(reverse("feeds:create"), create_data(name=feed.name, token="sticky-token-abc123"))
    assert failed.status_code == 400
    assert "sticky-token-abc123" not in failed.content.decode()
    failed = client.post(
        reverse("feeds:token", args=[feed.pk]), {"token": "sticky-token-abc123", "token_expires_at": "2020-01-01"}
    )
    assert failed.status_code == 400
    assert "sticky-token-abc123" not in failed.content.decode()


# --- edit --------------------------------------------------------------------------------------------------------


def test_the_edit_form_shows_the_definition_and_never_the_token(login: Login, admin: User, feed: Feed) -> None:
    body = login(admin).get(reverse("feeds:edit", args=[feed.pk])).content.decode()
    assert feed.index_url in body and FEED_TOKEN not in body


def test_an_admin_edits_a_feed(login: Login, admin: User, feed: Feed) -> None:
    data = edit_data(feed, name="acme-renamed", index_url="https://pypi.acme.example/other/simple/")
    response = login(admin).post(reverse("feeds:edit", args=[feed.pk]), data)
    assert response.status_code == 302
    feed.refresh_from_db()
    assert (feed.name, feed.index_url) == ("acme-renamed", "https://pypi.acme.example/other/simple/")
    assert feed.current_token.reveal() == FEED_TOKEN


def test_moving_a_feed_to_another_host_needs_the_token_again(login: Login, admin: User, feed: Feed) -> None:
    data = edit_data(feed, index_url="https://mirror.acme.example/simple/")
    response = login(admin).post(reverse("feeds:edit", args=[feed.pk]), data)
    assert response.status_code == 400 and "Enter the token again" in response.content.decode()
    feed.refresh_from_db()
    assert feed.index_url == "https://pypi.acme.example/simple/"
    response = login(admin).post(reverse("feeds:edit", args=[feed.pk]), {**data, "token": "mirror-token-5"})
    assert response.status_code == 302
    feed.refresh_from_db()
    assert feed.index_url == "https://mirror.acme.example/simple/"
    assert feed.current_token.reveal() == "mirror-token-5"


def test_editing_refuses_a_duplicate_name(login: Login, admin: User, feed: Feed) -> None:
    login(admin).post(reverse("feeds:create"), create_data())
    response = login(admin).post(reverse("feeds:edit", args=[feed.pk]), edit_data(feed, name="team-feed"))
    assert response.status_code == 400
    assert response.context["form"].errors["name"] == ["A feed with this name already exists."]
    feed.refresh_from_db()
    assert feed.name == "acme-private"


def test_editing_refuses_credentials_in_the_index_url_without_repeating_them(
    login: Login, admin: User, feed: Feed
) -> None:
    data = edit_data(feed, index_url="https://ci:edit-secret-77@pypi.acme.example/simple/")
    response = login(admin).post(reverse("feeds:edit", args=[feed.pk]), data)
    body = response.content.decode()
    assert response.status_code == 400 and "must not contain credentials" in body
    assert "edit-secret-77" not in body and "ci:" not in body
    feed.refresh_from_db()
    assert feed.index_url == "https://pypi.acme.example/simple/"


# --- replace token -----------------------------------------------------------------------------------------------


def test_an_admin_replaces_the_token_and_the_old_one_is_retired(login: Login, admin: User, feed: Feed) -> None:
    old = feed.current_token
    response = login(admin).post(reverse("feeds:token", args=[feed.pk]), {"token": NEW_TOKEN})
    assert response.status_code == 302
    feed.refresh_from_db()
    old.refresh_from_db()
    assert feed.current_token.reveal() == NEW_TOKEN and feed.fingerprint != old.fingerprint
    assert old.retired_at is not None
    assert TokenVersion.objects.filter(feed=feed).count() == 2


def test_replacing_needs_a_token(login: Login, admin: User, feed: Feed) -> None:
    response = login(admin).post(reverse("feeds:token", args=[feed.pk]), {"token": ""})
    assert response.status_code == 400
    assert response.context["form"].errors["token"] == ["This field is required."]
    assert TokenVersion.objects.filter(feed=feed).count() == 1


def test_replacing_refuses_an_expiry_in_the_past(login: Login, admin: User, feed: Feed) -> None:
    data = {"token": NEW_TOKEN, "token_expires_at": "2020-01-01T00:00"}
    response = login(admin).post(reverse("feeds:token", args=[feed.pk]), data)
    assert response.status_code == 400
    assert "in the past" in response.context["form"].errors["token_expires_at"][0]
    feed.refresh_from_db()
    assert feed.current_token.reveal() == FEED_TOKEN


def test_replacing_refuses_a_token_with_line_breaks_without_repeating_it(login: Login, admin: User, feed: Feed) -> None:
    response = login(admin).post(reverse("feeds:token", args=[feed.pk]), {"token": "two\nlines-token"})
    assert response.status_code == 400
    assert "line breaks" in response.content.decode() and "lines-token" not in response.content.decode()


# --- delete ------------------------------------------------------------------------------------------------------


def test_the_delete_confirmation_names_the_feed_and_what_depends_on_it(login: Login, admin: User, feed: Feed) -> None:
    body = login(admin).get(reverse("feeds:delete", args=[feed.pk])).content.decode()
    assert "Delete acme-private?" in body
    assert "Nothing depends on this feed." in body and "token history and checks are deleted too" in body


def test_deleting_requires_typing_the_feed_name(login: Login, admin: User, feed: Feed) -> None:
    response = login(admin).post(reverse("feeds:delete", args=[feed.pk]), {"confirm_name": "acme"})
    assert response.status_code == 400
    assert "Type the feed&#x27;s name" in response.content.decode()
    assert Feed.objects.filter(pk=feed.pk).exists()


def test_an_admin_deletes_a_feed_with_its_tokens_and_checks(login: Login, admin: User, feed: Feed) -> None:
    FeedCheck.objects.create(feed=feed)
    response = login(admin).post(reverse("feeds:delete", args=[feed.pk]), {"confirm_name": "acme-private"})
    assert response.status_code == 302 and response["Location"] == reverse("feeds:list")
    assert not Feed.objects.exists()
    assert not TokenVersion.objects.exists() and not CheckRun.objects.exists()
    assert AuditEvent.objects.filter(action="feed.delete", object_id=str(feed.pk)).exists()


# --- check now and the check row ---------------------------------------------------------------------------------


def test_an_operator_starts_a_check_and_is_sent_back_to_the_feed(
    login: Login, operator: User, feed: Feed, fake_index: object
) -> None:
    response = login(operator).post(reverse("feeds:check", args=[feed.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("feeds:detail", args=[feed.pk])
    check = FeedCheck.objects.get(feed=feed, requested_by=operator)
    assert check.requested_by == operator and check.fingerprint == feed.fingerprint


def test_an_htmx_check_answers_the_row_that_polls_until_the_check_ends(
    login: Login, operator: User, feed: Feed, fake_index: object
) -> None:
    response = login(operator).post(reverse("feeds:check", args=[feed.pk]), HTTP_HX_REQUEST="true")
    check = FeedCheck.objects.get(feed=feed, requested_by=operator)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.strip().startswith(f'<tr id="check-{check.pk}"')
    assert reverse("feeds:check-row", args=[check.pk]) in body and "<html" not in body


def test_the_check_row_of_a_finished_check_stops_polling(login: Login, viewer: User, feed: Feed) -> None:
    check = FeedCheck.objects.create(feed=feed, status="unauthorized", http_status=401, detail="HTTP 401: no.")
    body = login(viewer).get(reverse("feeds:check-row", args=[check.pk])).content.decode()
    assert "unauthorized" in body and "HTTP 401: no." in body and "hx-get" not in body


def test_a_get_on_check_now_is_not_allowed(login: Login, operator: User, feed: Feed) -> None:
    assert login(operator).get(reverse("feeds:check", args=[feed.pk])).status_code == 405
