"""Filters of the feeds and feed-checks listings (API query parameters; invalid values answer 400)."""

from __future__ import annotations

import django_filters

from core.models import RunState
from feeds import kinds
from feeds.models import CheckStatus, Feed, FeedCheck


class FeedFilter(django_filters.FilterSet):
    """``kind`` (exact) and ``name`` (exact, any case)."""

    kind = django_filters.ChoiceFilter(choices=kinds.CHOICES, help_text="The kind of feed.")
    name = django_filters.CharFilter(lookup_expr="iexact", help_text="The feed's name, in any case.")

    class Meta:
        model = Feed
        fields = ["kind", "name"]


class FeedCheckFilter(django_filters.FilterSet):
    """``feed`` (its id) and ``status`` (pending, running, or a final status)."""

    feed = django_filters.ModelChoiceFilter(queryset=Feed.objects.all(), help_text="The feed's id.")
    status = django_filters.ChoiceFilter(choices=[*RunState.choices, *CheckStatus.choices], help_text="The status.")

    class Meta:
        model = FeedCheck
        fields = ["feed", "status"]
