"""Findings tasks: thin, id-only wrappers around one service each. No value found is ever an argument or a
result."""

from celery import shared_task

from findings import services


@shared_task(name="findings.run_scan", acks_late=True, ignore_result=True)
def run_scan(scan_id: int) -> None:
    services.target_scan_run(scan_id=scan_id)


@shared_task(name="findings.reconcile_scans", ignore_result=True)
def reconcile_scans() -> None:
    services.scans_reconcile()


@shared_task(name="findings.remove_plaintext", ignore_result=True)
def remove_plaintext(finding_id: int, user_id: int | None) -> None:
    services.finding_remove_plaintext_run(finding_id=finding_id, user_id=user_id)
