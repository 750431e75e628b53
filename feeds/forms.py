"""Feed forms. They only shape input; the services validate and save."""

from typing import Any

from django import forms

from core.redaction import redact
from feeds import kinds


class RedactedURLInput(forms.TextInput):
    """A URL input that never renders credentials back: a refused ``user:token@`` URL is shown as ``***@``."""

    def format_value(self, value: Any) -> str | None:
        formatted = super().format_value(value)
        return redact(formatted) if formatted else formatted


_DT_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class FeedDefinitionForm(forms.Form):
    """Name, kind and where the index is. URL parts depend on the kind (shown/hidden by the page)."""

    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=kinds.CHOICES)
    organization = forms.CharField(max_length=200, required=False, help_text="Azure DevOps organization.")
    project = forms.CharField(
        max_length=200, required=False, help_text="Azure DevOps project (empty for an organization feed)."
    )
    feed_name = forms.CharField(max_length=200, required=False, label="Feed", help_text="Azure DevOps feed name.")
    base_url = forms.CharField(
        max_length=300,
        required=False,
        label="Base URL",
        widget=RedactedURLInput,
        help_text="For example https://acme.jfrog.io",
    )
    repository = forms.CharField(max_length=200, required=False, help_text="Artifactory repository key.")
    index_url = forms.CharField(
        max_length=500,
        required=False,
        label="Index URL",
        widget=RedactedURLInput,
        help_text="The simple index URL, without credentials, for example https://host/simple/",
    )
    username = forms.CharField(
        max_length=200,
        required=False,
        help_text="Placed before the token in the URL. Azure DevOps ignores it; JFrog needs the token's user.",
    )


class TokenForm(forms.Form):
    """A token and its expiry. The token field never renders a value back."""

    token = forms.CharField(
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted and never shown again.",
    )
    token_expires_at = forms.DateTimeField(
        required=False,
        widget=_DT_WIDGET,
        label="Token expires",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        help_text="Leave empty if unknown; Feedkeeper warns before a known expiry.",
    )


class FeedCreateForm(FeedDefinitionForm, TokenForm):
    """Everything a new feed needs."""
