"""Every feed, target, delivery and rotation page links to that object's own audit history."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import User
from django.test import Client

from feeds import services as feed_services
from rotations.models import Rotation
from targets import services as target_services

Login = Callable[[User], Client]


def test_each_object_page_links_to_its_history(login: Login, admin: User, viewer: User) -> None:
    feed = feed_services.feed_create(
        actor=admin, name="linked", kind="generic", index_url="https://a.example/simple/", token="tok-linked-1"
    )
    target = target_services.target_create(
        actor=admin,
        kind="databricks",
        name="ws-linked",
        url="https://adb-1234567890123456.7.azuredatabricks.net",
        auth_type="pat",
        token="dapi-linked-token",
    )
    delivery = target_services.delivery_create(
        actor=admin, feed=feed, target=target, mode="secret", scope="feedkeeper", key="linked"
    )
    rotation = Rotation.objects.create(feed=feed, status="completed", phase="revoke")
    client = login(viewer)
    for page, kind, pk in [
        (f"/feeds/{feed.pk}/", "feed", feed.pk),
        (f"/targets/{target.pk}/", "target", target.pk),
        (f"/targets/deliveries/{delivery.pk}/", "delivery", delivery.pk),
        (f"/rotations/{rotation.pk}/", "rotation", rotation.pk),
    ]:
        body = client.get(page).content.decode()
        assert f'href="/audit/?object_type={kind}&amp;object_id={pk}">History</a>' in body, page
    history = client.get(f"/audit/?object_type=feed&object_id={feed.pk}").content.decode()
    assert "<code>feed.create</code>" in history and "<code>target.create</code>" not in history
