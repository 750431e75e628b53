"""Connection forms, built from the provider's ``fields``. They only shape input; ``feeds.connections`` validates
and saves. Secret fields are password inputs that never render a value back."""

from __future__ import annotations

from typing import Any

from django import forms

from feeds.forms import RedactedURLInput
from feeds.models import Connection
from feeds.providers import choices
from feeds.providers.base import Provider

KEEP_SECRET = "Leave empty to keep the stored one."
STORED_SECRET = "Stored encrypted and never shown again."


class ConnectionKindForm(forms.Form):
    """The first step of a new connection: which provider."""

    kind = forms.ChoiceField(choices=choices, label="Kind")


class ConnectionForm(forms.Form):
    """Name, URL and the provider's own fields. On edit, an empty secret keeps the stored one."""

    name = forms.CharField(max_length=100)
    url = forms.CharField(max_length=300, label="URL", widget=RedactedURLInput)

    def __init__(self, *args: Any, provider: type[Provider], editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.provider = provider
        self.editing = editing
        self.fields["url"].help_text = provider.url_help
        for spec in provider.fields:
            if spec.secret:
                help_text = " ".join(filter(None, [spec.help, KEEP_SECRET if editing else "", STORED_SECRET]))
                self.fields[spec.name] = forms.CharField(
                    label=spec.label,
                    required=spec.required and not editing,
                    strip=False,
                    max_length=4096,
                    widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                    help_text=help_text,
                )
            else:
                self.fields[spec.name] = forms.CharField(
                    label=spec.label, required=spec.required, max_length=100, help_text=spec.help
                )

    def service_values(self) -> dict[str, Any]:
        """The values for ``connection_create`` / ``connection_update``: an empty secret is left out (kept)."""
        values: dict[str, Any] = {"name": self.cleaned_data["name"], "url": self.cleaned_data["url"]}
        for spec in self.provider.fields:
            value = self.cleaned_data.get(spec.name) or ""
            if spec.secret and not value:
                continue
            values[spec.name] = value
        return values


def connection_initial(connection: Connection, provider: type[Provider]) -> dict[str, Any]:
    """What the edit form shows: never a secret."""
    initial: dict[str, Any] = {"name": connection.name, "url": connection.url}
    for spec in provider.fields:
        if not spec.secret:
            initial[spec.name] = getattr(connection, spec.name, "")
    return initial
