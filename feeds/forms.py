"""Feed forms. They shape input; the services validate (asked from ``clean`` too, so every error shows at once)
and save."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from core.forms import apply_validation_error
from core.redaction import redact
from feeds import kinds, services
from feeds.models import Feed


class RedactedURLInput(forms.TextInput):
    """A URL input that never renders credentials back: a refused ``user:token@`` URL is shown as ``***@``."""

    def format_value(self, value: Any) -> str | None:
        formatted = super().format_value(value)
        return redact(formatted) if formatted else formatted


_DT_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

# The fields a kind needs beyond its name (the page marks them required while the kind is chosen).
REQUIRED_FOR: dict[str, list[str]] = {"index_url": ["generic"], "username": []}
for _kind in kinds.REGISTRY.values():
    for _part in _kind.required_parts:
        REQUIRED_FOR.setdefault(_part, []).append(_kind.key)
    if _kind.username_required:
        REQUIRED_FOR["username"].append(_kind.key)
REENTER_TOKEN = "Enter the token again: a token is never sent back to the page, so the field is empty after an error."


class NoTruncationMixin:
    """Length limits are checked on the server, which says so, instead of the browser's ``maxlength`` cutting a
    pasted value short without a word; after an error the token field says it must be entered again."""

    fields: dict[str, forms.Field]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.widget.attrs.pop("maxlength", None)
            if name in REQUIRED_FOR and not field.required:
                field.required_for = " ".join(REQUIRED_FOR[name])  # type: ignore[attr-defined]
            if field.help_text:
                field.widget.attrs.setdefault("aria-describedby", f"id_{name}_help")

    def full_clean(self) -> None:
        super().full_clean()  # type: ignore[misc]
        errors = getattr(self, "_errors", None)
        token = self.fields.get("token")
        if errors and token is not None and getattr(self, "data", {}).get("token"):
            token.help_text = REENTER_TOKEN
            self["token"].help_text = REENTER_TOKEN  # type: ignore[index]  # the bound field copied the old one

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean()  # type: ignore[misc]
        kind = cleaned.get("kind")
        spec = kinds.REGISTRY.get(kind or "")
        if spec is not None:
            for name, kinds_needing in REQUIRED_FOR.items():
                if kind in kinds_needing and name in self.fields and not cleaned.get(name):
                    message = (
                        "This kind of feed needs the username that owns the token."
                        if name == "username"
                        else "This field is required for this kind of feed."
                    )
                    self.add_error(name, message)  # type: ignore[attr-defined]
        return cleaned


class FeedDefinitionForm(NoTruncationMixin, forms.Form):
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


class TokenForm(NoTruncationMixin, forms.Form):
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


class ServiceCheckedMixin:
    """``clean`` also runs the service's checks (``feeds.services.feed_validate``: a taken name, a URL with
    credentials in it or on a refused host, the token again for a new host), so one submission shows every error:
    the form's own and the service's. The service checks again when it saves."""

    feed: Feed | None = None
    errors: Any
    cleaned_data: dict[str, Any]

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean()  # type: ignore[misc]
        values = {k: v for k, v in cleaned.items() if k not in self.errors}
        try:
            if self.feed is None:
                services.feed_validate(**values)
            else:
                token = values.pop("token", "")
                services.feed_validate(feed=self.feed, token_reentered=bool(token), **values)
        except ValidationError as exc:
            apply_validation_error(self, exc, only_new=True)  # type: ignore[arg-type]
        return cleaned


class FeedEditForm(ServiceCheckedMixin, FeedDefinitionForm):
    """A feed's definition, and its token again when the index moves to another host (optional otherwise)."""

    def __init__(self, *args: Any, feed: Feed | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.feed = feed

    token = forms.CharField(
        strip=False,
        max_length=4096,
        required=False,
        label="Token (again)",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Needed only when the index URL moves to another host: the stored token never follows it.",
    )


class FeedCreateForm(ServiceCheckedMixin, FeedDefinitionForm, TokenForm):
    """Everything a new feed needs: what it is (name, kind, where), then its token."""

    field_order = [*FeedDefinitionForm.base_fields, *TokenForm.base_fields]
