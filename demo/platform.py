"""Demo platforms: one plug-in per registered target kind, found as ``simulators.<kind>.demo``.

A platform's demo module defines ``PLATFORM``, an instance of a :class:`DemoPlatform` subclass. The demo calls,
in this order:

- ``start(sup, env, cwd)`` starts the simulator (``python -m simulators.<kind>`` on free loopback ports, with
  :data:`demo.services.LATENCY_MS`) and returns the child;
- ``ready(sup, child)`` waits for the simulator's ready line and returns a small frozen dataclass (the platform's
  *info*: URLs, tokens, organizations) after any ``/_sim/`` seeding the demo needs;
- ``seed(ctx, info)`` creates the platform's targets (:meth:`SeedContext.target`) and plans their deliveries
  (:meth:`SeedContext.deliver`) through the services layer, and returns what to print (:class:`Seeding`);
- ``banner_lines(info)`` and ``smoke_args(info)``: the platform's lines in the banner and its arguments of the
  API contract smoke test. Both are built from ``info`` alone.

Adding a platform to the demo is its ``simulators/<kind>/demo.py``; nothing in :mod:`demo` names a platform.
"""

from __future__ import annotations

import importlib
import typing
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from demo.processes import Child, Supervisor

InfoT = TypeVar("InfoT")

DEMO_FEED = "acme-private"  # the demo's feed with a valid token: what every platform delivers
LABEL_WIDTH = 14  # the banner's first column ("Private index ", "Databricks    ", ...)


def rows(label: str, first: str, *more: str) -> list[str]:
    """Banner lines: ``label`` in the first column before ``first``; each of ``more`` aligned under ``first``."""
    return [f"{label:<{LABEL_WIDTH}}{first}", *(" " * LABEL_WIDTH + line for line in more)]


@dataclass(frozen=True)
class Seeding:
    """What a platform's ``seed`` reports: one console line, and notes for the banner (empty when all went as
    planned)."""

    line: str
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PlannedDelivery:
    feed: str
    target: str
    values: dict[str, Any]


@dataclass
class SeedContext:
    """What a platform seeds with: the acting user and the demo's feeds by name.

    :meth:`target` creates a target at once (its creation queues its first health check). :meth:`deliver` only
    plans a delivery: :func:`demo.seed.seed` creates the planned deliveries of every platform together, once the
    targets' first health checks have ended, so those checks never see a delivery that was not pushed yet."""

    actor: Any
    feeds: dict[str, Any]
    targets: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    planned: list[PlannedDelivery] = field(default_factory=list)

    def target(self, name: str, kind: str, **values: Any) -> Any:
        """The target ``name``: created through ``targets.services.target_create`` with ``values``, or the
        existing one of that name (left as it is, with a note) when the database already holds it."""
        from targets.models import Target
        from targets.services import target_create

        existing = Target.objects.filter(name=name).first()  # read-only: a second run reuses the first one's
        if existing is not None:
            self.notes.append(f"Target {name} already existed; left as it is.")
            self.targets[name] = existing
            return existing
        self.targets[name] = target_create(actor=self.actor, name=name, kind=kind, **values)
        return self.targets[name]

    def deliver(self, target: str, *, feed: str = DEMO_FEED, **values: Any) -> None:
        """Plan a delivery of the feed named ``feed`` to the target named ``target`` with ``values`` (``mode`` and
        the platform's delivery settings), created later by :meth:`create_planned`."""
        self.planned.append(PlannedDelivery(feed=feed, target=target, values=values))

    def create_planned(self) -> list[Any]:
        """Create the planned deliveries through ``targets.services.delivery_create`` (each queues its first push)
        and return them; one that the services layer refuses becomes a note instead."""
        from django.core.exceptions import ValidationError

        from targets.services import delivery_create

        created = []
        for plan in self.planned:
            feed, target = self.feeds[plan.feed], self.targets[plan.target]
            try:
                created.append(delivery_create(actor=self.actor, feed=feed, target=target, **plan.values))
            except ValidationError as exc:
                self.notes.append(
                    f"Delivery of {feed} to {target} ({plan.values.get('mode')}) not created: {'; '.join(exc.messages)}"
                )
        self.planned.clear()
        return created


class DemoPlatform(ABC, Generic[InfoT]):
    """The demo side of one platform: its simulator as a child process, what it seeds, what the banner says."""

    kind: ClassVar[str]  # the target kind, as registered in targets.adapters

    @property
    def process_name(self) -> str:
        """The simulator's name in the demo's process list and log folder (``<kind>-sim``)."""
        return f"{self.kind}-sim"

    @classmethod
    def info_type(cls) -> type[Any]:
        """The info dataclass that :meth:`ready` returns (the ``InfoT`` of ``DemoPlatform[InfoT]``)."""
        for base in getattr(cls, "__orig_bases__", ()):
            if typing.get_origin(base) is DemoPlatform:
                (info,) = typing.get_args(base)
                return typing.cast(type[Any], info)
        raise TypeError(f"{cls.__name__} does not subclass DemoPlatform[SomeInfo].")

    @abstractmethod
    def start(self, sup: Supervisor, env: dict[str, str], cwd: Path) -> Child:
        """Start the simulator as a child of ``sup`` (free loopback ports, the demo's latency); do not wait."""

    @abstractmethod
    def ready(self, sup: Supervisor, child: Child) -> InfoT:
        """Wait for ``child``'s ready line and for it to answer, seed through ``/_sim/`` what the demo needs, and
        return what the other methods use."""

    @abstractmethod
    def seed(self, ctx: SeedContext, info: InfoT) -> Seeding:
        """Create this platform's targets and plan their deliveries of the demo's feed through ``ctx``."""

    @abstractmethod
    def banner_lines(self, info: InfoT) -> list[str]:
        """The banner's lines about this platform (see :func:`rows`), from ``info`` alone."""

    @abstractmethod
    def smoke_args(self, info: InfoT) -> list[str]:
        """This platform's ``contract_smoke.py`` arguments (``--<kind>-url ...``), from ``info`` alone."""


@dataclass(frozen=True)
class Running(Generic[InfoT]):
    """A platform whose simulator is ready, with its info."""

    platform: DemoPlatform[InfoT]
    info: InfoT

    @property
    def kind(self) -> str:
        return self.platform.kind

    def seed(self, ctx: SeedContext) -> Seeding:
        return self.platform.seed(ctx, self.info)

    def banner_lines(self) -> list[str]:
        return self.platform.banner_lines(self.info)

    def smoke_args(self) -> list[str]:
        return self.platform.smoke_args(self.info)


def module_name(kind: str) -> str:
    """Where the demo looks for ``kind``'s platform."""
    return f"simulators.{kind}.demo"


def discover(kinds: Iterable[str] | None = None) -> list[DemoPlatform[Any]]:
    """The demo platform of each kind in ``kinds`` (default: every kind of ``targets.adapters.REGISTRY``, which
    needs Django set up), in that order. A kind without a ``simulators.<kind>.demo`` module is skipped; a module
    without a ``PLATFORM`` of its kind is an error."""
    if kinds is None:
        from targets.adapters import REGISTRY

        kinds = list(REGISTRY)
    found: list[DemoPlatform[Any]] = []
    for kind in kinds:
        name = module_name(kind)
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name in (name, f"simulators.{kind}"):
                continue
            raise
        platform = getattr(module, "PLATFORM", None)
        if not isinstance(platform, DemoPlatform) or platform.kind != kind:
            raise RuntimeError(f"{name} must define PLATFORM, a DemoPlatform of kind {kind!r}.")
        found.append(platform)
    return found
