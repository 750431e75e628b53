"""Wiring clusters and policies, and the workspace default repository keys, as the platform allows them (the
simulator enforces each rule): owners must read the scope, one refused cluster does not stop the rest, policies from
a policy family, several extra indexes and a CA bundle (docs/platforms.md §1.5, §1.6)."""

from __future__ import annotations

import datetime
import json
from typing import Any

import httpx
import pytest
from django.core.exceptions import ValidationError

from feeds import services as feed_services
from simulators.databricks import DatabricksSimulator
from targets import pushing, services
from targets.adapters import get_adapter
from targets.models import Delivery, Push, PushStatus, Target

REF = "{{secrets/platform/pypi}}"
ADMIN = {"Authorization": "Bearer dapi-sim-token"}
PACKAGE_SCOPE = "databricks-package-management"


def run_push(delivery: Delivery, *, consent: bool = False) -> Push:
    push = pushing.push_request(delivery=delivery, actor="system", restart_consent=consent)
    pushing.push_dispatch(target_id=delivery.target_id)
    pushing.push_run(push_id=push.pk)
    push.refresh_from_db()
    return push


def secret_delivery(feed: Any, target: Target, clusters: list[str], **extra: Any) -> Delivery:
    delivery = services.delivery_create(
        actor="system",
        feed=feed,
        target=target,
        mode="secret",
        scope="platform",
        key="pypi",
        clusters=clusters,
        **extra,
    )
    Push.objects.filter(delivery=delivery).delete()
    return delivery


def create_policy(url: str, **body: Any) -> str:
    answer = httpx.post(f"{url}/api/2.0/policies/clusters/create", headers=ADMIN, json=body)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["policy_id"])


def get_policy(url: str, policy_id: str) -> dict[str, Any]:
    answer = httpx.get(f"{url}/api/2.0/policies/clusters/get", headers=ADMIN, params={"policy_id": policy_id})
    return dict(answer.json())


# --- 1. owners read the scope; a refusal is recorded, the rest is wired -----------------------------------------
# Docs "Use a secret in a Spark configuration property or environment variable", Requirements: "Cluster owners must
# have CAN READ permission on the secret scope"; "You must be a cluster owner to add or edit a secret ...".


