"""The adapter registry: ``kind -> adapter class``, from the dotted paths in :data:`ADAPTERS`. Adding a platform is
one module in this package (its adapter), its simulator, its tests, and one line here.

Adapters are imported on first use (not as a side effect of importing this package), so a module may import
:mod:`targets.adapters.base` without a cycle. ``settings.TARGET_ADAPTERS`` may replace the map.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.module_loading import import_string

from targets.adapters.base import (
    Adapter,
    AdapterError,
    AuthSpec,
    FieldSpec,
    HealthResult,
    MintedCredential,
    ModeSpec,
    PushResult,
    setting,
)

if TYPE_CHECKING:
    from targets.models import Target

ADAPTERS: dict[str, str] = {
    "databricks": "targets.adapters.databricks.DatabricksAdapter",
    "valohai": "targets.adapters.valohai.ValohaiAdapter",
    "github": "targets.adapters.github.GitHubAdapter",
}


@cache
def _load() -> dict[str, type[Adapter]]:
    paths = getattr(settings, "TARGET_ADAPTERS", None) or ADAPTERS
    loaded: dict[str, type[Adapter]] = {}
    for kind, path in paths.items():
        cls = import_string(path)
        if cls.kind != kind:
            raise ValueError(f"{path} declares kind {cls.kind!r}, registered as {kind!r}.")
        loaded[kind] = cls
    return loaded


class _Registry(Mapping[str, type[Adapter]]):
    """A read-only mapping that imports the adapters the first time it is read."""

    def __getitem__(self, kind: str) -> type[Adapter]:
        return _load()[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(_load())

    def __len__(self) -> int:
        return len(_load())


REGISTRY: Mapping[str, type[Adapter]] = _Registry()


def get_adapter(target: Target) -> Adapter:
    return REGISTRY[target.kind](target)


def kind_choices() -> list[tuple[str, str]]:
    return [(k, c.label) for k, c in REGISTRY.items()]


def all_fields(which: str) -> dict[str, FieldSpec]:
    """Every platform's ``target`` or ``delivery`` fields by name, for the forms and the API's flat field names
    (a name two platforms share, such as ``variable``, appears once: the first platform's declaration)."""
    out: dict[str, FieldSpec] = {}
    for cls in REGISTRY.values():
        for spec in cls.target_fields() if which == "target" else cls.delivery_fields():
            out.setdefault(spec.name, spec)
    return out


def secret_inputs() -> dict[str, AuthSpec]:
    """Every write-only credential input (``token``, ``client_secret``, ...) by name."""
    out: dict[str, AuthSpec] = {}
    for cls in REGISTRY.values():
        for auth in cls.auth:
            out.setdefault(auth.secret, auth)
    return out


__all__ = [
    "ADAPTERS",
    "REGISTRY",
    "Adapter",
    "AdapterError",
    "AuthSpec",
    "FieldSpec",
    "HealthResult",
    "MintedCredential",
    "ModeSpec",
    "PushResult",
    "all_fields",
    "get_adapter",
    "kind_choices",
    "secret_inputs",
    "setting",
]
