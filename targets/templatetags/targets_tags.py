"""Template helpers for the targets pages and the overview's targets-health summary."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.redaction import redact
from targets import queries
from targets.adapters import REGISTRY
from targets.models import Target

register = template.Library()

SUMMARY_ORDER = ("delivered", "stale", "failed", "pushing", "pending")
INFO_LABELS = {"workspace_id": "Workspace id", "organization_id": "Organization id", "projects": "Projects"}
# Credentials caches are never shown; projects get their own list; the organization name is a property.
HIDDEN_INFO = {"oauth", "projects", "organization"}


@register.filter
def ago(value: datetime | None, empty: str = "never") -> SafeString:
    """``<time title="exact date">3 minutes ago</time>``; ``empty`` when there is no time."""
    if not value:
        return format_html('<span class="muted">{}</span>', empty)
    local = timezone.localtime(value)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        value.isoformat(),
        local.strftime("%Y-%m-%d %H:%M:%S %Z"),
        naturaltime(value),
    )


@register.filter
def redacted(text: str | None) -> str:
    """Redact again on the way out: errors are stored redacted, this is the second belt."""
    return redact(text or "")


@register.filter
def delivery_summary(target: Target) -> str:
    """``"3 delivered · 1 stale · 1 failed"`` from the ``n_<status>`` annotations of ``with_delivery_counts``."""
    parts = [f"{getattr(target, f'n_{s}', 0)} {s}" for s in SUMMARY_ORDER if getattr(target, f"n_{s}", 0)]
    return " · ".join(parts)


@register.filter
def mode_label(mode: str, kind: str) -> str:
    """The adapter's label of a delivery mode, marked when experimental."""
    cls = REGISTRY.get(kind)
    spec = cls.modes.get(mode) if cls else None
    if spec is None:
        return mode
    return f"{spec.label} (experimental)" if spec.experimental else spec.label


@register.filter
def is_experimental(mode: str, kind: str) -> bool:
    cls = REGISTRY.get(kind)
    spec = cls.modes.get(mode) if cls else None
    return bool(spec and spec.experimental)


def _show(value: Any) -> str:
    if isinstance(value, list):
        names = [str(v.get("name") or v.get("id")) if isinstance(v, dict) else str(v) for v in value]
        shown = ", ".join(names[:20])
        return f"{len(names)}: {shown}{' …' if len(names) > 20 else ''}" if names else "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in list(value.items())[:10])
    return str(value)


@register.filter
def target_info(target: Target) -> list[tuple[str, str]]:
    """What the adapter resolved about the target, as (label, value) rows; never credentials. Projects are
    listed by ``target_projects``."""
    rows = []
    for key, value in (target.info or {}).items():
        if key in HIDDEN_INFO or value in (None, "", [], {}):
            continue
        rows.append((INFO_LABELS.get(key, key.replace("_", " ").capitalize()), redact(_show(value))))
    return rows


@register.filter
def target_settings(target: Target) -> list[tuple[str, Any]]:
    """The target's platform-specific settings as its adapter presents them: (label, value) rows."""
    cls = REGISTRY.get(target.kind)
    return list(cls.target_rows(target)) if cls else []


@register.filter
def target_projects(target: Target) -> list[dict[str, str]]:
    """The projects the adapter resolved (``[{"id", "name"}]``), for the detail page and the delivery form."""
    projects = (target.info or {}).get("projects") or []
    return [{"id": str(p.get("id", "")), "name": str(p.get("name", ""))} for p in projects if isinstance(p, dict)]


@register.simple_tag
def targets_health() -> dict[str, Any]:
    """For the overview: every target with its health, and how many need attention."""
    return queries.targets_health()


@register.filter
def auth_label(auth_type: str, kind: str = "") -> str:
    """The label an adapter gives an auth type (``pat`` → "Personal access token")."""
    for k, cls in REGISTRY.items():
        if kind and k != kind:
            continue
        for spec in cls.auth:
            if spec.key == auth_type:
                return spec.label
    return auth_type


@register.filter
def rotates_credential(target: Target) -> bool:
    """Whether the target can mint its own next credential (a Databricks PAT)."""
    cls = REGISTRY.get(target.kind)
    return bool(cls and cls.rotates_credential(target.auth_type))
