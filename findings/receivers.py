"""What findings does when targets tell it something (connected in ``FindingsConfig.ready``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def scan_after_health_check(sender: Any, target: Any, check: Any, **kwargs: Any) -> None:
    """After a health check nobody asked for by hand (the scheduled sweep), scan the target too, unless a scan of
    it is already waiting or running. ``FINDINGS_SCAN_AFTER_HEALTH`` turns this off."""
    from findings.services import scan_pending, target_scan_request

    if not settings.FINDINGS_SCAN_AFTER_HEALTH or check.requested_by_id is not None:
        return
    if not scan_pending(target):
        target_scan_request(actor="scheduler", target=target)
