"""Filters of the channel and notification listings, shared by the pages and the API (invalid values answer 400)."""

from __future__ import annotations

import django_filters

from notifications.models import RECORD_EVENTS, Channel, ChannelKind, Notification, NotificationStatus


class ChannelFilter(django_filters.FilterSet):
    """``kind`` (exact)."""

    kind = django_filters.ChoiceFilter(choices=ChannelKind.choices, help_text="The kind of channel.")

    class Meta:
        model = Channel
        fields = ["kind"]


class NotificationFilter(django_filters.FilterSet):
    """``channel`` (its id), ``event``, ``status`` and ``object_type``."""

    channel = django_filters.ModelChoiceFilter(queryset=Channel.objects.all(), help_text="The channel's id.")
    event = django_filters.ChoiceFilter(choices=RECORD_EVENTS, help_text="The event.")
    status = django_filters.ChoiceFilter(choices=NotificationStatus.choices, help_text="pending, sent or failed.")
    object_type = django_filters.CharFilter(help_text="What the notification is about: feed, target, delivery, ...")

    class Meta:
        model = Notification
        fields = ["channel", "event", "status", "object_type"]
