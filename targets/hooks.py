"""Where apps that build on targets plug in, so that targets never imports them. Each registry is a list an app
appends to from its ``AppConfig.ready()`` (with :func:`feeds.hooks.register`); targets calls whatever is
registered, inside the transaction that made the change:

- ``on_credential_expiry_changed``: ``hook(target)`` after a target's credential expiry was set or changed (entered
  by an admin, told by the platform, or a new credential).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from targets.models import Target

CredentialExpiryChanged = Callable[["Target"], None]

on_credential_expiry_changed: list[CredentialExpiryChanged] = []


def credential_expiry_changed(target: Target) -> None:
    """Tell every app that ``target``'s credential expiry changed."""
    for hook in on_credential_expiry_changed:
        hook(target)
