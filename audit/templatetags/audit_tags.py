"""Showing audit values as a person reads them: no ``None`` or ``[]`` dumps, times with their zone, objects as
links to their pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.dateparse import parse_datetime

register = template.Library()

# object_type -> URL name of its detail page
OBJECT_PAGES = {
    "feed": "feeds:detail",
    "connection": "feeds:connection-detail",
    "target": "targets:detail",
    "delivery": "targets:delivery-detail",
    "rotation": "rotations:detail",
}
TIME_FORMAT = "Y-m-d H:i:s T"
# Words a label spells differently from its key.
LABELS = {"ip": "IP address", "http_status": "HTTP status", "index_url": "Index URL", "url": "URL", "id": "ID"}


def _time(value: datetime) -> str:
    return date_format(timezone.localtime(value) if timezone.is_aware(value) else value, TIME_FORMAT)


@register.filter
def when(value: datetime | None) -> str:
    """A time in the dashboard's zone, with the zone named."""
    return _time(value) if value else "—"


@register.filter
def human(value: Any) -> str:
    """A detail value as text: nothing is "—", an empty list "none", lists joined, booleans yes/no, ISO times
    formatted with their zone."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(human(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return "; ".join(f"{label(k)}: {human(v)}" for k, v in value.items()) if value else "none"
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
        parsed = parse_datetime(value)
        if parsed is not None:
            return _time(parsed)
    return str(value)


@register.filter
def label(key: Any) -> str:
    """A detail key as a label: ``remote_ts`` → "Remote ts"."""
    if str(key) in LABELS:
        return LABELS[str(key)]
    text = str(key).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


@register.filter
def changes(detail: Any) -> list[tuple[str, str, str]]:
    """``detail["changed"]`` as rows ``(field, before, after)``; a value not recorded (a secret) shows as
    "changed"."""
    changed = detail.get("changed") if isinstance(detail, dict) else None
    if not isinstance(changed, dict):
        return []
    rows = []
    for field, value in changed.items():
        if isinstance(value, list | tuple) and len(value) == 2:
            rows.append((label(field), human(value[0]), human(value[1])))
        else:
            rows.append((label(field), "(not recorded)", human(value)))
    return rows


@register.filter
def other_detail(detail: Any) -> list[tuple[str, str]]:
    """The detail's entries other than ``changed``, as ``(label, text)``."""
    if not isinstance(detail, dict):
        return []
    return [(label(k), human(v)) for k, v in detail.items() if k != "changed"]


@register.simple_tag
def object_url(event: Any) -> str:
    """The page of the event's object, or "" when it has none (or no longer resolves)."""
    name = OBJECT_PAGES.get(event.object_type)
    if not name or not str(event.object_id).isdigit():
        return ""
    try:
        return reverse(name, args=[int(event.object_id)])
    except NoReverseMatch:
        return ""


@register.simple_tag
def history_url(object_type: str, object_id: Any) -> str:
    """The audit history of one object."""
    return f"{reverse('audit:list')}?object_type={object_type}&object_id={object_id}"
