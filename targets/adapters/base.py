"""The adapter contract: one small class per target kind.

An adapter validates its target's and deliveries' fields, pushes a delivery's value, verifies that it landed, and
runs the target's health checks. Every failure is an :class:`AdapterError` saying whether it is ``permanent``
(bad credentials, a refused name: retrying will not help) or transient (429, 5xx, timeouts: retry later).
Adapters talk HTTP only through :mod:`core.http`.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from django.db import connection as db_connection

from core.vendor import VendorError

if TYPE_CHECKING:
    from targets.models import Delivery, Target

log = logging.getLogger(__name__)


class AdapterError(VendorError):
    """A platform call failed. The message is redacted and fit to show an admin. ``detail`` (optional) is
    per-place bookkeeping of what the failed attempt did achieve (for example which projects got the value);
    the push machinery keeps it on the push and merges it into ``Delivery.state`` as it does on success."""


@dataclass(frozen=True)
class Place:
    """One place that holds or reads a delivery's value: a secret, a cluster, a policy, a project, a repository.
    ``fingerprint`` is the token it holds as far as Feedkeeper knows; ``needs_restart``: it reads the value only
    when it (re)starts, so a new token reaches it at its next restart."""

    place: str
    fingerprint: str
    needs_restart: bool = False


@dataclass
class PushResult:
    """What a push achieved: the target's own timestamp of the value (ms, when it has one), notes for the admin
    (for example "cluster X wired on next restart"), and per-place detail kept on the push and the delivery."""

    remote_ts: int | None = None
    notes: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class PushItem:
    """One delivery to push in a batch (every item of a batch belongs to the same target), and what became of
    it: the adapter sets ``result`` (pushed and verified) or ``error``."""

    delivery: Delivery
    value: str
    restart_consent: bool = False
    result: PushResult | None = None
    error: AdapterError | None = None


T = TypeVar("T")
# Threads for the parallel calls of batches; a worker has at most (its threads x a target's cap) lanes busy.
LANE_THREADS = 128
_lanes: ThreadPoolExecutor | None = None
_lanes_lock = threading.Lock()


def _lane_pool() -> ThreadPoolExecutor:
    global _lanes
    with _lanes_lock:
        if _lanes is None:
            _lanes = ThreadPoolExecutor(max_workers=LANE_THREADS, thread_name_prefix="push-lane")
        return _lanes


def _set_error(item: Any, error: AdapterError) -> None:
    item.error = error


def run_parallel(
    work: Callable[[T], None],
    items: list[T],
    parallel: int,
    *,
    fail: Callable[[T, AdapterError], None] = _set_error,
) -> None:
    """``work(item)`` for every item, at most ``parallel`` at once (in this thread when one is enough). A failure
    is handed to ``fail`` (default: the item's ``error``); an exception other than :class:`AdapterError` becomes a
    transient error there, so one bad item never takes the batch down."""

    def guarded(item: T) -> None:
        try:
            work(item)
        except AdapterError as exc:
            fail(item, exc)
        except Exception as exc:
            log.exception("A push failed unexpectedly")
            secrets = (str(getattr(item, "value", "") or ""),)
            fail(item, AdapterError(f"Unexpected error: {type(exc).__name__}: {exc}", permanent=False, secrets=secrets))

    map_parallel([functools.partial(guarded, item) for item in items], parallel)


def _closing(fn: Callable[[], T]) -> Callable[[], T]:
    def run() -> T:
        try:
            return fn()
        finally:
            db_connection.close()  # a lane must not keep a database connection of its own

    return run


def in_background(fn: Callable[[], T]) -> Future[T]:
    """Start ``fn`` on a lane thread (shared by all batches and checks of the process); ``.result()`` gives its
    value or raises its exception."""
    return _lane_pool().submit(_closing(fn))


def map_parallel(jobs: list[Callable[[], T]], parallel: int) -> list[T]:
    """Each job's value, in the order given, running at most ``parallel`` at once (in this thread when one is
    enough). The first exception of a job is raised after all have ended."""
    if parallel <= 1 or len(jobs) <= 1:
        return [job() for job in jobs]
    # ``parallel`` lanes, each working through its share in turn, on threads that live as long as the process:
    # the HTTP seam keeps one client (and its connections and TLS set-up) per thread, so short-lived threads
    # would pay for a new one on every batch.
    values: dict[int, T] = {}
    errors: list[BaseException] = []

    def lane(share: list[tuple[int, Callable[[], T]]]) -> None:
        for index, job in share:
            try:
                values[index] = job()
            except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread below
                errors.append(exc)

    numbered = list(enumerate(jobs))
    shares = [numbered[i::parallel] for i in range(min(parallel, len(jobs)))]
    for future in [in_background(functools.partial(lane, share)) for share in shares]:
        future.result()
    if errors:
        raise errors[0]
    return [values[i] for i in range(len(jobs))]


@dataclass(frozen=True)
class ScanValue:
    """One value read from a place of the target while scanning for credentials in plain sight. ``location`` names
    the place for an admin (``cluster 0123-abc spark_env_vars.PIP_INDEX_URL``); ``place`` says, without any value,
    what kind of place it is (``{"kind": "cluster_env", "cluster_id": ..., "name": ...}``) so a replacement knows
    what it can do there; ``editable``: Feedkeeper may change the place (a user cluster's env var, a non-secret
    project variable), never a job cluster, a policy or a library. ``value`` lives in memory only: whoever turns it
    into a finding keeps a fingerprint and a redacted excerpt, never the value."""

    location: str
    value: str = field(repr=False)
    place: dict[str, str] = field(default_factory=dict)
    editable: bool = False


@dataclass
class ScanSource:
    """What one part of a scan read (``name``: ``clusters``, ``policies``, ``project variables``, ...): its values,
    or ``error`` (redacted) when that part could not be read completely. A failed source resolves nothing."""

    name: str
    values: list[ScanValue] = field(default_factory=list)
    error: str = ""


@dataclass(frozen=True)
class MintedCredential:
    """A credential a target minted for itself: the secret, its id at the platform, when it expires."""

    secret: str = field(repr=False)
    credential_id: str
    expires_at: datetime | None


@dataclass(frozen=True)
class HealthResult:
    """One named health check: ``ok``, ``warning`` or ``failing`` with a short redacted detail."""

    name: str
    status: str
    detail: str = ""
    # Set by the check that reads when the target's own credential expires (then stored on the target).
    credential_expires_at: datetime | None = None

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class ModeSpec:
    """A delivery mode: its label, the delivery fields it uses (names of ``DeliveryConfig`` fields, plus
    ``role`` when the mode knows index and extra), and whether it is experimental."""

    key: str
    label: str
    fields: tuple[str, ...] = ()
    experimental: bool = False
    help: str = ""


@dataclass(frozen=True)
class FieldSpec:
    """One platform-specific setting of a target or a delivery, as forms, serializers, the schema and the
    detail pages show it. ``many`` fields hold a list of ids (a form takes them separated by commas or spaces)."""

    name: str
    label: str
    help: str = ""
    many: bool = False
    max_length: int = 128
    max_items: int = 1000
    initial: str = ""
    multiline: bool = False

    def empty(self) -> Any:
        return [] if self.many else ""


def setting(
    label: str,
    *,
    help: str = "",
    many: bool = False,
    max_length: int = 128,
    max_items: int = 1000,
    initial: str = "",
    multiline: bool = False,
) -> Any:
    """A field of an adapter's ``TargetConfig`` or ``DeliveryConfig`` dataclass, declared once: its type and
    default come from the dataclass, its presentation from here."""
    spec = {"label": label, "help": help, "many": many, "max_length": max_length, "max_items": max_items}
    spec["initial"] = initial
    spec["multiline"] = multiline
    if many:
        return dataclasses.field(default_factory=list, metadata={"feedkeeper": spec})
    return dataclasses.field(default="", metadata={"feedkeeper": spec})


def config_fields(config_class: type | None) -> tuple[FieldSpec, ...]:
    """The :class:`FieldSpec` of each field of a config dataclass, in declaration order."""
    if config_class is None:
        return ()
    return tuple(
        FieldSpec(name=f.name, **f.metadata["feedkeeper"])
        for f in dataclasses.fields(config_class)
        if "feedkeeper" in f.metadata
    )


C = TypeVar("C")


def parse_config(config_class: type[C], data: dict[str, Any] | None) -> C:
    """A config dataclass from its stored JSON; unknown keys are ignored, missing ones take their defaults."""
    names = {f.name for f in dataclasses.fields(config_class)}  # type: ignore[arg-type]
    return config_class(**{k: v for k, v in (data or {}).items() if k in names})


@dataclass(frozen=True)
class AuthSpec:
    """A way to authenticate to the platform: ``secret`` names the write-only input that carries the credential
    (encrypted in ``Target.credential``); ``fields`` are the non-secret target settings it also needs."""

    key: str
    label: str
    secret: str = "token"
    secret_label: str = "Token"
    secret_help: str = ""
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class EmptyConfig:
    """The config of a target or delivery with no platform-specific settings."""


class Adapter:
    """Base class: everything Feedkeeper knows about one platform. Subclasses declare

    - ``kind``, ``label``, ``default_url`` and ``url_help``;
    - ``auth``: the ways to authenticate (:class:`AuthSpec`), which name the write-only secret input of each;
    - ``TargetConfig`` and ``DeliveryConfig``: dataclasses whose fields (declared with :func:`setting`) are the
      platform-specific settings kept in ``Target.config`` and ``Delivery.config``; forms, serializers, the
      OpenAPI schema and the detail pages are built from them;
    - ``modes``: the delivery modes and which ``DeliveryConfig`` fields each uses;

    and implement the methods below.
    """

    kind: ClassVar[str]
    label: ClassVar[str]
    auth: ClassVar[tuple[AuthSpec, ...]]
    auth_types: ClassVar[tuple[str, ...]]  # derived from ``auth``
    modes: ClassVar[dict[str, ModeSpec]]
    default_url: ClassVar[str] = ""
    url_help: ClassVar[str] = ""
    TargetConfig: ClassVar[type] = EmptyConfig
    DeliveryConfig: ClassVar[type] = EmptyConfig

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "auth" in cls.__dict__:
            cls.auth_types = tuple(a.key for a in cls.auth)

    def __init__(self, target: Target) -> None:
        self.target = target

    # --- declarations -------------------------------------------------------------------------------
    @classmethod
    def target_fields(cls) -> tuple[FieldSpec, ...]:
        return config_fields(cls.TargetConfig)

    @classmethod
    def delivery_fields(cls) -> tuple[FieldSpec, ...]:
        return config_fields(cls.DeliveryConfig)

    @classmethod
    def auth_spec(cls, auth_type: str) -> AuthSpec:
        return next((a for a in cls.auth if a.key == auth_type), cls.auth[0])

    @classmethod
    def target_rows(cls, target: Target) -> list[tuple[str, Any]]:
        """(label, value) rows the target's page shows for its settings; never a credential."""
        cfg = target.config or {}
        return [(f.label, cfg.get(f.name)) for f in cls.target_fields() if cfg.get(f.name)]

    @classmethod
    def delivery_rows(cls, delivery: Delivery) -> list[tuple[str, Any]]:
        """(label, value) rows the delivery's page shows for its settings."""
        cfg = delivery.config or {}
        used = cls.modes[delivery.mode].fields if delivery.mode in cls.modes else ()
        rows = []
        for f in cls.delivery_fields():
            value = cfg.get(f.name)
            if f.name in used and value:
                rows.append((f.label, ", ".join(value) if isinstance(value, list) else value))
        return rows

    @classmethod
    def may_restart(cls, delivery: Delivery) -> bool:
        """Whether pushing ``delivery`` may restart something running (then the push asks for consent)."""
        return False

    # --- a credential that rotates itself ----------------------------------------------------------
    @classmethod
    def rotates_credential(cls, auth_type: str) -> bool:
        """Whether a target authenticating with ``auth_type`` can mint its own next credential (then it
        implements the ``credential_*`` methods below)."""
        return False

    def credential_mint(self, *, lifetime_seconds: int, comment: str) -> MintedCredential:
        """Create a new credential for the identity the target uses, valid ``lifetime_seconds``, named
        ``comment`` (also how a mint whose answer was lost is found again)."""
        raise NotImplementedError

    def credential_find(self, comment: str) -> list[str]:
        """The ids of the identity's credentials named ``comment``."""
        raise NotImplementedError

    def credential_test(self, secret: str) -> str:
        """Authenticate with ``secret`` (not the stored credential); a short description, or raise."""
        raise NotImplementedError

    def credential_revoke(self, credential_id: str) -> str:
        """Revoke the identity's credential ``credential_id`` (gone already counts as done); a short description."""
        raise NotImplementedError

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

    def push_many(self, items: list[PushItem], *, parallel: int) -> None:
        """Push and verify every item (all of this target), at most ``parallel`` platform calls at once, setting
        each item's ``result`` or ``error``. The push machinery hands an adapter every ready push of a target at
        once, so an adapter may share calls between them (one read per scope before and after, say). The default
        pushes and verifies each item on its own."""

        def one(item: PushItem) -> None:
            result = self.push(item.delivery, item.value, restart_consent=item.restart_consent)
            item.result = self.verify(item.delivery, result)

        run_parallel(one, items, parallel)

    @classmethod
    def places(cls, delivery: Delivery) -> list[Place]:
        """Every place that holds or reads the delivery's value, from what Feedkeeper recorded (no platform call).
        By default the delivery's own place."""
        return [Place(delivery.location, delivery.delivered_fingerprint)]

    def old_value_readers(self, deliveries: list[Delivery]) -> list[str]:
        """Names of what still runs with a value older than the one delivered now (asks the platform). Platforms
        that read a value at every use have none."""
        return []

    def restart_old_value_readers(self, deliveries: list[Delivery]) -> list[str]:
        """Restart what :meth:`old_value_readers` names, where the platform can (an operator consented); one line
        per restart, failures included. Platforms with nothing to restart do nothing."""
        return []

    def needs_push(self, delivery: Delivery) -> bool:
        """For a delivered delivery: has the target grown places it should cover (e.g. new projects)?"""
        return False

    def deliveries_needing_push(self, deliveries: list[Delivery]) -> list[int]:
        """The ids of those of the target's delivered ``deliveries`` that need a push again; the coverage task
        calls this once per target. This default asks :meth:`needs_push` of each; an adapter that can answer
        for all of them with fewer platform calls (list the projects once) overrides it."""
        return [d.pk for d in deliveries if self.needs_push(d)]

    def check_health(self, deliveries: list[Delivery]) -> list[HealthResult]:
        """Run every health check of the target and its deliveries."""
        raise NotImplementedError

    def scan(self) -> list[ScanSource]:
        """Read every place of the target where people paste credentialed index URLs by hand (read only: nothing
        is changed), one :class:`ScanSource` per part, each with its values or its error. A platform with nothing
        to scan returns ``[]``."""
        return []
