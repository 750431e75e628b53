"""The one filter set of findings, shared by the findings page (its form) and the API (query parameters; an
invalid value answers 400)."""

from __future__ import annotations

import django_filters

from core.forms import IdInput
from feeds.models import Feed
from findings.models import Finding, FindingStatus, TokenMatch
from targets.models import Target


class FindingFilter(django_filters.FilterSet):
    """``target``, ``feed`` (ids), ``status`` and ``token_match``."""

    # Ids typed or linked, not a <select> of every target and feed (see core.forms.IdInput).
    target = django_filters.ModelChoiceFilter(
        queryset=Target.objects.all(), widget=IdInput({"placeholder": "Target id"}), help_text="The target's id."
    )
    feed = django_filters.ModelChoiceFilter(
        queryset=Feed.objects.all(), widget=IdInput({"placeholder": "Feed id"}), help_text="The matched feed's id."
    )
    status = django_filters.ChoiceFilter(
        choices=FindingStatus.choices, empty_label="Any status", help_text="open, resolved or ignored."
    )
    token_match = django_filters.ChoiceFilter(
        choices=TokenMatch.choices, empty_label="Any token", help_text="current, previous or unknown."
    )

    class Meta:
        model = Finding
        fields = ["target", "feed", "status", "token_match"]
