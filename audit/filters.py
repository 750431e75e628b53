"""One set of audit filters, shared by the page, the API and the OpenAPI schema: ``action``, ``actor``,
``object_type`` (a choice of the types that exist), ``object_id``, ``outcome``, ``since``, ``until`` and ``q``
(text search over the action, actor, object and detail)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.models import AuditEvent
from audit.triggers import search_sql

FILTER_NAMES = ("action", "actor", "object_type", "object_id", "outcome", "since", "until", "q")
# Object types every installation has or will have; the choice list adds whatever else the history holds.
KNOWN_OBJECT_TYPES = (
    "api_token",
    "audit",
    "connection",
    "delivery",
    "encryption",
    "feed",
    "group",
    "request",
    "rotation",
    "target",
    "user",
)
SEARCH_MIN_LENGTH = 3


def distinct_values(column: str, using: str = "default") -> list[str]:
    """The distinct values of an indexed column, found by skipping through its index (a recursive query: one
    index probe per value, fast at any table size, where ``SELECT DISTINCT`` reads the whole index)."""
    if column not in ("action", "object_type", "actor_name"):
        raise ValueError(column)
    first = f"SELECT MIN({column}) FROM audit_auditevent"  # noqa: S608
    after = f"(SELECT MIN({column}) FROM audit_auditevent WHERE {column} > t.v)"  # noqa: S608
    sql = f"WITH RECURSIVE t(v) AS ({first} UNION ALL SELECT {after} FROM t WHERE t.v IS NOT NULL)"  # noqa: S608
    sql += " SELECT v FROM t WHERE v IS NOT NULL"
    with connections[using].cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


def object_type_choices() -> list[tuple[str, str]]:
    names = sorted(set(KNOWN_OBJECT_TYPES) | set(distinct_values("object_type")))
    return [(n, n.replace("_", " ")) for n in names if n]


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


def search(queryset: QuerySet[AuditEvent], value: str) -> QuerySet[AuditEvent]:
    """Events whose action, actor, object or detail contains ``value`` (case-insensitive). On PostgreSQL a
    trigram index over the same expression answers it."""
    vendor = connections[queryset.db].vendor
    pattern = "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    operator = "ILIKE" if vendor == "postgresql" else "LIKE"
    sql = f"{search_sql(vendor, table='audit_auditevent')} {operator} %s ESCAPE '\\'"
    # The SQL is fixed text; the value is a parameter.
    return queryset.filter(RawSQL(sql, [pattern], output_field=BooleanField()))  # noqa: S611


class AuditEventFilter(django_filters.FilterSet):
    """Exact matches on ``action``, ``actor`` (the name recorded), ``object_type``, ``object_id`` and ``outcome``;
    ``since`` and ``until`` bound the time, both inclusive; ``q`` searches text (at least 3 characters)."""

    action = django_filters.CharFilter(help_text="The action, e.g. feed.create.")
    actor = django_filters.CharFilter(field_name="actor_name", help_text="The actor's name as recorded.")
    object_type = django_filters.ChoiceFilter(
        choices=[(n, n.replace("_", " ")) for n in KNOWN_OBJECT_TYPES],
        help_text="The kind of object, e.g. feed, target, delivery, rotation, user.",
    )
    object_id = django_filters.CharFilter(help_text="The object's id (with object_type).")
    outcome = django_filters.ChoiceFilter(choices=AuditEvent.Outcome.choices, help_text="The outcome.")
    since = IsoDateTimeFilter(field_name="at", lookup_expr="gte", help_text="At or after this ISO 8601 time.")
    until = IsoDateTimeFilter(field_name="at", lookup_expr="lte", help_text="At or before this ISO 8601 time.")
    q = django_filters.CharFilter(
        method="filter_q",
        min_length=SEARCH_MIN_LENGTH,
        max_length=200,
        help_text="Text search in the action, actor, object and detail (at least 3 characters).",
    )

    class Meta:
        model = AuditEvent
        fields = list(FILTER_NAMES)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The choice list is what the history holds (the schema shows the types every installation has).
        object_type = self.filters["object_type"]
        object_type.extra["choices"] = object_type_choices()
        # A form field built earlier (the schema generator builds the class's own) would keep its old choices.
        object_type.__dict__.pop("_field", None)

    def filter_q(self, queryset: QuerySet[AuditEvent], name: str, value: str) -> QuerySet[AuditEvent]:
        return search(queryset, value) if value else queryset

    @property
    def is_filtered(self) -> bool:
        """True when any filter has a value (a filtered set is counted exactly up to a bound)."""
        data = getattr(self.form, "cleaned_data", {}) or {}
        return any(data.get(name) not in (None, "") for name in FILTER_NAMES)
