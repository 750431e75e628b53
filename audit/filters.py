"""Audit filters shared by the page and the API: action, actor, object_type, object_id, since, until."""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime

from audit.models import AuditEvent


def _parse_time(name: str, value: str) -> Any:
    try:
        parsed = parse_datetime(value)
    except ValueError:  # well formed but impossible, e.g. month 13
        parsed = None
    if parsed is None:
        raise ValidationError({name: f"Not an ISO 8601 date-time: {value[:40]!r}."})
    return parsed


def filter_events(qs: QuerySet[AuditEvent], params: Mapping[str, str]) -> QuerySet[AuditEvent]:
    if params.get("action"):
        qs = qs.filter(action=params["action"])
    if params.get("actor"):
        qs = qs.filter(actor_name=params["actor"])
    if params.get("object_type"):
        qs = qs.filter(object_type=params["object_type"])
    if params.get("object_id"):
        qs = qs.filter(object_id=params["object_id"])
    if params.get("since"):
        qs = qs.filter(at__gte=_parse_time("since", params["since"]))
    if params.get("until"):
        qs = qs.filter(at__lte=_parse_time("until", params["until"]))
    return qs
