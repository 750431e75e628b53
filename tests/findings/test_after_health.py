"""A scan follows every health check nobody asked for by hand (the scheduled sweep), once per target at a time,
and can be turned off."""

from __future__ import annotations

from typing import Any

from django.test import override_settings

from findings.models import Finding, ScanRun
from simulators.databricks import DatabricksSimulator
from targets import checks
from targets.models import Target
from tests.findings.conftest import url


def sweep(target: Target) -> None:
    check = checks.target_check_request(actor="scheduler", target=target)
    checks.target_check_run(check_id=check.pk)


@override_settings(FINDINGS_SCAN_AFTER_HEALTH=True)
def test_the_scheduled_sweep_scans_each_target_after_its_health_check(
    db: None,
    django_capture_on_commit_callbacks: Any,
    feed: Any,
    token: str,
    workspace: Target,
    databricks: DatabricksSimulator,
) -> None:
    databricks.workspace(0).add_cluster(cluster_id="c-1", spark_env_vars={"PIP_INDEX_URL": url(token)})
    ScanRun.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        sweep(workspace)
    scan = ScanRun.objects.get(target=workspace)
    assert scan.requested_by is None and scan.status == "ok"
    assert Finding.objects.filter(target=workspace).count() == 1


@override_settings(FINDINGS_SCAN_AFTER_HEALTH=True)
def test_a_check_asked_for_by_a_user_or_a_scan_already_waiting_adds_no_scan(
    db: None, admin: Any, workspace: Target
) -> None:
    ScanRun.objects.all().delete()
    check = checks.target_check_request(actor=admin, target=workspace)
    checks.target_check_run(check_id=check.pk)
    assert not ScanRun.objects.exists()
    sweep(workspace)
    sweep(workspace)  # the first scan is still pending (its task runs on commit)
    assert ScanRun.objects.filter(target=workspace).count() == 1


@override_settings(FINDINGS_SCAN_AFTER_HEALTH=False)
def test_the_setting_turns_the_scan_after_the_sweep_off(db: None, workspace: Target) -> None:
    ScanRun.objects.all().delete()
    sweep(workspace)
    assert not ScanRun.objects.exists()
