"""Adapter registry: ``kind -> adapter class``. It drives the choices of ``Target.kind``. Adding a platform is one
module here plus its simulator and tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from targets.adapters.base import Adapter, AdapterError, HealthResult, ModeSpec, PushResult

if TYPE_CHECKING:
    from targets.models import Target

REGISTRY: dict[str, type[Adapter]] = {}


def register(cls: type[Adapter]) -> type[Adapter]:
    REGISTRY[cls.kind] = cls
    return cls


def get_adapter(target: Target) -> Adapter:
    return REGISTRY[target.kind](target)


def kind_choices() -> list[tuple[str, str]]:
    return [(k, c.label) for k, c in REGISTRY.items()]


# Importing the modules registers them.
from targets.adapters import databricks, valohai  # noqa: E402,F401

__all__ = ["REGISTRY", "Adapter", "AdapterError", "HealthResult", "ModeSpec", "PushResult", "get_adapter", "register"]
