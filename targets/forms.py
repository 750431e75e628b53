"""Target, delivery and push forms. They shape input (split id lists, offer the adapter's choices); the services
validate (the target form asks them from ``clean`` too, so every error shows at once) and save. Fields a kind or
mode does not use are hidden (and disabled) by ``static/js/app.js`` from the ``data-spec`` the form carries; the
server refuses them if they arrive anyway."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.forms import apply_validation_error
from feeds.forms import RedactedURLInput
from feeds.models import Feed
from targets import services
from targets.adapters import REGISTRY, FieldSpec, all_fields, kind_choices, secret_inputs
from targets.models import Target

COMMON_TARGET_FIELDS = ["kind", "name", "url", "auth_type", "max_concurrency"]

_SPLIT = re.compile(r"[\s,]+")


def _secret_widget() -> forms.PasswordInput:
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})


def _auth_choices() -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for cls in REGISTRY.values():
        for auth in cls.auth:
            seen.setdefault(auth.key, auth.label)
    return list(seen.items())


def target_spec() -> dict[str, Any]:
    """What the page's script needs to show only the fields a kind and auth type use."""
    kinds = {}
    auth: dict[str, list[str]] = {}
    for kind, cls in REGISTRY.items():
        in_auth = {name for a in cls.auth for name in a.fields}
        kinds[kind] = {
            "auth_types": list(cls.auth_types),
            "default_url": cls.default_url,
            "fields": COMMON_TARGET_FIELDS + [f.name for f in cls.target_fields() if f.name not in in_auth],
        }
        for a in cls.auth:
            auth.setdefault(a.key, [a.secret, *a.fields])
    return {"kinds": kinds, "auth": auth}


def split_ids(value: str) -> list[str]:
    """``"a, b c"`` -> ``["a", "b", "c"]`` (order kept, duplicates dropped)."""
    out: list[str] = []
    for part in _SPLIT.split(value or ""):
        if part and part not in out:
            out.append(part)
    return out


def _setting_field(spec: FieldSpec) -> forms.Field:
    """A form field for an adapter's setting; id lists are typed as text separated by commas or spaces."""
    if spec.many:
        return forms.CharField(
            max_length=spec.max_items * (spec.max_length + 2), required=False, label=spec.label, help_text=spec.help
        )
    widget = forms.Textarea(attrs={"rows": 6}) if spec.multiline else None
    return forms.CharField(
        max_length=spec.max_length, required=False, label=spec.label, help_text=spec.help, widget=widget
    )


