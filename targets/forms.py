"""Target, delivery and push forms. They only shape input (split id lists, offer the adapter's choices); the
services validate and save. Fields a kind or mode does not use are hidden (and disabled) by ``static/js/app.js``
from the ``data-spec`` the form carries; the server refuses them if they arrive anyway."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms

from feeds.forms import RedactedURLInput
from feeds.models import Feed
from targets.adapters import REGISTRY, kind_choices
from targets.models import DeliveryStatus, Target

AUTH_LABELS = {
    "pat": "Personal access token",
    "oauth_m2m": "OAuth M2M (service principal)",
    "token": "API token",
}
# Which credential fields each auth type uses.
AUTH_FIELDS = {"oauth_m2m": ["client_id", "client_secret"]}
DEFAULT_AUTH_FIELDS = ["token"]
# Target fields beyond the common ones, per kind (an adapter may declare ``target_fields`` instead).
KIND_FIELDS = {"valohai": ["organization"]}
COMMON_TARGET_FIELDS = ["kind", "name", "url", "auth_type", "max_concurrency"]
MODE_FIELDS = ["role", "scope", "key", "clusters", "env_var", "policy_id", "projects", "variable"]
DEFAULT_VARIABLE = "PRIVATE_PYPI_INDEX_URL"

_SPLIT = re.compile(r"[\s,]+")


def _secret_widget() -> forms.PasswordInput:
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})


def _auth_choices() -> list[tuple[str, str]]:
    seen: list[str] = []
    for cls in REGISTRY.values():
        seen += [a for a in cls.auth_types if a not in seen]
    return [(a, AUTH_LABELS.get(a, a)) for a in seen]


def target_spec() -> dict[str, Any]:
    """What the page's script needs to show only the fields a kind and auth type use."""
    kinds = {}
    for kind, cls in REGISTRY.items():
        extra = list(getattr(cls, "target_fields", KIND_FIELDS.get(kind, [])))
        kinds[kind] = {
            "auth_types": list(cls.auth_types),
            "default_url": cls.default_url,
            "fields": COMMON_TARGET_FIELDS + extra,
        }
    auth = {a: AUTH_FIELDS.get(a, DEFAULT_AUTH_FIELDS) for a, _ in _auth_choices()}
    return {"kinds": kinds, "auth": auth}


def split_ids(value: str) -> list[str]:
    """``"a, b c"`` -> ``["a", "b", "c"]`` (order kept, duplicates dropped)."""
    out: list[str] = []
    for part in _SPLIT.split(value or ""):
        if part and part not in out:
            out.append(part)
    return out


