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
from django.db.models import Case, Exists, F, Max, OuterRef, Q, QuerySet, When, Window
from django.db.models.functions import RowNumber
from django.urls import reverse
from django.utils import timezone

from core.models import RunState
from core.roles import ADMIN, OPERATOR
from dashboard.expiry import ExpiryRow, credentials_by_expiry
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


def _open_findings() -> int:
    if not apps.is_installed("findings"):
        return 0
    finding = apps.get_model("findings", "Finding")
    return int(finding.objects.filter(status="open").count())


def attention_counts() -> dict[str, int]:
    """How many entries each reason of :func:`attention` has, with COUNT queries only (for the navigation)."""
    now = timezone.now()
    soon = now + timedelta(days=settings.EXPIRY_WARNING_DAYS)
    return {
        "expiry": Feed.objects.filter(current_token__isnull=False, current_token__expires_at__lte=soon).count()
        + Target.objects.filter(credential_expires_at__lte=soon).count(),
        "feed_check": _failing_feed_checks().count(),
        "delivery": _problem_deliveries().count(),
        "target": Target.objects.filter(health__in=FAILING_TARGET).count(),
        "rotation": _rotations_failed().count(),
        "findings": 1 if _open_findings() else 0,
    }


def _bounded(qs: QuerySet[Any], key: str, where: str, lst: AttentionList) -> list[Any]:
    """At most ``PER_REASON`` rows of ``qs``; the rest counted in ``lst.more`` (one more query only when cut)."""
    rows = list(qs[: PER_REASON + 1])
    if len(rows) > PER_REASON:
        lst.more[key] = (qs.count() - PER_REASON, where)
        rows = rows[:PER_REASON]
    return rows


def attention(expiry: list[ExpiryRow] | None = None) -> AttentionList:
    """Everything that needs someone: expired or expiring credentials, feeds whose latest credential check is not
    ok, failed or stale deliveries, targets in warning or failing, failed rotations, open findings. Each entry has
    its reason and one action."""
    lst = AttentionList()
    expiring = [row for row in (credentials_by_expiry() if expiry is None else expiry) if row.needs_attention]
    for row in expiring[:PER_REASON]:
        obj = row.obj
        when = "expired" if row.status == "expired" else "expires"
        if row.kind == "feed":
            lst.items.append(
                Attention(
                    "expiry",
                    obj.name,
                    reverse("feeds:detail", args=[obj.pk]),
                    row.status,
                    f"feed token {when}",
                    at=row.expires_at,
                    action=Action("Rotate now", reverse("rotations:rotate", args=[obj.pk]), ADMIN, "get", True),
                )
            )
        else:
            lst.items.append(
                Attention(
                    "expiry",
                    obj.name,
                    reverse("targets:detail", args=[obj.pk]),
                    row.status,
                    f"target credential {when}",
                    at=row.expires_at,
                    action=Action("Replace", reverse("targets:edit", args=[obj.pk]), ADMIN, "get", True),
                )
            )
    if len(expiring) > PER_REASON:
        lst.more["expiry"] = (len(expiring) - PER_REASON, reverse("overview") + "#expiry")

    failed_checks = _bounded(
        _failing_feed_checks().select_related("feed").order_by("feed__name"), "feed_check", reverse("feeds:list"), lst
    )
    for check in failed_checks:
        feed = check.feed
        lst.items.append(
            Attention(
                "feed_check",
                feed.name,
                reverse("feeds:detail", args=[feed.pk]),
                check.status,
                f"credential check: {check.status.replace('_', ' ')}",
                detail=check.detail,
                at=check.finished_at or check.created_at,
                action=Action("Check now", reverse("feeds:check", args=[feed.pk]), OPERATOR),
            )
        )

    deliveries = _bounded(
        _problem_deliveries().select_related("feed", "target").order_by("status", "-updated_at", "id"),
        "delivery",
        reverse("targets:deliveries") + "?status=failed",
        lst,
    )
    for d in deliveries:
        failed = d.status == DeliveryStatus.FAILED
        lst.items.append(
            Attention(
                "delivery",
                f"{d.feed.name} → {d.target.name}",
                reverse("targets:delivery-detail", args=[d.pk]),
                d.status,
                "push failed" if failed else "stale: the feed's token changed since the last push",
                detail=d.last_error if failed else "",
                at=d.last_pushed_at or d.updated_at,
                action=Action(
                    "Retry" if failed else "Push now",
                    reverse("targets:delivery-push", args=[d.pk]),
                    OPERATOR,
                    primary=failed,
                ),
            )
        )

    targets = _bounded(
        Target.objects.filter(health__in=FAILING_TARGET).order_by("health", "name"),
        "target",
        reverse("targets:list"),
        lst,
    )
    for t in targets:
        lst.items.append(
            Attention(
                "target",
                t.name,
                reverse("targets:detail", args=[t.pk]),
                t.health,
                f"health {t.health}",
                at=t.health_checked_at,
                action=Action("Check now", reverse("targets:check", args=[t.pk]), OPERATOR),
            )
        )

    rotations = _bounded(
        _rotations_failed().select_related("feed", "target").order_by("-created_at"),
        "rotation",
        reverse("rotations:list") + "?status=failed",
        lst,
    )
    for r in rotations:
        subject = r.feed or r.target
        lst.items.append(
            Attention(
                "rotation",
                str(getattr(subject, "name", subject)),
                reverse("rotations:detail", args=[r.pk]),
                r.status,
                f"rotation failed at {r.phase}",
                detail=r.error,
                at=r.finished_at or r.updated_at,
                action=Action("Open", reverse("rotations:detail", args=[r.pk]), OPERATOR, "get"),
            )
        )

    n_findings = lst.open_findings = _open_findings()
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
    cells: list[dict[str, Any]]  # one per column: {"status", "detail"} or empty
    strip: list[dict[str, Any]]  # past checks, oldest first: {"status", "at"}
    failed_deliveries: int
    checking: bool


