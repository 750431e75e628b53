"""Page benchmark: every page but the audit history's, over 1000 targets, 100 feeds, 3000 deliveries and many audit
events. Run by hand; never part of the test suite.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \\
        python -m bench.pages [--targets 1000 --feeds 100 --deliveries 3000 --events 100000 --requests 30]

1. Backend as ``bench.fanout`` (a scratch PostgreSQL database, ``BENCH_DB`` or ``feedkeeper_bench``; SQLite in a
   temporary ``DATA_DIR`` without ``DATABASE_URL``), migrated, ``config.settings.local`` with ``DJANGO_DEBUG=False``.
2. Seeds a tenth of the rows, counts the SQL queries of each page (Django's test client in the bench process,
   ``CaptureQueriesContext``), then seeds the rest and counts again: a page whose count grows has an N+1.
   Rows: feeds with a token and two credential checks each, targets with two health checks (results of three
   checks), deliveries spread over them (5% failed, 5% stale), one push per delivery, running and failed rotations,
   and ``--events`` audit events (``bench.audit.seed``, COPY on PostgreSQL).
3. Times each page server-side: ``--requests`` sequential GETs after a warm-up through the WSGI handler (the
   middleware stack the web process runs, without the socket), as a viewer; p50 and p95 in ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from typing import Any

from bench.fanout import Backend, say, setup_django

TARGET_KINDS = ("databricks", "valohai", "github")
MODES = {"databricks": "secret", "valohai": "project_variable", "github": "actions_org_secret"}


def seed(targets: int, feeds: int, deliveries: int, start: int = 0, feed_start: int = 0) -> None:
    """Adds ``feeds`` feeds and ``targets`` targets (numbered from ``feed_start`` / ``start``) and ``deliveries``
    deliveries between them, with their checks and pushes."""
    from django.utils import timezone

    from core import crypto
    from feeds.models import Feed, FeedCheck, TokenVersion
    from rotations.models import Rotation
    from targets.models import Delivery, Push, Target, TargetCheck

    now = timezone.now()
    token = "bench-token-0123456789"
    ciphertext, fingerprint = crypto.encrypt(token), crypto.fingerprint(token)
    new_feeds = Feed.objects.bulk_create(
        [
            Feed(name=f"feed-{feed_start + i:04d}", kind="generic", index_url=f"https://pkgs{i}.example/simple/")
            for i in range(feeds)
        ]
    )
    versions = TokenVersion.objects.bulk_create(
        [
            TokenVersion(
                feed=f,
                ciphertext=ciphertext,
                fingerprint=fingerprint,
                expires_at=now + timedelta(days=3 + i * 5),
            )
            for i, f in enumerate(new_feeds)
        ]
    )
    for f, v in zip(new_feeds, versions, strict=True):
        f.current_token = v
    Feed.objects.bulk_update(new_feeds, ["current_token"])
    for i, f in enumerate(new_feeds):
        FeedCheck.objects.create(feed=f, status="ok", fingerprint=fingerprint, created_at=now - timedelta(hours=2))
        FeedCheck.objects.create(feed=f, status="forbidden" if i % 20 == 0 else "ok", fingerprint=fingerprint)
    credential = crypto.encrypt("bench-credential")
    new_targets = Target.objects.bulk_create(
        [
            Target(
                name=f"target-{start + i:04d}",
                kind=TARGET_KINDS[i % 3],
                url="https://adb-1.azuredatabricks.net" if i % 3 == 0 else "https://app.valohai.com",
                auth_type="pat" if i % 3 == 0 else "token",
                config={"organization": f"org-{i}"} if i % 3 else {},
                credential=credential,
                credential_fingerprint=crypto.fingerprint("bench-credential"),
                health="warning" if i % 25 == 0 else "ok",
                health_checked_at=now,
            )
            for i in range(targets)
        ]
    )
    results = [{"name": n, "status": "ok", "detail": "fine"} for n in ("authentication", "permissions", "secrets")]
    for t in new_targets:
        TargetCheck.objects.create(target=t, status="ok", results=results, created_at=now - timedelta(hours=1))
        TargetCheck.objects.create(target=t, status=t.health, results=results)
    rows = []
    for i in range(deliveries):
        t = new_targets[i % len(new_targets)]
        f = new_feeds[i % len(new_feeds)]
        status = "failed" if i % 20 == 0 else "stale" if i % 20 == 1 else "delivered"
        rows.append(
            Delivery(
                feed=f,
                target=t,
                mode=MODES[t.kind],
                config={"scope": f"s{i}", "key": "k"} if t.kind == "databricks" else {},
                location=f"place {start}-{i}",
                status=status,
                last_error="401 Unauthorized" if status == "failed" else "",
                delivered_fingerprint=fingerprint,
                last_pushed_at=now,
            )
        )
    created = Delivery.objects.bulk_create(rows)
    Push.objects.bulk_create(
        [
            Push(
                delivery=d,
                target=d.target,
                status="failed" if d.status == "failed" else "succeeded",
                fingerprint=fingerprint,
                error=d.last_error,
            )
            for d in created
        ]
    )
    Rotation.objects.create(feed=new_feeds[0], status="failed", phase="push", error="push failed")
    rotation = Rotation.objects.create(feed=new_feeds[1], status="running", phase="push")
    rotation.steps.create(name="mint", status="done")
    rotation.steps.create(name="test", status="done")
    rotation.steps.create(name="push", status="running")


def pages() -> list[tuple[str, str]]:
    from feeds.models import Feed
    from rotations.models import Rotation
    from targets.models import Delivery, Target

    feed = Feed.objects.order_by("id").first()
    target = Target.objects.order_by("id").first()
    delivery = Delivery.objects.order_by("id").first()
    rotation = Rotation.objects.order_by("id").first()
    assert feed and target and delivery and rotation
    return [
        ("overview", "/"),
        ("overview, live part (htmx)", "/?live"),
        ("feeds", "/feeds/"),
        ("feed", f"/feeds/{feed.pk}/"),
        ("targets", "/targets/"),
        ("target", f"/targets/{target.pk}/"),
        ("deliveries (first page)", "/targets/deliveries/"),
        ("deliveries, failed", "/targets/deliveries/?status=failed"),
        ("delivery", f"/targets/deliveries/{delivery.pk}/"),
        ("rotations", "/rotations/"),
        ("rotation", f"/rotations/{rotation.pk}/"),
        ("findings", "/findings/"),
        ("API tokens", "/account/tokens/"),
    ]


def get(client: Any, url: str) -> Any:
    if url.endswith("?live"):
        return client.get(url[: -len("?live")], HTTP_HX_REQUEST="true")
    return client.get(url)


def count_queries(client: Any, cases: list[tuple[str, str]]) -> dict[str, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for name, url in cases:
        get(client, url)
        with CaptureQueriesContext(connection) as q:
            response = get(client, url)
        assert response.status_code == 200, (url, response.status_code)
        counts[name] = len(q.captured_queries)
    return counts


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args(argv)

    backend = Backend()
    backend.create()
    try:
        setup_django(backend.env)
        from django.contrib.auth.models import Group, User
        from django.test import Client

        from bench.audit import seed as seed_events

        if args.events:  # first: it numbers the events from 1
            seed_events(args.events)
        user = User.objects.create_user(username="bench-viewer")
        user.groups.add(Group.objects.get_or_create(name="viewer")[0])
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)

        tenth = (max(1, args.targets // 10), max(2, args.feeds // 10), max(1, args.deliveries // 10))
        seed(*tenth)
        small = count_queries(client, pages())
        t0 = time.monotonic()
        seed(args.targets - tenth[0], args.feeds - tenth[1], args.deliveries - tenth[2], tenth[0], tenth[1])
        say(
            f"seed: {args.targets} targets, {args.feeds} feeds, {args.deliveries} deliveries in "
            f"{time.monotonic() - t0:.1f} s"
        )
        cases = pages()
        full = count_queries(client, cases)
        say(f"backend: {backend.label}; {args.requests} requests per page after 3 warm-up requests, as a viewer")
        say(f"{'page':34} {'p50 ms':>8} {'p95 ms':>8} {'queries (10% / 100% of rows)':>30}")
        worst = 0.0
        for name, url in cases:
            for _ in range(3):
                get(client, url)
            times = []
            for _ in range(args.requests):
                t = time.perf_counter()
                get(client, url)
                times.append((time.perf_counter() - t) * 1000)
            p95 = percentile(times, 95)
            worst = max(worst, p95)
            grows = "" if full[name] <= small[name] else "  GROWS"
            say(f"{name:34} {statistics.median(times):8.1f} {p95:8.1f} {small[name]:>14} / {full[name]:<13}{grows}")
        say(f"slowest p95: {worst:.1f} ms (goal < 100 ms)")
    finally:
        backend.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