def test_owners_are_granted_read_and_a_refused_cluster_leaves_the_others_and_the_policy_wired(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    ws = databricks.workspace(0)
    alice = ws.add_cluster(cluster_id="0001-alice", name="alice", state="TERMINATED", owner="alice@example.com")
    dedicated = ws.add_cluster(
        cluster_id="0002-dedicated", name="bob", state="TERMINATED", single_user_name="bob@example.com"
    )
    policy_id = create_policy(databricks.urls[0], name="std", definition="{}")
    push = run_push(secret_delivery(feed, workspace, [alice, dedicated], policy_id=policy_id))
    assert push.status == PushStatus.SUCCEEDED, push.error
    states = push.detail["clusters"]
    assert states[alice].startswith("refused:") and "owner" in states[alice]
    assert ws.cluster(alice)["spark_env_vars"] == {}
    assert ws.acl("platform", "alice@example.com") == "READ"  # alice can add the reference herself
    assert states[dedicated] == "wired"
    assert ws.cluster(dedicated)["spark_env_vars"] == {"DATABRICKS_PIP_INDEX_URL": REF}
    assert ws.acl("platform", "bob@example.com") == "READ"
    assert ws.acl("platform", "admin@example.com") == "MANAGE"  # never lowered to READ
    assert json.loads(get_policy(databricks.urls[0], policy_id)["definition"])[
        "spark_env_vars.DATABRICKS_PIP_INDEX_URL"
    ]
    assert any("alice" in n and "not wired" in n for n in push.detail["notes"])


def test_a_reader_group_is_granted_read_instead_of_each_owner(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    ws = databricks.workspace(0)
    ws.add_group("data-eng", ["bob@example.com"])
    cid = ws.add_cluster(name="bob", state="TERMINATED", single_user_name="bob@example.com")
    delivery = secret_delivery(feed, workspace, [cid], reader_group="data-eng")
    assert delivery.cfg.reader_group == "data-eng"
    push = run_push(delivery)
    assert push.detail["clusters"] == {cid: "wired"}
    assert ws.acl("platform", "data-eng") == "READ" and ws.acl("platform", "bob@example.com") is None
    assert ("Reader group", "data-eng") in get_adapter(workspace).delivery_rows(delivery)


def test_a_standard_workspace_says_acls_need_the_premium_plan(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    ws = databricks.workspace(0)
    ws.premium = False
    cid = ws.add_cluster(name="bob", state="TERMINATED", single_user_name="bob@example.com")
    push = run_push(secret_delivery(feed, workspace, [cid]))
    assert push.status == PushStatus.SUCCEEDED, push.error
    assert push.detail["clusters"][cid].startswith("refused:") and "Premium plan" in push.detail["clusters"][cid]
    assert ws.cluster(cid)["spark_env_vars"] == {}


# --- 3. policies from a policy family (Cluster Policies API, "Update a cluster policy": policy_family_id "Cannot be
#        used with definition. Use policy_family_definition_overrides instead") -------------------------------------


def test_a_family_policy_gets_the_variable_in_its_overrides_and_keeps_every_other_field(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    url = databricks.urls[0]
    overrides = {"autotermination_minutes": {"type": "fixed", "value": 60}}
    libraries = [{"pypi": {"package": "requests"}}]
    policy_id = create_policy(
        url,
        name="personal",
        policy_family_id="personal-vm",
        policy_family_definition_overrides=json.dumps(overrides),
        libraries=libraries,
        max_clusters_per_user=2,
        description="for everyone",
        auto_enforcement_config={"enabled": True},
    )
    push = run_push(secret_delivery(feed, workspace, [], policy_id=policy_id))
    assert push.status == PushStatus.SUCCEEDED, push.error
    got = get_policy(url, policy_id)
    wanted = {"type": "fixed", "value": REF, "hidden": True}
    assert json.loads(got["policy_family_definition_overrides"]) == {
        **overrides,
        "spark_env_vars.DATABRICKS_PIP_INDEX_URL": wanted,
    }
    assert json.loads(got["definition"])["node_type_id"]  # still the family's definition underneath
    assert got["policy_family_id"] == "personal-vm" and got["libraries"] == libraries
    assert got["max_clusters_per_user"] == 2 and got["description"] == "for everyone"
    assert got["auto_enforcement_config"] == {"enabled": True}


def test_a_plain_policy_keeps_its_libraries(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    url = databricks.urls[0]
    policy_id = create_policy(url, name="std", definition="{}", libraries=[{"pypi": {"package": "x"}}])
    run_push(secret_delivery(feed, workspace, [], policy_id=policy_id))
    got = get_policy(url, policy_id)
    assert got["libraries"] == [{"pypi": {"package": "x"}}]
    assert "spark_env_vars.DATABRICKS_PIP_INDEX_URL" in json.loads(got["definition"])


# --- 4. pip-extra-index-urls holds several URLs; pip-cert (docs "Configure default Python package repositories") ---
# The adapter reads the workspace's other deliveries from the push machinery's helper thread (its own database
# connection), so these tests commit: transactional_db.


def test_the_extra_key_is_composed_from_every_extra_delivery_of_the_workspace(
    transactional_db: None, admin: Any, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    other = feed_services.feed_create(
        actor=admin,
        name="other",
        kind="generic",
        index_url="https://other.example.com/simple/",
        username="u",
        token="t2",
    )
    first = services.delivery_create(
        actor="system", feed=feed, target=workspace, mode="workspace_default", role="extra"
    )
    # A second feed as an extra index of the same workspace: its own place, the same key.
    second = services.delivery_create(
        actor="system", feed=other, target=workspace, mode="workspace_default", role="extra"
    )
    assert first.location != second.location
    with pytest.raises(ValidationError, match="Another delivery already writes"):
        services.delivery_create(actor="system", feed=other, target=workspace, mode="workspace_default", role="extra")
    assert run_push(first).status == PushStatus.SUCCEEDED
    value = databricks.workspace(0).secret_value(PACKAGE_SCOPE, "pip-extra-index-urls")
    assert value == f"{feed.credentialed_url()} {other.credentialed_url()}"
    assert "owned by Feedkeeper" in get_adapter(workspace).modes["workspace_default"].help or "Feedkeeper owns" in (
        get_adapter(workspace).modes["workspace_default"].help
    )


def _pem() -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Corp CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_a_ca_bundle_is_pushed_to_pip_cert(
    transactional_db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    pem = _pem()
    delivery = services.delivery_create(
        actor="system", feed=feed, target=workspace, mode="workspace_default", ca_bundle=pem
    )
    assert run_push(delivery).status == PushStatus.SUCCEEDED
    assert databricks.workspace(0).secret_value(PACKAGE_SCOPE, "pip-cert") == pem.strip() + "\n"


@pytest.mark.parametrize("text", ["not a certificate", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"])
def test_a_ca_bundle_must_be_pem_certificates(db: None, feed: Any, workspace: Target, text: str) -> None:
    with pytest.raises(ValidationError) as info:
        services.delivery_create(actor="system", feed=feed, target=workspace, mode="workspace_default", ca_bundle=text)
    assert "ca_bundle" in info.value.message_dict