class TargetForm(forms.Form):
    """A target's definition and credential. Credentials are write-only: never rendered back."""

    kind = forms.ChoiceField(choices=kind_choices, help_text="The platform Feedkeeper delivers to.")
    name = forms.CharField(max_length=100)
    url = forms.CharField(
        max_length=300,
        required=False,
        label="URL",
        widget=RedactedURLInput,
        help_text="Databricks: the workspace URL, e.g. https://adb-1234567890123456.7.azuredatabricks.net. "
        "Valohai: leave empty for https://app.valohai.com.",
    )
    auth_type = forms.ChoiceField(choices=_auth_choices, label="Authentication")
    token = forms.CharField(
        strip=False,
        max_length=4096,
        required=False,
        widget=_secret_widget(),
        help_text="A personal access token (Databricks) or API token (Valohai). Stored encrypted, never shown again.",
    )
    client_id = forms.CharField(
        max_length=200, required=False, label="Client id", help_text="The service principal's application id."
    )
    client_secret = forms.CharField(
        strip=False,
        max_length=4096,
        required=False,
        widget=_secret_widget(),
        label="Client secret",
        help_text="The service principal's OAuth secret. Stored encrypted, never shown again.",
    )
    organization = forms.CharField(
        max_length=200, required=False, help_text="The Valohai organization's name, as its members see it."
    )
    max_concurrency = forms.IntegerField(
        min_value=1,
        max_value=64,
        initial=4,
        label="Max concurrency",
        help_text="At most this many pushes run against this target at once.",
    )

    def __init__(self, *args: Any, target: Target | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spec = json.dumps(target_spec())
        if target is not None:
            # The kind of a target never changes; the credential is kept unless a new one is given.
            del self.fields["kind"]
            keep = f"Leave empty to keep the current credential ({target.credential_fingerprint})."
            self.fields["token"].help_text = keep
            self.fields["client_secret"].help_text = keep

    def service_values(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["max_concurrency"] = data.get("max_concurrency") or 4
        return data


def _mode_choices(cls: Any) -> list[tuple[str, str]]:
    return [
        (key, f"{spec.label} (experimental)" if spec.experimental else spec.label) for key, spec in cls.modes.items()
    ]


class DeliveryForm(forms.Form):
    """Where a feed goes in a target: a mode from the target's adapter and the fields that mode uses."""

    feed = forms.ModelChoiceField(queryset=Feed.objects.order_by("name"), empty_label=None)
    mode = forms.ChoiceField(choices=())
    role = forms.ChoiceField(
        choices=[("index", "index (--index-url)"), ("extra", "extra (--extra-index-url)")],
        initial="index",
        required=False,
        help_text="Whether pip uses the feed as its index or as an extra index.",
    )
    scope = forms.CharField(max_length=128, required=False, help_text="The secret scope; created if missing.")
    key = forms.CharField(max_length=128, required=False, help_text="The secret's key in the scope.")
    clusters = forms.CharField(
        max_length=4000,
        required=False,
        help_text="Cluster ids to wire, separated by commas or spaces (optional). Job clusters are never edited.",
    )
    env_var = forms.CharField(
        max_length=64,
        required=False,
        label="Environment variable",
        help_text="Set on the clusters. Empty: DATABRICKS_PIP_INDEX_URL (index) or DATABRICKS_PIP_EXTRA_INDEX_URL "
        "(extra).",
    )
    policy_id = forms.CharField(
        max_length=64, required=False, label="Cluster policy id", help_text="Optional: fix the variable in a policy."
    )
    projects = forms.CharField(
        max_length=40000,
        required=False,
        help_text="Project ids (uuids) separated by commas, or * for every project of the organization.",
    )
    variable = forms.CharField(
        max_length=128, required=False, help_text=f"The environment variable's name (default {DEFAULT_VARIABLE})."
    )

    def __init__(self, *args: Any, target: Target, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cls = REGISTRY.get(target.kind)
        modes = cls.modes if cls else {}
        mode_field = self.fields["mode"]
        assert isinstance(mode_field, forms.ChoiceField)
        mode_field.choices = _mode_choices(cls) if cls else []
        if editing:
            del self.fields["feed"]
        uses_variable = any("variable" in spec.fields for spec in modes.values())
        if uses_variable and not self.is_bound and not self.initial.get("variable"):
            self.initial["variable"] = DEFAULT_VARIABLE
        self.spec = json.dumps({"modes": {key: list(spec.fields) for key, spec in modes.items()}, "all": MODE_FIELDS})

    def clean_clusters(self) -> list[str]:
        return split_ids(self.cleaned_data.get("clusters", ""))

    def clean_projects(self) -> list[str]:
        return split_ids(self.cleaned_data.get("projects", ""))

    def service_values(self) -> dict[str, Any]:
        values = {k: v for k, v in self.cleaned_data.items() if k != "feed"}
        values["role"] = values.get("role") or "index"
        return values


def delivery_initial(delivery: Any) -> dict[str, Any]:
    """A delivery's fields as the form shows them (id lists joined)."""
    initial = {f: getattr(delivery, f) for f in ["mode", *MODE_FIELDS]}
    initial["clusters"] = ", ".join(delivery.clusters or [])
    initial["projects"] = ", ".join(delivery.projects or [])
    return initial


class PushForm(forms.Form):
    """Push a delivery now. Editing a running cluster restarts it, so that needs explicit consent."""

    restart_consent = forms.BooleanField(
        required=False, label="Restart running clusters now (editing a running cluster restarts it)"
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)


class DeliveryFilterForm(forms.Form):
    """Filters of the deliveries list (all optional)."""

    status = forms.ChoiceField(choices=[("", "Any status"), *DeliveryStatus.choices], required=False)
    target = forms.ModelChoiceField(queryset=Target.objects.order_by("name"), required=False, empty_label="Any target")
    feed = forms.ModelChoiceField(queryset=Feed.objects.order_by("name"), required=False, empty_label="Any feed")
