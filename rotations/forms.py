"""Rotation forms and the list's filters. They only shape input; the services validate and act."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms

from core.forms import IdInput
from feeds.forms import TokenForm
from feeds.models import Connection, Feed
from feeds.providers import REGISTRY
from feeds.services import ROTATION_BOUNDS
from rotations.models import Rotation, Status
from targets.models import Target


class RotationListFilter(django_filters.FilterSet):
    """``feed`` (id), ``target`` (id: its own credential's rotations) and ``status`` of the rotations page."""

    # Ids typed or linked, not a <select> of every feed and target (see core.forms.IdInput).
    feed = django_filters.ModelChoiceFilter(queryset=Feed.objects.all(), widget=IdInput({"placeholder": "Feed id"}))
    target = django_filters.ModelChoiceFilter(
        queryset=Target.objects.all(), widget=IdInput({"placeholder": "Target id (its credential)"})
    )
    status = django_filters.ChoiceFilter(choices=Status.choices, empty_label="Any status")

    class Meta:
        model = Rotation
        fields = ["feed", "target", "status"]


class RotateForm(TokenForm):
    """Start a rotation. A feed without a rotation connection needs the new token pasted (and its expiry, when
    known); a feed with one has its token minted, so the form carries no fields."""

    def __init__(self, *args: Any, feed: Feed, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.feed = feed
        if feed.rotation_connection_id is not None:
            del self.fields["token"]
            del self.fields["token_expires_at"]
        else:
            self.fields["token"].label = "New token"
            self.fields[
                "token"
            ].help_text = "The token that replaces the current one. Stored encrypted and never shown again."

    def service_values(self) -> dict[str, Any]:
        return {
            "token": self.cleaned_data.get("token") or None,
            "token_expires_at": self.cleaned_data.get("token_expires_at"),
        }


class LeakedForm(RotateForm):
    """The emergency rotation: the same token fields, and the feed's exact name typed to confirm."""

    confirm_name = forms.CharField(
        max_length=100,
        label="Feed name",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text="Type the feed's name exactly to confirm.",
    )

    def __init__(self, *args: Any, feed: Feed, **kwargs: Any) -> None:
        super().__init__(*args, feed=feed, **kwargs)
        # The confirmation comes first, the token (if any) after it.
        self.order_fields(["confirm_name", "token", "token_expires_at"])

    def clean_confirm_name(self) -> str:
        typed: str = self.cleaned_data["confirm_name"]
        if typed != self.feed.name:
            raise forms.ValidationError("This is not the feed's name: type it exactly to confirm the leak.")
        return typed


def _bounded(low: int, high: int, **kwargs: Any) -> forms.IntegerField:
    # The service checks the bounds; the attributes only help the browser.
    return forms.IntegerField(widget=forms.NumberInput(attrs={"min": low, "max": high}), **kwargs)


def connection_choices(feed: Feed) -> list[tuple[str, str]]:
    """``("", "none")`` and every connection whose provider can mint tokens of the feed's kind."""
    choices = [("", "None: an admin pastes the new token")]
    for connection in Connection.objects.order_by("name"):
        provider = REGISTRY.get(connection.kind)
        if provider is not None and feed.kind in provider.feed_kinds:
            choices.append((str(connection.pk), f"{connection.name} ({connection.get_kind_display()})"))
    return choices


class RotationSettingsForm(forms.Form):
    """The five rotation settings of a feed (``feeds.services.feed_update`` validates them)."""

    rotation_connection = forms.ChoiceField(
        required=False,
        label="Rotation connection",
        help_text="Who mints the next token. Only connections that can mint this kind of feed's tokens are listed.",
    )
    rotation_interval_days = _bounded(
        *ROTATION_BOUNDS["rotation_interval_days"],
        required=False,
        label="Rotate every (days)",
        help_text="Rotate this often even if the token does not expire. Empty: only before it expires.",
    )
    rotation_lead_days = _bounded(
        *ROTATION_BOUNDS["rotation_lead_days"],
        label="Lead (days)",
        help_text="Start a scheduled rotation this many days before the token expires.",
    )
    rotation_grace_hours = _bounded(
        *ROTATION_BOUNDS["rotation_grace_hours"],
        label="Grace (hours)",
        help_text="Keep the previous token valid this long after the new one is current everywhere.",
    )
    token_lifetime_days = _bounded(
        *ROTATION_BOUNDS["token_lifetime_days"],
        label="Token lifetime (days)",
        help_text="Lifetime of a minted token.",
    )

    def __init__(self, *args: Any, feed: Feed, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.feed = feed
        field = self.fields["rotation_connection"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = connection_choices(feed)

    def service_values(self) -> dict[str, Any]:
        values = dict(self.cleaned_data)
        values["rotation_connection"] = int(values["rotation_connection"]) if values["rotation_connection"] else None
        return values


def settings_initial(feed: Feed) -> dict[str, Any]:
    return {
        "rotation_connection": str(feed.rotation_connection_id or ""),
        "rotation_interval_days": feed.rotation_interval_days,
        "rotation_lead_days": feed.rotation_lead_days,
        "rotation_grace_hours": feed.rotation_grace_hours,
        "token_lifetime_days": feed.token_lifetime_days,
    }