def health_matrix(limit: int = 50) -> dict[str, Any]:
    """Targets (those needing attention first) by the checks of their latest health check, with a strip of their
    last ``STRIP_LENGTH`` results. Three queries."""
    from targets.queries import with_delivery_counts

    # Pick the rows first, then count the deliveries of those only.
    first = Target.objects.order_by(
        Case(When(health=Health.FAILING, then=0), When(health=Health.WARNING, then=1), default=2), "name"
    ).values_list("pk", flat=True)[:limit]
    targets = list(with_delivery_counts(Target.objects.filter(pk__in=list(first))))
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
    for t in targets:
        found = {str(r.get("name", "")): r for r in latest_results.get(t.pk, [])}
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
            )
        )
    rows.sort(key=lambda r: (r.badge not in FAILING_TARGET, r.target.name))
    return {
        "columns": columns,
        "rows": rows,
        "more": max(0, Target.objects.count() - len(targets)) if len(targets) >= limit else 0,
    }


def failing_deliveries(limit: int = 25) -> list[Delivery]:
    return list(
        Delivery.objects.filter(status=DeliveryStatus.FAILED)
        .select_related("feed", "target")
        .order_by("-updated_at")[:limit]
    )


@dataclass
class RotationProgress:
    rotation: Rotation
    done: int
    total: int
    current: str

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def running_rotations(limit: int = 20) -> list[RotationProgress]:
    """Running rotations with how many of their steps are done. Two queries."""
    from django.db.models import Prefetch

    rotations = (
        Rotation.objects.filter(status=Status.RUNNING)
        .select_related("feed", "target")
        .prefetch_related(Prefetch("steps", queryset=RotationStep.objects.order_by("id")))
        .order_by("-created_at")[:limit]
    )
    out = []
    for r in rotations:
        order = CREDENTIAL_STEP_ORDER if r.target_id else STEP_ORDER
        steps = {s.name: s for s in r.steps.all()}
        done = sum(1 for name in order if name in steps and steps[name].status in DONE_STEPS)
        out.append(RotationProgress(r, done, len(order), r.phase))
    return out


def in_flight(rotations_running: bool | None = None) -> bool:
    """Whether anything is running that the overview should follow (pushes, checks, rotations). At most three
    queries; ``rotations_running`` when the caller knows already."""
    if rotations_running is None:
        rotations_running = Rotation.objects.filter(status=Status.RUNNING).exists()
    if rotations_running:
        return True
    if Push.objects.filter(status__in=[PushStatus.PENDING, PushStatus.RUNNING]).exists():
        return True
    from core.models import CheckRun

    return CheckRun.objects.filter(status__in=RunState.values).exists()
