"""What the demo prints: the banner (where to click, what to run) and a live feed of what the dashboard does."""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from demo.platform import DEMO_FEED, Running
from demo.seed import Login, Seeded, wait_until
from demo.services import Index

BAR = "=" * 78
# The API contract's smoke script is kept outside this repository; CONTRACT_SMOKE says where (default: its name).
SMOKE = Path(os.environ.get("CONTRACT_SMOKE", "contract_smoke.py"))


@dataclass(frozen=True)
class Endpoints:
    dashboard: str
    index: Index
    platforms: list[Running[Any]]
    data_dir: Path
    backend: str


def _display_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def smoke_command(ep: Endpoints, login: Login) -> str:
    """The exact contract_smoke.py command line for this demo: the dashboard, the index, and each platform's
    arguments (:meth:`demo.platform.DemoPlatform.smoke_args`)."""
    script = _display_path(SMOKE) if SMOKE.exists() else str(SMOKE)
    args = [
        "python3",
        script,
        "--base",
        ep.dashboard.rstrip("/"),
        "--token",
        login.api_token,
        "--index-url",
        ep.index.url,
        "--index-user",
        ep.index.username,
        "--index-token",
        ep.index.token,
    ]
    if ep.index.spare_token:
        args += ["--rotate-token", ep.index.spare_token]
    for running in ep.platforms:
        args += running.smoke_args()
    return " ".join(shlex.quote(a) for a in args)


def banner(ep: Endpoints, login: Login, seeded: Seeded) -> str:
    """The framed banner: where to log in, the index, each platform's lines, notes, and the smoke command."""
    lines = [
        BAR,
        "Feedkeeper demo is running.",
        "",
        f"  Dashboard     {ep.dashboard}",
        f"  Log in        {login.username} / {login.password}",
        f"  API token     {login.api_token}",
        "                (curl -H 'Authorization: Bearer <token>' " + ep.dashboard + "api/v1/feeds/)",
        "",
        f"  Private index {ep.index.url}  user {ep.index.username}  token {ep.index.token}",
        f"                (package {ep.index.package}; the feed {DEMO_FEED} starts with this token, due for rotation:",
        "                the scheduler rotates it through the JFrog connection within a minute)",
    ]
    for running in ep.platforms:
        lines += ["  " + line for line in running.banner_lines()]
    lines += [
        "",
        f"  Data          {_display_path(ep.data_dir)} ({ep.backend}); logs in "
        f"{_display_path(ep.data_dir / 'logs')}/*.log",
    ]
    for note in seeded.notes:
        lines.append(f"  Note: {note}")
    lines += [
        "",
        "API contract smoke test (another terminal, from the repository root):",
        "  " + smoke_command(ep, login),
        "",
        "Press Ctrl-C to stop everything.",
        BAR,
    ]
    return "\n".join(lines)


def wait_for_first_results(
    seeded: Seeded, actor: Any, say: Callable[[str], None], alive: Callable[[], None], timeout: float = 45
) -> None:
    """Wait (bounded) for the seeded pushes (every platform's deliveries) and feed checks to end, then check each
    target again (its first check ran before its deliveries existed) and print one line per push and check. The
    checks are requested only once the pushes have ended, so they report what was delivered."""
    from core.models import RunState
    from feeds.models import FeedCheck
    from targets.checks import target_check_request
    from targets.models import Delivery, TargetCheck

    delivery_ids = [d.pk for d in seeded.deliveries]
    feed_ids = [f.pk for f in seeded.feeds.values()]
    open_states = RunState.values

    def settled() -> bool:
        return not (
            Delivery.objects.filter(pk__in=delivery_ids).exclude(status__in=["delivered", "failed", "stale"]).exists()
            or FeedCheck.objects.filter(feed_id__in=feed_ids, status__in=open_states).exists()
        )

    if not wait_until(settled, alive, timeout):
        say(f"  (pushes still running after {timeout:.0f}s; the activity below shows what finishes)")
    for d in Delivery.objects.filter(pk__in=delivery_ids).select_related("feed", "target").order_by("id"):
        extra = f" ({d.last_error})" if d.last_error else ""
        say(f"  push   {d.feed.name} -> {d.target.name} [{d.location}]: {d.status}{extra}")
    for fid in feed_ids:
        fc = FeedCheck.objects.filter(feed_id=fid).select_related("feed").order_by("-id").first()
        if fc is not None:
            say(f"  check  feed {fc.feed.name}: {fc.status}" + (f" ({fc.detail[:100]})" if fc.detail else ""))
    checks = [target_check_request(actor=actor, target=t).pk for t in seeded.targets.values()]
    if not wait_until(
        lambda: not TargetCheck.objects.filter(pk__in=checks, status__in=open_states).exists(), alive, 30
    ):
        say("  (target checks still running after 30s)")
    for tc in TargetCheck.objects.filter(pk__in=checks).select_related("target").order_by("id"):
        failing = [f"{r.get('name')}: {r.get('status')}" for r in (tc.results or []) if r.get("status") != "ok"]
        say(
            f"  check  target {tc.target.name}: {tc.status}, {len(tc.results or [])} health checks"
            + (f" (not ok: {'; '.join(failing)})" if failing else "")
        )


class Activity:
    """Prints audit events as they happen (what the dashboard, the API and the worker do)."""

    def __init__(self) -> None:
        from audit.models import AuditEvent

        last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
        self.last_id = last or 0

    def poll(self, say: Callable[[str], None]) -> None:
        from django.db import connection

        from audit.models import AuditEvent

        events = list(AuditEvent.objects.filter(id__gt=self.last_id).order_by("id")[:200])
        for e in events:
            when = e.at.astimezone().strftime("%H:%M:%S")
            outcome = "" if e.outcome == "success" else f"  [{e.outcome}]"
            say(f"  {when}  {e.actor_name:<10} {e.action:<26} {e.object_repr[:90]}{outcome}")
            self.last_id = e.id
        connection.close()  # do not hold the SQLite file between polls