class TargetForm(forms.Form):
    """A target's definition and credential, with every platform's settings (the page's script shows those of
    the chosen kind and auth type). Credentials are write-only: never rendered back."""

    kind = forms.ChoiceField(choices=kind_choices, help_text="The platform Feedkeeper delivers to.")
    name = forms.CharField(max_length=100)
    url = forms.CharField(max_length=300, required=False, label="URL", widget=RedactedURLInput)
    auth_type = forms.ChoiceField(choices=_auth_choices, label="Authentication")
    max_concurrency = forms.IntegerField(
        min_value=1,
        max_value=64,
        initial=4,
        label="Max concurrency",
        help_text="At most this many pushes run against this target at once.",
    )
    credential_expires_at = forms.DateTimeField(
        required=False,
        label="Credential expires",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="When the credential stops working, if you know. Where the platform tells (a Databricks PAT "
        "Feedkeeper can identify, a GitHub token), its date replaces this.",
    )
    credential_rotation_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=365,
        label="Rotate the credential every (days)",
        help_text="Databricks personal access tokens only: the target mints its next token itself, switches to it "
        "and deletes the old one. Empty: never.",
    )
    credential_lifetime_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=730,
        initial=90,
        label="New credentials live (days)",
        help_text="The lifetime of each token the target mints for itself.",
    )

    def __init__(self, *args: Any, target: Target | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.target = target
        self.spec = json.dumps(target_spec())
        self.fields["url"].help_text = " ".join(f"{cls.label}: {cls.url_help}" for cls in REGISTRY.values())
        self._many = set()
        for spec in all_fields("target").values():
            self.fields[spec.name] = _setting_field(spec)
            if spec.many:
                self._many.add(spec.name)
        for name, auth in secret_inputs().items():
            keep = "Stored encrypted, never shown again."
            if target is not None:
                keep = f"Leave empty to keep the current credential ({target.credential_fingerprint})."
            self.fields[name] = forms.CharField(
                strip=False,
                max_length=4096,
                required=False,
                widget=_secret_widget(),
                label=auth.secret_label,
                help_text=f"{auth.secret_help} {keep}".strip(),
            )
        if target is not None:
            # The kind of a target never changes; the credential is kept unless a new one is given.
            del self.fields["kind"]

    def service_values(self, cleaned: dict[str, Any] | None = None) -> dict[str, Any]:
        data = dict(self.cleaned_data if cleaned is None else cleaned)
        data["max_concurrency"] = data.get("max_concurrency") or 4
        for name in self._many:
            if name in data:
                data[name] = split_ids(data.get(name) or "")
        return data

    def clean(self) -> dict[str, Any]:
        """The service's checks too (``targets.services.target_validate``: a taken name, a URL with credentials in
        it or on a refused host, the credential again for a new address), so one submission shows every error. The
        service checks again when it saves."""
        cleaned: dict[str, Any] = super().clean() or self.cleaned_data
        values = self.service_values({k: v for k, v in cleaned.items() if k not in self.errors})
        try:
            services.target_validate(target=self.target, **values)
        except ValidationError as exc:
            apply_validation_error(self, exc, only_new=True)
        return cleaned


def target_initial(target: Target) -> dict[str, Any]:
    """A target's settings as the form shows them (id lists joined)."""
    initial: dict[str, Any] = {f: getattr(target, f) for f in COMMON_TARGET_FIELDS if f != "kind"}
    initial["credential_expires_at"] = (
        timezone.localtime(target.credential_expires_at).strftime("%Y-%m-%dT%H:%M")
        if target.credential_expires_at
        else None
    )
    initial["credential_rotation_days"] = target.credential_rotation_days
    initial["credential_lifetime_days"] = target.credential_lifetime_days
    for name, value in (target.config or {}).items():
        initial[name] = ", ".join(value) if isinstance(value, list) else value
    return initial


def _mode_choices(cls: Any) -> list[tuple[str, str]]:
    return [
        (key, f"{spec.label} (experimental)" if spec.experimental else spec.label) for key, spec in cls.modes.items()
    ]


class DeliveryForm(forms.Form):
    """Where a feed goes in a target: a mode from the target's adapter and the settings that mode uses."""

    feed = forms.ModelChoiceField(queryset=Feed.objects.order_by("name"), empty_label=None)
    mode = forms.ChoiceField(choices=())
    role = forms.ChoiceField(
        choices=[("index", "index (--index-url)"), ("extra", "extra (--extra-index-url)")],
        initial="index",
        required=False,
        help_text="Whether pip uses the feed as its index or as an extra index.",
    )

    def __init__(self, *args: Any, target: Target, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cls = REGISTRY.get(target.kind)
        modes = cls.modes if cls else {}
        mode_field = self.fields["mode"]
        assert isinstance(mode_field, forms.ChoiceField)
        mode_field.choices = _mode_choices(cls) if cls else []
        mode_field.help_text = " ".join(f"{m.label}: {m.help}" for m in modes.values() if m.help)
        if editing:
            del self.fields["feed"]
        settings = cls.delivery_fields() if cls else ()
        self._many = {f.name for f in settings if f.many}
        for spec in settings:
            self.fields[spec.name] = _setting_field(spec)
            if spec.initial and not self.is_bound and not self.initial.get(spec.name):
                self.initial[spec.name] = spec.initial
        self.spec = json.dumps(
            {"modes": {key: list(m.fields) for key, m in modes.items()}, "all": ["role", *(f.name for f in settings)]}
        )

    def service_values(self) -> dict[str, Any]:
        values = {k: v for k, v in self.cleaned_data.items() if k != "feed"}
        values["role"] = values.get("role") or "index"
        for name in self._many:
            values[name] = split_ids(values.get(name) or "")
        return values


def delivery_initial(delivery: Any) -> dict[str, Any]:
    """A delivery's settings as the form shows them (id lists joined)."""
    initial: dict[str, Any] = {"mode": delivery.mode, "role": delivery.role}
    for name, value in (delivery.config or {}).items():
        initial[name] = ", ".join(value) if isinstance(value, list) else value
    return initial


class PushForm(forms.Form):
    """Push a delivery now. Editing a running cluster restarts it, so that needs explicit consent."""

    restart_consent = forms.BooleanField(
        required=False, label="Restart running clusters now (editing a running cluster restarts it)"
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)
