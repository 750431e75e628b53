"""Audit filters shared by the page and the API: action, actor, object_type, object_id, since, until."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.models import AuditEvent


class IsoDateTimeField(forms.Field):
    """An ISO 8601 date-time (a date alone means its midnight); a naive one is in the current time zone. The
    error names the value it refuses."""

    def to_python(self, value: Any) -> datetime | None:
        if value in self.empty_values:
            return None
        text = str(value).strip()
        try:
            parsed = parse_datetime(text)
        except ValueError:  # well formed but impossible, e.g. month 13
            parsed = None
        if parsed is None:
            raise ValidationError(f"Not an ISO 8601 date-time: {text[:40]!r}.", code="invalid")
        return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = IsoDateTimeField


class AuditEventFilter(django_filters.FilterSet):
    """Exact matches on ``action``, ``actor`` (the name recorded), ``object_type`` and ``object_id``; ``since`` and
    ``until`` bound the time, both inclusive."""

    action = django_filters.CharFilter(help_text="The action, e.g. feed.create.")
    actor = django_filters.CharFilter(field_name="actor_name", help_text="The actor's name as recorded.")
    object_type = django_filters.CharFilter(help_text="The kind of object, e.g. feed, target, api_token.")
    object_id = django_filters.CharFilter(help_text="The object's id (with object_type).")
    since = IsoDateTimeFilter(field_name="at", lookup_expr="gte", help_text="At or after this ISO 8601 time.")
    until = IsoDateTimeFilter(field_name="at", lookup_expr="lte", help_text="At or before this ISO 8601 time.")

    class Meta:
        model = AuditEvent
        fields = ["action", "actor", "object_type", "object_id", "since", "until"]
