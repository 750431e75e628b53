"""Filters of the deliveries, pushes and target-checks listings, for the API (query parameters; invalid values
answer 400) and the deliveries page (the filter set's form)."""

from __future__ import annotations

import django_filters

from core.forms import IdInput
from core.models import RunState
from feeds.models import Feed
from targets.adapters import REGISTRY
from targets.health import Health
from targets.models import Delivery, DeliveryStatus, Push, PushStatus, Target, TargetCheck


def mode_choices() -> list[tuple[str, str]]:
    """Every platform's delivery modes (a key two platforms share appears once)."""
    seen: dict[str, str] = {}
    for cls in REGISTRY.values():
        for key, spec in cls.modes.items():
            seen.setdefault(key, spec.label)
    return list(seen.items())


class DeliveryFilter(django_filters.FilterSet):
    """``status``, ``target``, ``feed`` (ids) and ``mode``."""

    status = django_filters.ChoiceFilter(
        choices=DeliveryStatus.choices, empty_label="Any status", help_text="The delivery's status."
    )
    # Ids typed or linked, not a <select> of every target and feed (see core.forms.IdInput).
    target = django_filters.ModelChoiceFilter(
        queryset=Target.objects.all(), widget=IdInput({"placeholder": "Target id"}), help_text="The target's id."
    )
    feed = django_filters.ModelChoiceFilter(
        queryset=Feed.objects.all(), widget=IdInput({"placeholder": "Feed id"}), help_text="The feed's id."
    )
    mode = django_filters.ChoiceFilter(choices=mode_choices, empty_label="Any mode", help_text="The delivery mode.")

    class Meta:
        model = Delivery
        fields = ["status", "target", "feed", "mode"]


class PushFilter(django_filters.FilterSet):
    """``delivery``, ``target`` (ids) and ``status``."""

    delivery = django_filters.ModelChoiceFilter(queryset=Delivery.objects.all(), help_text="The delivery's id.")
    target = django_filters.ModelChoiceFilter(queryset=Target.objects.all(), help_text="The target's id.")
    status = django_filters.ChoiceFilter(choices=PushStatus.choices, help_text="The push's status.")

    class Meta:
        model = Push
        fields = ["delivery", "target", "status"]


TARGET_CHECK_STATUSES = [*RunState.choices, *((v, label) for v, label in Health.choices if v != Health.UNKNOWN)]


class TargetCheckFilter(django_filters.FilterSet):
    """``target`` (its id) and ``status`` (pending, running, ok, warning or failing)."""

    target = django_filters.ModelChoiceFilter(queryset=Target.objects.all(), help_text="The target's id.")
    status = django_filters.ChoiceFilter(choices=TARGET_CHECK_STATUSES, help_text="The check's status.")

    class Meta:
        model = TargetCheck
        fields = ["target", "status"]
