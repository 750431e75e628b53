"""The adapter contract: one small class per target kind.

An adapter validates its target's and deliveries' fields, pushes a delivery's value, verifies that it landed, and
runs the target's health checks. Every failure is an :class:`AdapterError` saying whether it is ``permanent``
(bad credentials, a refused name: retrying will not help) or transient (429, 5xx, timeouts: retry later).
Adapters talk HTTP only through :mod:`core.http`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from core.redaction import redact

if TYPE_CHECKING:
    from targets.models import Delivery, Target


class AdapterError(Exception):
    """A platform call failed. The message is redacted and fit to show an admin. ``detail`` (optional) is
    per-place bookkeeping of what the failed attempt did achieve (for example which projects got the value);
    the push machinery keeps it on the push and merges it into ``Delivery.state`` as it does on success."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status: int | None = None,
        retry_after: float | None = None,
        secrets: tuple[str, ...] = (),
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(redact(message, secrets))
        self.permanent = permanent
        self.status = status
        self.retry_after = retry_after
        self.detail: dict[str, Any] = dict(detail or {})


@dataclass
class PushResult:
    """What a push achieved: the target's own timestamp of the value (ms, when it has one), notes for the admin
    (for example "cluster X wired on next restart"), and per-place detail kept on the push and the delivery."""

    remote_ts: int | None = None
    notes: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HealthResult:
    """One named health check: ``ok``, ``warning`` or ``failing`` with a short redacted detail."""

    name: str
    status: str
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class ModeSpec:
    """A delivery mode: its label, the delivery fields it uses, and whether it is experimental."""

    key: str
    label: str
    fields: tuple[str, ...] = ()
    experimental: bool = False


class Adapter:
    """Base class. Subclasses set the class attributes and implement the methods below."""

    kind: ClassVar[str]
    label: ClassVar[str]
    auth_types: ClassVar[tuple[str, ...]]
    modes: ClassVar[dict[str, ModeSpec]]
    default_url: ClassVar[str] = ""

    def __init__(self, target: Target) -> None:
        self.target = target

    # --- validation (class-level: no target needed) ----------------------------------------------
    @classmethod
    def clean_target(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Check the kind-specific target fields; return them cleaned or raise ``ValidationError``."""
        return data

    @classmethod
    def clean_delivery(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Check and fill the mode's fields; return the cleaned data with a ``location`` (unique per target)."""
        raise NotImplementedError

    @classmethod
    def conflicts(cls, cleaned: dict[str, Any], other: Delivery) -> bool:
        """Would a delivery with ``cleaned`` fields write a place that ``other`` (same target) already writes?"""
        return bool(cleaned["location"] == other.location)

    # --- work -------------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """Resolve what the target is (workspace id, organization id and projects); stored in ``Target.info``."""
        return {}

    def push(self, delivery: Delivery, value: str, *, restart_consent: bool) -> PushResult:
        """Put ``value`` (the credentialed index URL) where ``delivery`` says. Idempotent."""
        raise NotImplementedError

    def verify(self, delivery: Delivery, result: PushResult) -> PushResult:
        """Prove the push landed (without reading the secret back); raise ``AdapterError`` when it did not."""
        raise NotImplementedError

    def needs_push(self, delivery: Delivery) -> bool:
        """For a delivered delivery: has the target grown places it should cover (e.g. new projects)?"""
        return False

    def check_health(self, deliveries: list[Delivery]) -> list[HealthResult]:
        """Run every health check of the target and its deliveries."""
        raise NotImplementedError
