"""Token providers: who mints and revokes a feed's tokens, one module per kind of :class:`feeds.models.Connection`.

The registry names each provider class by dotted path, so importing this package imports no vendor code; a
provider is loaded the first time it is asked for. Adding a provider is its module and one line here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from feeds.providers.base import Provider

PROVIDERS: dict[str, str] = {
    "jfrog": "feeds.providers.jfrog.JFrogProvider",
    "azure_devops": "feeds.providers.azure_devops.AzureDevOpsProvider",
}


@cache
def _load(key: str) -> type[Provider]:
    module, _, name = PROVIDERS[key].rpartition(".")
    cls: type[Provider] = getattr(import_module(module), name)
    return cls


class _Registry(Mapping[str, "type[Provider]"]):
    def __getitem__(self, key: str) -> type[Provider]:
        if key not in PROVIDERS:
            raise KeyError(key)
        return _load(key)

    def __iter__(self) -> Iterator[str]:
        return iter(PROVIDERS)

    def __len__(self) -> int:
        return len(PROVIDERS)


REGISTRY: Mapping[str, type[Provider]] = _Registry()


def get_provider(kind: str) -> type[Provider]:
    return REGISTRY[kind]


def choices() -> list[tuple[str, str]]:
    return [(key, REGISTRY[key].label) for key in PROVIDERS]
