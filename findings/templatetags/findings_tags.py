"""Template helpers of findings: the count of open findings (the overview) and the latest scan of a target."""

from __future__ import annotations

from typing import Any

from django import template

from findings.models import Finding, ScanRun

register = template.Library()


@register.simple_tag
def open_findings_count(target: Any = None) -> int:
    """Open findings, of every target or of ``target``."""
    found = Finding.objects.open()
    return found.filter(target=target).count() if target is not None else found.count()


@register.simple_tag
def latest_scan(target: Any) -> ScanRun | None:
    return ScanRun.objects.filter(target=target).order_by("-created_at", "-id").first()
