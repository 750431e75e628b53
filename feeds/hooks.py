"""Where apps that build on feeds plug in, so that feeds never imports them. Each registry is a list an app
appends to from its ``AppConfig.ready()`` (with :func:`register`); feeds calls whatever is registered:

- ``on_credential_changed``: ``hook(feed, actor=...)`` after a feed's credentialed URL changed (a new token, a new
  index URL or username), inside the transaction that changed it;
- ``dependents_providers``: ``provider(feed) -> [(kind_plural, [names])]``, what would go with the feed when it is
  deleted, for the confirmation page and the audit event;
- ``push_all``: ``pusher(feed, actor=..., restart_consent=...) -> [records with a pk]``, push the feed everywhere
  it is delivered now;
- ``on_token_expiry_changed``: ``hook(feed)`` after the feed's current token or its known expiry changed (also when
  the feed is created), inside the transaction that changed it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from feeds.models import Feed

CredentialChanged = Callable[..., None]
DependentsProvider = Callable[["Feed"], Sequence[tuple[str, list[str]]]]
Pusher = Callable[..., Sequence[Any]]
TokenExpiryChanged = Callable[["Feed"], None]

on_credential_changed: list[CredentialChanged] = []
dependents_providers: list[DependentsProvider] = []
push_all: list[Pusher] = []
on_token_expiry_changed: list[TokenExpiryChanged] = []

H = TypeVar("H")


def register(registry: list[H], hook: H) -> H:
    """Add ``hook`` to ``registry`` once (``ready()`` may run again, as in tests); returns it."""
    if hook not in registry:
        registry.append(hook)
    return hook


def credential_changed(feed: Feed, *, actor: Any) -> None:
    """Tell every app that the feed's credentialed URL changed."""
    for hook in on_credential_changed:
        hook(feed, actor=actor)


def token_expiry_changed(feed: Feed) -> None:
    """Tell every app that the feed's current token or its expiry changed."""
    for hook in on_token_expiry_changed:
        hook(feed)


def dependents(feed: Feed) -> list[tuple[str, list[str]]]:
    """Everything the apps report would go with ``feed``, in registration order; kinds with no items are left out."""
    found: list[tuple[str, list[str]]] = []
    for provider in dependents_providers:
        found.extend((kind, items) for kind, items in provider(feed) if items)
    return found


def push_everywhere(feed: Feed, *, actor: Any, restart_consent: bool = False) -> list[Any]:
    """Ask every app to push ``feed`` now; the records they return (each with a ``pk``), in registration order."""
    records: list[Any] = []
    for pusher in push_all:
        records.extend(pusher(feed, actor=actor, restart_consent=restart_consent))
    return records
