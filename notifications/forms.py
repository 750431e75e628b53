"""Forms of the notification pages: validation of shape only; the services check the rest."""

from __future__ import annotations

from typing import Any

from django import forms

from feeds.models import Feed
from notifications.models import FEED_EVENTS, ChannelKind, Event
from targets.models import Target


class ChannelForm(forms.Form):
    """A channel. ``target`` is write-only: never rendered back; left blank on edit it keeps the stored one."""

    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=ChannelKind.choices)
    target = forms.CharField(
        label="Address(es) or webhook URL",
        required=False,
        max_length=2000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="E-mail: addresses separated by commas. Webhook, Slack, Teams: the incoming-webhook URL. "
        "Stored encrypted and never shown again.",
    )
    events = forms.MultipleChoiceField(
        choices=Event.choices, required=False, widget=forms.CheckboxSelectMultiple, help_text="What to tell."
    )
    feeds = forms.ModelMultipleChoiceField(
        queryset=Feed.objects.order_by("name"),
        required=False,
        help_text="Only events about these feeds (none chosen: every feed and target).",
    )
    targets = forms.ModelMultipleChoiceField(
        queryset=Target.objects.order_by("name"),
        required=False,
        help_text="Only events about these targets (none chosen: every feed and target).",
    )
    digest = forms.BooleanField(required=False, help_text="E-mail only: also send the daily digest.")

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editing = editing
        if editing:
            self.fields["target"].help_text = "Leave blank to keep the stored one. " + str(
                self.fields["target"].help_text
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.editing and not (data.get("target") or "").strip():
            self.add_error("target", "Enter the e-mail address(es) or the webhook URL.")
        return data


class SubscriptionForm(forms.Form):
    """A user's e-mail opt-in."""

    events = forms.MultipleChoiceField(
        choices=[(e.value, e.label) for e in FEED_EVENTS], required=False, widget=forms.CheckboxSelectMultiple
    )
    feeds = forms.ModelMultipleChoiceField(
        queryset=Feed.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The feeds you own: you hear about these.",
    )
    digest = forms.BooleanField(required=False, help_text="A daily e-mail about these feeds.")
