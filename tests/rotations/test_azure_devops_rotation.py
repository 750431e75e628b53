"""An Azure DevOps rotation through the connect flow: the admin's consent (authorization code with PKCE, run by
msal against the Entra simulator), a PAT minted through the PAT lifecycle API, tested against the Azure Artifacts
feed, pushed, and the previous PAT revoked. Then consent withdrawn: the connection needs consent again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from feeds import connections
from feeds import services as feed_services
from feeds.models import Connection, ConnectionStatus, TokenVersion
from feeds.providers.azure_devops import API_VERSION
from rotations import services
from rotations.models import Rotation, Status
from simulators.azure_devops import AzureDevOpsSimulator

REDIRECT = "http://localhost:8000/feeds/connections/callback/"


@pytest.fixture
def ado(settings: Any) -> Iterator[AzureDevOpsSimulator]:
    with AzureDevOpsSimulator(redirect_uris=[REDIRECT]) as sim:
        settings.AZURE_ENTRA_URL = sim.entra_url
        settings.AZURE_DEVOPS_PKGS_URL = sim.pkgs_url
        settings.CA_BUNDLE = sim.ca_path
        yield sim


def _connect(admin: Any, ado: AzureDevOpsSimulator) -> Connection:
    conn = connections.connection_create(
        actor=admin,
        kind="azure_devops",
        name="ado",
        url=f"{ado.vssps_url}/{ado.organization}",
        tenant_id=ado.tenant_id,
        client_id=ado.client_id,
        client_secret=ado.client_secret,
    )
    flow = connections.consent_begin(conn, REDIRECT)
    # The admin's browser: Entra signs the user in, asks for consent and sends the browser back with a code.
    answer = httpx.get(flow["auth_uri"], verify=ado.ca_path, follow_redirects=False)
    assert answer.status_code in (302, 303), answer.text[:300]
    location = answer.headers["location"]
    assert location.startswith(REDIRECT)
    return connections.consent_complete(
        actor=admin, connection=conn, flow=flow, answer=dict(parse_qsl(urlsplit(location).query))
    )


def _first_pat(ado: AzureDevOpsSimulator) -> str:
    token = ado.issue_user_token()
    response = httpx.post(
        ado.pats_url,
        params={"api-version": API_VERSION},
        headers={"Authorization": f"Bearer {token}"},
        json={
            "displayName": "set up by hand",
            "scope": "vso.packaging",
            "validTo": "2027-06-01T00:00:00Z",
            "allOrgs": False,
        },
    )
    return str(response.json()["patToken"]["token"])


def test_an_azure_devops_rotation_through_the_connect_flow(
    transactional_db: None, admin: Any, ado: AzureDevOpsSimulator
) -> None:
    conn = _connect(admin, ado)
    assert conn.status == ConnectionStatus.OK and conn.refresh_token and conn.consented_by
    first = _first_pat(ado)
    feed = feed_services.feed_create(
        actor=admin,
        name="ado-feed",
        kind="azure_devops",
        organization=ado.organization,
        project=ado.project,
        feed_name=ado.feed,
        token=first,
        rotation_connection=conn.pk,
        rotation_grace_hours=0,
    )
    assert feed.index_url == ado.feed_index_url

    rotation = services.rotation_request(actor=admin, feed=feed)  # tasks run inline here
    rotation.refresh_from_db()
    assert rotation.status == Status.COMPLETED, rotation.error
    feed.refresh_from_db()
    new = TokenVersion.objects.get(pk=int(feed.current_token_id or 0))
    assert new.provider_token_id and ado.is_live_pat(new.reveal())
    # The first PAT was pasted: Azure DevOps cannot revoke by value, so the admin is told to.
    revoke = rotation.steps.get(name="revoke")
    assert revoke.status == "manual" and "yourself" in revoke.detail
    created = [p for p in ado.pats() if p.get("authorizationId") == new.provider_token_id]
    assert created and created[0]["scope"] == "vso.packaging" and not created[0].get("allOrgs")

    # A second rotation revokes the PAT the first one minted, by its id.
    second = services.rotation_request(actor=admin, feed=feed)
    second.refresh_from_db()
    assert second.status == Status.COMPLETED and second.previous_revoked_at is not None, second.error
    assert not ado.is_live_pat(new.reveal())
    assert Rotation.objects.filter(status=Status.COMPLETED).count() == 2

    # Consent withdrawn: the next rotation fails at the mint and the connection asks for consent.
    ado.revoke_refresh_tokens()
    third = services.rotation_request(actor=admin, feed=feed)
    third.refresh_from_db()
    assert third.status == Status.FAILED and "no longer accepts the stored authorization" in third.error
    conn.refresh_from_db()
    assert conn.status == ConnectionStatus.NEEDS_CONSENT
    for secret in (first, new.reveal(), ado.client_secret):
        assert secret not in third.error and secret not in conn.status_detail


@pytest.mark.worker
def test_an_azure_devops_rotation_on_a_real_worker_reaches_pip_and_the_old_pat_gets_401(
    transactional_db: None, admin: Any, ado: AzureDevOpsSimulator, tmp_path: Any
) -> None:
    import time

    from config.celery_app import app as celery_app
    from tests.rotations.test_rotation_e2e import _pip_download
    from tests.support.worker import start_worker

    conn = _connect(admin, ado)
    first = _first_pat(ado)
    feed = feed_services.feed_create(
        actor=admin,
        name="ado-feed",
        kind="azure_devops",
        organization=ado.organization,
        project=ado.project,
        feed_name=ado.feed,
        token=first,
        rotation_connection=conn.pk,
        rotation_grace_hours=0,
    )
    old_url = feed.credentialed_url()
    celery_app.conf.task_always_eager = False
    worker = start_worker(
        tmp_path / "worker.log",
        extra_env={
            "AZURE_ENTRA_URL": ado.entra_url,
            "AZURE_DEVOPS_PKGS_URL": ado.pkgs_url,
            "CA_BUNDLE": ado.ca_path,
            "ROTATION_POLL_SECONDS": "1",
        },
    )

    def rotate() -> Rotation:
        rotation = services.rotation_request(actor=admin, feed=feed)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and Rotation.objects.get(pk=rotation.pk).phase != "done":
            time.sleep(0.2)
        rotation.refresh_from_db()
        assert rotation.status == Status.COMPLETED, rotation.error
        feed.refresh_from_db()
        return rotation

    try:
        first_rotation = rotate()
        minted = TokenVersion.objects.get(pk=int(feed.current_token_id or 0))
        minted_url = feed.credentialed_url()
        # The first PAT was pasted: Azure DevOps cannot revoke a PAT by its value, so the admin is told to.
        assert first_rotation.steps.get(name="revoke").status == "manual"
        assert _pip_download(minted_url, tmp_path / "minted").returncode == 0
        assert _pip_download(old_url, tmp_path / "pasted").returncode == 0

        second_rotation = rotate()  # revokes the PAT the first one minted, by its authorization id
    finally:
        worker.process.terminate()
        worker.process.wait(timeout=15)
        celery_app.conf.task_always_eager = True
    newest = TokenVersion.objects.get(pk=int(feed.current_token_id or 0))
    assert second_rotation.previous_revoked_at is not None and not ado.is_live_pat(minted.reveal())
    assert _pip_download(feed.credentialed_url(), tmp_path / "newest").returncode == 0
    refused = _pip_download(minted_url, tmp_path / "revoked")
    assert refused.returncode != 0 and "401" in refused.stdout + refused.stderr
    for secret in (first, minted.reveal(), newest.reveal(), ado.client_secret):
        assert secret not in worker.log()
