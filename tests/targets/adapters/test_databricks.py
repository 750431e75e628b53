"""The Databricks adapter against the Databricks simulator, over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from simulators.databricks import DatabricksSimulator
from targets import services
from targets.adapters import AdapterError
from targets.models import Delivery, DeliveryStatus, Push, PushStatus, Target


def _push(delivery: Delivery, consent: bool = False) -> Push:
    from targets.pushing import push_dispatch, push_run

    push = Push.objects.filter(delivery=delivery).order_by("-id").first()
    if push is None or push.is_final:
        push = services.delivery_push(actor="system", delivery=delivery, restart_consent=consent)
    push_dispatch(target_id=delivery.target_id)
    push_run(push_id=push.pk)
    push.refresh_from_db()
    return push


def test_workspace_default_puts_the_url_in_the_package_scope_readable_by_users(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    delivery = services.delivery_create(actor="system", feed=feed, target=workspace, mode="workspace_default")
    push = _push(delivery)
    assert push.status == PushStatus.SUCCEEDED, push.error
    ws = databricks.workspace(0)
    assert ws.secret_value("databricks-package-management", "pip-index-url") == feed.credentialed_url()
    assert ws.acl("databricks-package-management", "users") == "READ"
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.delivered_fingerprint == feed.fingerprint
    assert delivery.delivered_remote_ts == ws.secret_timestamp("databricks-package-management", "pip-index-url")


def test_a_bad_pat_fails_at_once_as_permanent(db: None, admin: Any, feed: Any, databricks: DatabricksSimulator) -> None:
    target = services.target_create(
        actor=admin, kind="databricks", name="bad", url=databricks.urls[0], auth_type="pat", token="dapi-wrong"
    )
    delivery = services.delivery_create(actor=admin, feed=feed, target=target, mode="workspace_default")
    push = _push(delivery)
    assert push.status == PushStatus.FAILED and push.attempts == 1
    assert "Invalid access token" in push.error and "dapi-wrong" not in push.error


def test_adapter_error_is_transient_for_a_500(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    databricks.workspace(0).faults.add(status=500, count=1, path_contains="/secrets/put")
    delivery = services.delivery_create(actor="system", feed=feed, target=workspace, mode="workspace_default")
    with pytest.raises(AdapterError) as info:
        workspace.adapter().push(delivery, feed.credentialed_url(), restart_consent=False)
    assert info.value.permanent is False


def test_a_scope_deleted_since_the_last_push_is_created_again(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    import httpx

    delivery = services.delivery_create(
        actor="system", feed=feed, target=workspace, mode="secret", scope="team", key="pypi"
    )
    assert _push(delivery).status == PushStatus.SUCCEEDED
    httpx.post(
        f"{databricks.urls[0]}/api/2.0/secrets/scopes/delete",
        json={"scope": "team"},
        headers={"Authorization": "Bearer dapi-sim-token"},
    )
    delivery.refresh_from_db()
    assert _push(delivery).status == PushStatus.SUCCEEDED
    assert databricks.workspace(0).secret_value("team", "pypi") == feed.credentialed_url()


# --- batches -----------------------------------------------------------------------------------------------------


def _items(deliveries: list[Delivery], value: str) -> list[Any]:
    from targets.adapters.base import PushItem

    return [PushItem(delivery=d, value=value) for d in deliveries]


def test_a_batch_reads_each_scope_once_before_and_once_after_its_puts(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    deliveries = [
        services.delivery_create(actor="system", feed=feed, target=workspace, mode="secret", scope="team", key=f"k{i}")
        for i in range(6)
    ]
    ws = databricks.workspace(0)
    ws.requests.clear()
    items = _items(deliveries, feed.credentialed_url())
    workspace.adapter().push_many(items, parallel=4)
    assert [i.error for i in items] == [None] * 6
    calls = [path for _method, path in ws.requests]
    assert calls.count("/api/2.0/secrets/list") == 2 and calls.count("/api/2.0/secrets/put") == 6
    assert calls.count("/api/2.0/secrets/scopes/create") == 1
    for item in items:
        assert item.result is not None
        assert item.result.remote_ts == ws.secret_timestamp("team", item.delivery.cfg.key)
        assert ws.secret_value("team", item.delivery.cfg.key) == feed.credentialed_url()


def test_a_failure_in_a_batch_fails_only_its_own_items(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    first = services.delivery_create(actor="system", feed=feed, target=workspace, mode="secret", scope="a", key="k")
    second = services.delivery_create(actor="system", feed=feed, target=workspace, mode="secret", scope="b", key="k")
    databricks.workspace(0).faults.add(status=400, count=1, path_contains="/secrets/put")
    items = _items([first, second], feed.credentialed_url())
    workspace.adapter().push_many(items, parallel=1)  # in order: the first put meets the fault
    assert items[0].error is not None and items[0].result is None and items[0].error.permanent
    assert items[1].error is None and items[1].result is not None
    assert databricks.workspace(0).secret_value("b", "k") == feed.credentialed_url()
