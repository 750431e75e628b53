"""Forms of the finding page: ignore (a reason) and replace with a managed delivery (feed, and the secret scope
and key on Databricks; consent for a running cluster)."""

from __future__ import annotations

from typing import Any

from django import forms

from feeds.models import Feed
from findings.models import Finding
from findings.services import MAX_REASON, Replacement


class IgnoreForm(forms.Form):
    reason = forms.CharField(
        max_length=MAX_REASON,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why this is not a problem (for example: a test index without real packages).",
    )


class ReplaceForm(forms.Form):
    feed = forms.ModelChoiceField(
        queryset=Feed.objects.filter(current_token__isnull=False).order_by("name"),
        help_text="The feed whose managed URL takes the place of the pasted one.",
    )
    scope = forms.CharField(max_length=128, required=False, label="Secret scope", help_text="Created if missing.")
    key = forms.CharField(max_length=128, required=False, label="Secret key")
    restart_consent = forms.BooleanField(
        required=False,
        label="Restart the cluster now if it is running",
        help_text="Editing a running cluster restarts it; without this it is re-pointed at its next restart.",
    )

    def __init__(self, *args: Any, finding: Finding, replacement: Replacement, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("feed", finding.feed_id)
        if "scope" in replacement.needs:
            name = (finding.feed.name if finding.feed else "feed").lower()
            kwargs["initial"].setdefault("scope", "feedkeeper")
            kwargs["initial"].setdefault("key", "".join(c if c.isalnum() or c in "-_." else "-" for c in name))
        super().__init__(*args, **kwargs)
        if "scope" in replacement.needs:
            self.fields["scope"].required = self.fields["key"].required = True
        else:
            for name in ("scope", "key", "restart_consent"):
                del self.fields[name]
