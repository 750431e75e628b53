"""The provider contract: mint a token for a feed, revoke one, and check the connection itself.

A provider is a class bound to one :class:`feeds.models.Connection`. Every call may raise
:class:`ProviderError` (redacted, with ``permanent`` and ``needs_consent``). Calls go through
:class:`core.vendor.VendorClient`, the one HTTP seam.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from core.vendor import VendorError

if TYPE_CHECKING:
    from feeds.models import Connection, Feed


class ProviderError(VendorError):
    """A provider call failed. ``needs_consent``: the stored authorization no longer works and an admin must
    connect again (Azure DevOps)."""

    def __init__(self, message: str, *, needs_consent: bool = False, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.needs_consent = needs_consent


@dataclass(frozen=True)
class Minted:
    """A token a provider just created. ``token_id`` names it at the provider (to revoke it by id)."""

    token: str
    token_id: str
    expires_at: datetime | None


@dataclass(frozen=True)
class CheckOutcome:
    status: str  # a feeds.models.ConnectionStatus value
    detail: str


@dataclass(frozen=True)
class ConnectionField:
    """A field of the connection form and API that this kind uses."""

    name: str
    label: str
    secret: bool = False
    required: bool = True
    help: str = ""


class Provider:
    """Mints and revokes feed tokens through one connection."""

    key: ClassVar[str]
    label: ClassVar[str]
    # The feed kinds whose tokens this provider can mint.
    feed_kinds: ClassVar[tuple[str, ...]]
    fields: ClassVar[tuple[ConnectionField, ...]]
    url_help: ClassVar[str] = ""
    # Whether a token Feedkeeper did not mint (pasted) can be revoked by its value.
    revokes_by_value: ClassVar[bool] = False
    # Whether an admin must authorize the connection in the browser ("Connect").
    needs_browser_consent: ClassVar[bool] = False

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def check(self) -> CheckOutcome:
        raise NotImplementedError

    def mint(self, feed: Feed, *, lifetime: timedelta, description: str) -> Minted:
        raise NotImplementedError

    def revoke(self, *, token_id: str = "", token: str = "") -> str:
        """Revoke by ``token_id`` (or by ``token`` where :attr:`revokes_by_value`); idempotent: a token already
        revoked or gone is not an error. Returns a short detail for the record."""
        raise NotImplementedError

    def find_minted(self, description: str) -> list[str]:
        """Ids of live tokens whose description is exactly ``description`` (a mint whose answer was lost)."""
        return []

    def username_for(self, feed: Feed) -> str:
        """The username a minted token is used with in the index URL."""
        return feed.effective_username
