"""The overview's queries: one "needs attention" list, the targets' health matrix, failing deliveries, running
rotations, and the counts the navigation shows. Every function runs a fixed number of queries, whatever the number
of rows (the list is bounded per reason and says how many more there are)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import (
    Case,
    Exists,
    F,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    When,
    Window,
)
from django.db.models.functions import RowNumber
from django.urls import reverse
from django.utils import timezone

from core.models import RunState
from core.redaction import redact
from core.roles import ADMIN, OPERATOR
from dashboard.expiry import ExpiryRow, credentials_by_expiry
from dashboard.links import Links
from feeds.models import CheckStatus, Feed, FeedCheck
from rotations.models import CREDENTIAL_STEP_ORDER, STEP_ORDER, Rotation, RotationStep, Status, StepStatus
from targets.health import Health
from targets.models import Delivery, DeliveryStatus, Push, PushStatus, Target, TargetCheck

# How many entries of one reason the list shows; the rest are counted and linked.
PER_REASON = 15
# How many past checks a target's strip shows.
STRIP_LENGTH = 10
FAILING_TARGET = (Health.FAILING, Health.WARNING)
PROBLEM_DELIVERY = (DeliveryStatus.FAILED, DeliveryStatus.STALE)
DONE_STEPS = (StepStatus.DONE, StepStatus.SKIPPED, StepStatus.MANUAL)
# The columns the overview's rows show: a target's settings, caches and credential, a feed's URL parts are not read.
_FEED_ROW = ("id", "name")
_TARGET_ROW = ("id", "name", "kind", "health", "health_checked_at")
_ROTATION_ROW = ("id", "feed", "target", "status", "phase", "error", "created_at", "updated_at", "finished_at")
_DELIVERY_ROW = (
    "id",
    "feed",
    "target",
    "mode",
    "config",
    "location",
    "status",
    "last_error",
    "last_pushed_at",
    "updated_at",
    *(f"feed__{f}" for f in _FEED_ROW),
    *(f"target__{f}" for f in _TARGET_ROW),
)


@dataclass(frozen=True)
class Action:
    """A one-click action: a POST form to ``url`` (or a link when ``method`` is ``get``), offered to ``role``."""

    label: str
    url: str
    role: str
    method: str = "post"
    primary: bool = False


@dataclass(frozen=True)
class Attention:
    """One entry of the "needs attention" list: what (``label`` linked to ``url``), why (``reason``, with a badge
    ``status``), and what to do (``action``)."""

    key: str  # reason key: expiry, feed_check, delivery, target, rotation, findings
    label: str
    url: str
    status: str
    reason: str
    detail: str = ""
    at: datetime | None = None
    action: Action | None = None


@dataclass
class AttentionList:
    items: list[Attention] = field(default_factory=list)
    more: dict[str, tuple[int, str]] = field(default_factory=dict)  # key -> (how many not listed, where to see)
    open_findings: int = 0

    @property
    def total(self) -> int:
        return len(self.items) + sum(n for n, _ in self.more.values())

    def counts(self) -> dict[str, int]:
        """Entries per reason, as :func:`attention_counts` counts them (the navigation reuses it on the overview)."""
        found = dict.fromkeys(("expiry", "feed_check", "delivery", "target", "rotation", "findings"), 0)
        for item in self.items:
            found[item.key] += 1
        for key, (n, _) in self.more.items():
            found[key] += n
        return found


def _failing_feed_checks() -> QuerySet[FeedCheck]:
    """The latest credential check of each feed, where it ended other than ``ok`` (a running check is in flight,
    not a problem yet). The latest is the highest id (checks are numbered as they are requested): a GROUP BY on
    the feed's index, where "newest by time" would sort every feed's checks through the join with their run."""
    latest = FeedCheck.objects.order_by().values("feed_id").annotate(last=Max("pk")).values("last")
    return FeedCheck.objects.filter(pk__in=latest).exclude(status__in=[CheckStatus.OK, *RunState.values])


def _problem_deliveries() -> QuerySet[Delivery]:
    return Delivery.objects.filter(status__in=PROBLEM_DELIVERY)


def _rotations_failed() -> QuerySet[Rotation]:
    """Failed rotations whose feed or target has not completed a rotation since (a NULL subject never matches)."""
    later = Rotation.objects.filter(
        Q(feed=OuterRef("feed")) | Q(target=OuterRef("target")),
        status=Status.COMPLETED,
        created_at__gt=OuterRef("created_at"),
    )
    return Rotation.objects.filter(status=Status.FAILED).exclude(Exists(later))


def count_together(querysets: dict[str, QuerySet[Any]]) -> dict[str, int]:
    """``COUNT(*)`` of each queryset, all in one query (``SELECT (SELECT COUNT(*) ...), (...)``): one round trip
    instead of one per count."""
    if not querysets:
        return {}
    parts, params = [], []
    for qs in querysets.values():
        counted = qs.order_by().annotate(n=Func(function="COUNT", template="COUNT(*)", output_field=IntegerField()))
        sql, more = counted.values("n").query.sql_with_params()
        parts.append(f"({sql})")
        params.extend(more)
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return {key: int(n or 0) for key, n in zip(querysets, row, strict=True)}


def _attention_querysets() -> dict[str, QuerySet[Any]]:
    """What each reason of :func:`attention` counts."""
    soon = timezone.now() + timedelta(days=settings.EXPIRY_WARNING_DAYS)
    querysets: dict[str, QuerySet[Any]] = {
        "expiry_feeds": Feed.objects.filter(current_token__isnull=False, current_token__expires_at__lte=soon),
        "expiry_targets": Target.objects.filter(credential_expires_at__lte=soon),
        "feed_check": _failing_feed_checks(),
        "delivery": _problem_deliveries(),
        "target": Target.objects.filter(health__in=FAILING_TARGET),
        "rotation": _rotations_failed(),
    }
    if apps.is_installed("findings"):
        querysets["findings"] = apps.get_model("findings", "Finding").objects.filter(status="open")
    return querysets


def _by_reason(counted: dict[str, int]) -> dict[str, int]:
    return {
        "expiry": counted["expiry_feeds"] + counted["expiry_targets"],
        "feed_check": counted["feed_check"],
        "delivery": counted["delivery"],
        "target": counted["target"],
        "rotation": counted["rotation"],
        "findings": 1 if counted.get("findings") else 0,
    }


def attention_counts() -> dict[str, int]:
    """How many entries each reason of :func:`attention` has, counted in one query (for the navigation)."""
    return _by_reason(count_together(_attention_querysets()))


def _bounded(qs: QuerySet[Any], key: str, where: str, lst: AttentionList, total: int) -> list[Any]:
    """At most ``PER_REASON`` rows of ``qs``; the rest (of ``total``, counted beforehand) in ``lst.more``."""
    if total > PER_REASON:
        lst.more[key] = (total - PER_REASON, where)
    return list(qs[:PER_REASON]) if total else []


def _in_flight_querysets() -> dict[str, QuerySet[Any]]:
    """What :func:`in_flight` looks for: running rotations, open pushes, unfinished checks."""
    from core.models import CheckRun

    return {
        "rotations_running": Rotation.objects.filter(status=Status.RUNNING),
        "pushes_open": Push.objects.filter(status__in=[PushStatus.PENDING, PushStatus.RUNNING]),
        "checks_open": CheckRun.objects.filter(status__in=RunState.values),
    }


def overview_counts() -> dict[str, int]:
    """Everything the overview counts, in one query: each reason of :func:`attention` (see
    :func:`_attention_querysets`), ``feeds`` (with a token), ``targets``, and what :func:`in_flight` looks for."""
    return count_together(
        {
            **_attention_querysets(),
            "feeds": Feed.objects.filter(current_token__isnull=False),
            "targets": Target.objects.all(),
            **_in_flight_querysets(),
        }
    )


def attention(expiry: list[ExpiryRow] | None = None, counted: dict[str, int] | None = None) -> AttentionList:
    """Everything that needs someone: expired or expiring credentials, feeds whose latest credential check is not
    ok, failed or stale deliveries, targets in warning or failing, failed rotations, open findings. Each entry has
    its reason and one action. ``expiry``: at least the ``PER_REASON`` soonest credentials
    (:func:`credentials_by_expiry`; the expiring ones come first); ``counted``: :func:`overview_counts` or
    :func:`count_together` of :func:`_attention_querysets`, when the caller has them. One query per reason that
    has entries, and the counts."""
    lst = AttentionList()
    link = Links()
    if counted is None:
        counted = count_together(_attention_querysets())
    if expiry is None:
        expiry = credentials_by_expiry(limit=PER_REASON)
    expiring = [row for row in expiry if row.needs_attention]
    n_expiring = max(len(expiring), counted["expiry_feeds"] + counted["expiry_targets"])
    for row in expiring[:PER_REASON]:
        obj = row.obj
        when = "expired" if row.status == "expired" else "expires"
        detail, what, (verb, page) = (
            ("feeds:detail", "feed token", ("Rotate now", "rotations:rotate"))
            if row.kind == "feed"
            else ("targets:detail", "target credential", ("Replace", "targets:edit"))
        )
        lst.items.append(
            Attention(
                "expiry",
                obj.name,
                link(detail, obj.pk),
                row.status,
                f"{what} {when}",
                at=row.expires_at,
                action=Action(verb, link(page, obj.pk), ADMIN, "get", True),
            )
        )
    if n_expiring > PER_REASON:
        lst.more["expiry"] = (n_expiring - PER_REASON, reverse("overview") + "#expiry")

    failed_checks = _bounded(
        _failing_feed_checks()
        .select_related("feed")
        .only("status", "detail", "finished_at", "created_at", *(f"feed__{f}" for f in _FEED_ROW))
        .order_by("feed__name"),
        "feed_check",
        reverse("feeds:list"),
        lst,
        counted["feed_check"],
    )
    for check in failed_checks:
        feed = check.feed
        lst.items.append(
            Attention(
                "feed_check",
                feed.name,
                link("feeds:detail", feed.pk),
                check.status,
                f"credential check: {check.status.replace('_', ' ')}",
                detail=check.detail,
                at=check.finished_at or check.created_at,
                action=Action("Check now", link("feeds:check", feed.pk), OPERATOR),
            )
        )

    deliveries = _bounded(
        _problem_deliveries()
        .select_related("feed", "target")
        .only(*_DELIVERY_ROW)
        .order_by("status", "-updated_at", "id"),
        "delivery",
        reverse("targets:deliveries") + "?status=failed",
        lst,
        counted["delivery"],
    )
    for d in deliveries:
        failed = d.status == DeliveryStatus.FAILED
        lst.items.append(
            Attention(
                "delivery",
                f"{d.feed.name} → {d.target.name}",
                link("targets:delivery-detail", d.pk),
                d.status,
                "push failed" if failed else "stale: the feed's token changed since the last push",
                detail=d.last_error if failed else "",
                at=d.last_pushed_at or d.updated_at,
                action=Action(
                    "Retry" if failed else "Push now",
                    link("targets:delivery-push", d.pk),
                    OPERATOR,
                    primary=failed,
                ),
            )
        )

    targets = _bounded(
        Target.objects.filter(health__in=FAILING_TARGET).only(*_TARGET_ROW).order_by("health", "name"),
        "target",
        reverse("targets:list"),
        lst,
        counted["target"],
    )
    for t in targets:
        lst.items.append(
            Attention(
                "target",
                t.name,
                link("targets:detail", t.pk),
                t.health,
                f"health {t.health}",
                at=t.health_checked_at,
                action=Action("Check now", link("targets:check", t.pk), OPERATOR),
            )
        )

    rotations = _bounded(
        _rotations_failed()
        .select_related("feed", "target")
        .only(*_ROTATION_ROW, *(f"feed__{f}" for f in _FEED_ROW), *(f"target__{f}" for f in _TARGET_ROW))
        .order_by("-created_at"),
        "rotation",
        reverse("rotations:list") + "?status=failed",
        lst,
        counted["rotation"],
    )
    for r in rotations:
        subject = r.feed or r.target
        lst.items.append(
            Attention(
                "rotation",
                str(getattr(subject, "name", subject)),
                link("rotations:detail", r.pk),
                r.status,
                f"rotation failed at {r.phase}",
                detail=r.error,
                at=r.finished_at or r.updated_at,
                action=Action("Open", link("rotations:detail", r.pk), OPERATOR, "get"),
            )
        )

    n_findings = lst.open_findings = counted.get("findings", 0)
    if n_findings:
        lst.items.append(
            Attention(
                "findings",
                f"{n_findings} open finding{'s' if n_findings != 1 else ''}",
                reverse("findings:list") + "?status=open",
                "open",
                "credentials in plain sight on a target",
                action=Action("Open", reverse("findings:list") + "?status=open", OPERATOR, "get"),
            )
        )
    return lst


@dataclass
class MatrixRow:
    target: Target
    badge: str  # the target's health, made worse by a failed delivery
    cells: list[dict[str, Any]]  # one per column: {"status", "title"} (the detail, redacted) or empty
    strip: list[dict[str, Any]]  # past checks, oldest first: {"status", "at"}
    failed_deliveries: int
    checking: bool
    url: str = ""  # the target's page
    deliveries_url: str = ""  # its deliveries
    summary: str = ""  # its deliveries by status: "3 delivered · 1 failed"


def health_matrix(limit: int = 50, n_targets: int | None = None) -> dict[str, Any]:
    """Targets (those needing attention first) by the checks of their latest health check, with a strip of their
    last ``STRIP_LENGTH`` results. Two queries (a third counts the targets when ``n_targets`` is not given)."""
    from targets.queries import with_delivery_counts
    from targets.templatetags.targets_tags import delivery_summary

    # Pick the rows first, then count the deliveries of those only.
    first = Target.objects.order_by(
        Case(When(health=Health.FAILING, then=0), When(health=Health.WARNING, then=1), default=2), "name"
    ).values("pk")[:limit]
    targets = list(with_delivery_counts(Target.objects.filter(pk__in=Subquery(first)).only(*_TARGET_ROW)))
    ids = [t.pk for t in targets]
    ranked = (
        TargetCheck.objects.filter(target_id__in=ids)
        .annotate(
            rn=Window(RowNumber(), partition_by=[F("target_id")], order_by=[F("created_at").desc(), F("id").desc()])
        )
        .filter(rn__lte=STRIP_LENGTH)
        .order_by("target_id", "rn")
        .values("pk", "target_id", "status", "created_at", "results")
    )
    strips: dict[int, list[dict[str, Any]]] = defaultdict(list)
    latest_results: dict[int, list[dict[str, Any]]] = {}
    latest_status: dict[int, str] = {}
    for row in ranked:
        strips[row["target_id"]].append({"status": row["status"], "at": row["created_at"], "pk": row["pk"]})
    for row in ranked:
        if row["target_id"] not in latest_status:  # the first of each target is its latest
            latest_results[row["target_id"]] = [r for r in (row["results"] or []) if isinstance(r, dict)]
            latest_status[row["target_id"]] = row["status"]
    columns: list[str] = []
    for results in latest_results.values():
        for r in results:
            name = str(r.get("name", ""))
            if name and name not in columns:
                columns.append(name)
    rows = []
    link = Links()
    deliveries_url = reverse("targets:deliveries")
    titles: dict[str, str] = {}  # detail -> redacted: most cells of a column say the same
    for t in targets:
        found = {}
        for r in latest_results.get(t.pk, []):
            detail = str(r.get("detail") or "")
            title = titles.get(detail)
            if title is None:
                title = titles[detail] = redact(detail)
            found[str(r.get("name", ""))] = {"status": r.get("status", ""), "title": title}
        badge = t.health
        failed = getattr(t, "n_failed", 0)
        if failed and badge in (Health.OK, Health.UNKNOWN):
            badge = Health.WARNING
        rows.append(
            MatrixRow(
                target=t,
                badge=badge,
                cells=[found.get(c, {}) for c in columns],
                strip=list(reversed(strips.get(t.pk, []))),
                failed_deliveries=failed,
                checking=latest_status.get(t.pk) in RunState.values,
                url=link("targets:detail", t.pk),
                deliveries_url=f"{deliveries_url}?target={t.pk}",
                summary=delivery_summary(t),
            )
        )
    rows.sort(key=lambda r: (r.badge not in FAILING_TARGET, r.target.name))
    return {
        "columns": columns,
        "rows": rows,
        "more": max(0, (Target.objects.count() if n_targets is None else n_targets) - len(targets))
        if len(targets) >= limit
        else 0,
    }


def failing_deliveries(limit: int = 25) -> list[Delivery]:
    """The latest failed deliveries, each with ``overview_url``: its page."""
    deliveries = list(
        Delivery.objects.filter(status=DeliveryStatus.FAILED)
        .select_related("feed", "target")
        .only(*_DELIVERY_ROW)
        .order_by("-updated_at")[:limit]
    )
    link = Links()
    for d in deliveries:
        d.overview_url = link("targets:delivery-detail", d.pk)  # type: ignore[attr-defined]
    return deliveries


@dataclass
class RotationProgress:
    rotation: Rotation
    done: int
    total: int
    current: str
    url: str = ""  # the rotation's page

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def running_rotations(limit: int = 20) -> list[RotationProgress]:
    """Running rotations with how many of their steps are done. Two queries."""
    from django.db.models import Prefetch

    rotations = (
        Rotation.objects.filter(status=Status.RUNNING)
        .select_related("feed", "target")
        .only(*_ROTATION_ROW, *(f"feed__{f}" for f in _FEED_ROW), *(f"target__{f}" for f in _TARGET_ROW))
        .prefetch_related(Prefetch("steps", queryset=RotationStep.objects.order_by("id")))
        .order_by("-created_at")[:limit]
    )
    out = []
    link = Links()
    for r in rotations:
        order = CREDENTIAL_STEP_ORDER if r.target_id else STEP_ORDER
        steps = {s.name: s for s in r.steps.all()}
        done = sum(1 for name in order if name in steps and steps[name].status in DONE_STEPS)
        out.append(RotationProgress(r, done, len(order), r.phase, link("rotations:detail", r.pk)))
    return out


def in_flight(counted: dict[str, int] | None = None) -> bool:
    """Whether anything is running that the overview should follow (pushes, checks, rotations). One query, none
    when given :func:`overview_counts`."""
    if counted is None:
        counted = count_together(_in_flight_querysets())
    return bool(counted["rotations_running"] or counted["pushes_open"] or counted["checks_open"])
