"""Audit-history benchmark: a million events, the app started as `make run` starts it, timed over HTTP. Run by
hand; never part of the test suite.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \\
        python -m bench.audit [--events 1000000 --requests 40 --keep]

1. Backend as ``bench.fanout`` (a scratch PostgreSQL database, ``BENCH_DB`` or ``feedkeeper_bench``; SQLite in a
   temporary ``DATA_DIR`` without ``DATABASE_URL``), migrated.
2. Seeds ``--events`` sealed events with COPY, the chain computed in Python with the app's own hash function
   (``audit.chain.event_hash``), so ``verify`` checks real hashes; the trigram index is built after the load.
3. Starts the Procfile's ``web`` line (gunicorn, 2 workers, 4 threads each) and times, over HTTP on loopback, the API
   list (first page, filtered, a deep keyset page, text search), the audit page (same), the CSV export's first
   byte and the full verification; p50/p95 of ``--requests`` sequential requests after a warm-up.
4. Counts SQL queries per request with Django's test client (``CaptureQueriesContext``) in the bench process.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.fanout import BASE_DIR, Backend, procfile_argv, say, setup_django

ACTIONS = [
    ("target.check", 30),
    ("delivery.push", 25),
    ("feed.check", 15),
    ("login", 5),
    ("api.unauthorized", 4),
    ("delivery.update", 4),
    ("feed.update", 3),
    ("rotation.step", 3),
    ("page.forbidden", 2),
    ("feed.token_replace", 2),
    ("target.create", 1),
    ("feed.create", 1),
    ("user.update", 1),
    ("admin.change", 1),
    ("encryption.rotate_key", 0.05),
]
TYPES = {
    "target.check": "target",
    "delivery.push": "delivery",
    "feed.check": "feed",
    "login": "user",
    "api.unauthorized": "request",
    "delivery.update": "delivery",
    "feed.update": "feed",
    "rotation.step": "rotation",
    "page.forbidden": "request",
    "feed.token_replace": "feed",
    "target.create": "target",
    "feed.create": "feed",
    "user.update": "user",
    "admin.change": "group",
    "encryption.rotate_key": "encryption",
}
ACTORS = ["scheduler", "worker", "alice", "bob", "carol", "dave", "anonymous", "system"]
COLUMNS = (
    "id",
    "at",
    "actor_id",
    "actor_name",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "outcome",
    "detail",
    "seq",
    "prev_hash",
    "hash",
)


def seed(n: int) -> dict[str, Any]:
    """``n`` sealed events over the last year, newest last, loaded with COPY (PostgreSQL) or bulk insert."""
    from django.db import connection

    from audit import triggers
    from audit.chain import GENESIS, event_hash
    from audit.models import AuditChainHead

    rng = random.Random(42)
    names = [a for a, _ in ACTIONS]
    weights = [w for _, w in ACTIONS]
    start = datetime.now(UTC) - timedelta(days=365)
    step = timedelta(days=365) / n
    prev = GENESIS
    rare = ""

    def rows() -> Any:
        nonlocal prev, rare
        for i in range(1, n + 1):
            action = rng.choices(names, weights)[0]
            object_type = TYPES[action]
            object_id = str(rng.randrange(1, 2000))
            fingerprint = f"{rng.getrandbits(48):012x}"
            outcome = "denied" if action in ("api.unauthorized", "page.forbidden") else "success"
            if action == "target.check" and rng.random() < 0.1:
                outcome = "warning"
            row = {
                "id": i,
                "at": start + step * i,
                "actor_id": None,
                "actor_name": rng.choice(ACTORS),
                "action": action,
                "object_type": object_type,
                "object_id": object_id,
                "object_repr": f"{object_type}-{object_id}",
                "outcome": outcome,
                "detail": {"fingerprint": fingerprint, "status": outcome, "n": i},
            }
            digest = event_hash(row, seq=i, prev_hash=prev)
            if i == n // 2:
                rare = fingerprint
            yield row, prev, digest
            prev = digest

    t0 = time.monotonic()
    if connection.vendor == "postgresql":
        triggers.uninstall_search(connection)
        with connection.cursor() as cursor:
            raw = cursor.cursor  # psycopg's own cursor: COPY
            with raw.copy(f"COPY audit_auditevent ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row, prev_hash, digest in rows():
                    copy.write_row(
                        (
                            row["id"],
                            row["at"],
                            None,
                            row["actor_name"],
                            row["action"],
                            row["object_type"],
                            row["object_id"],
                            row["object_repr"],
                            row["outcome"],
                            json.dumps(row["detail"]),
                            row["id"],
                            prev_hash,
                            digest,
                        )
                    )
            cursor.execute("SELECT setval('audit_auditevent_id_seq', %s)", [n])
        load = time.monotonic() - t0
        t1 = time.monotonic()
        triggers.install_search(connection)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE audit_auditevent")
        index = time.monotonic() - t1
    else:
        from audit.models import AuditEvent

        batch: list[AuditEvent] = []
        for row, prev_hash, digest in rows():
            batch.append(AuditEvent(**row, seq=row["id"], prev_hash=prev_hash, hash=digest))
            if len(batch) == 5000:
                AuditEvent.objects.bulk_create(batch)
                batch = []
        AuditEvent.objects.bulk_create(batch)
        load, index = time.monotonic() - t0, 0.0
    AuditChainHead.objects.update_or_create(pk=1, defaults={"seq": n, "hash": prev})
    say(f"seed: {n} events loaded in {load:.1f} s, search index built in {index:.1f} s")
    return {"rare_fingerprint": rare, "start": start}


def start_web(env: dict[str, str], port: int, log: Any) -> subprocess.Popen[bytes]:
    argv = [a.replace("${WEB_BIND}", f"127.0.0.1:{port}") for a in procfile_argv("web", 0)]
    return subprocess.Popen(argv, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def timed(client: Any, url: str, requests: int) -> tuple[float, float, int]:
    for _ in range(3):
        client.get(url)
    times = []
    status = 0
    for _ in range(requests):
        t0 = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        status = response.status_code
    return statistics.median(times), percentile(times, 95), status


def deep_cursor(depth: int) -> str:
    from audit.models import AuditEvent
    from audit.pagination import OLDER, encode_cursor

    event = AuditEvent.objects.order_by("-at", "-id")[depth : depth + 1].get()
    return encode_cursor(event, OLDER)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept scratch database (no new seed)")
    args = parser.parse_args(argv)

    backend = Backend()
    if args.reuse and backend.pg_admin_url:
        backend.env["DATA_DIR"] = os.environ.get("BENCH_DATA_DIR", str(backend.data_dir))
    else:
        backend.create()
    web = None
    log_path = backend.data_dir / "web.log"
    try:
        setup_django(backend.env)
        import httpx
        from django.contrib.auth.models import Group, User
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from audit.chain import audit_verify
        from audit.models import AuditEvent
        from audit.services import audit_record
        from core.models import ApiToken

        existing = AuditEvent.objects.count()
        if existing < args.events:
            info = seed(args.events - existing) if existing == 0 else {"rare_fingerprint": ""}
        else:
            say(f"seed: reusing {existing} events")
            info = {"rare_fingerprint": ""}
        rare = (
            info["rare_fingerprint"]
            or AuditEvent.objects.filter(
                seq=AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() // 2
            )
            .values_list("detail__fingerprint", flat=True)
            .first()
        )
        user, _ = User.objects.get_or_create(username="bench-viewer")
        user.groups.add(Group.objects.get_or_create(name="viewer")[0])
        _, token = ApiToken.issue(user=user, name="bench")
        page_client = Client(HTTP_HOST="127.0.0.1")
        page_client.force_login(user)
        session = page_client.cookies["sessionid"].value

        middle = datetime.now(UTC) - timedelta(days=180)
        week = {"since": middle.isoformat(), "until": (middle + timedelta(days=7)).isoformat()}
        deep = deep_cursor(int(AuditEvent.objects.count() * 0.9))
        cases = [
            ("first page", ""),
            ("filtered: action=target.check (30%)", "action=target.check"),
            ("filtered: action=encryption.rotate_key (0.05%)", "action=encryption.rotate_key"),
            ("filtered: object_type=feed&object_id=42", "object_type=feed&object_id=42"),
            ("filtered: outcome=denied&actor=anonymous", "outcome=denied&actor=anonymous"),
            ("filtered: one week, 6 months back", httpx.QueryParams(week).__str__()),
            ("deep page (90% down, keyset cursor)", f"cursor={deep}"),
            ("q: a fingerprint (1 event)", f"q={rare}"),
            ("q: 'delivery-17' (rare phrase)", "q=delivery-17"),
            ("q: 'push' (25% of events)", "q=push"),
        ]

        web = start_web(backend.env, args.port, log_path.open("wb"))
        base = f"http://127.0.0.1:{args.port}"
        http = httpx.Client(base_url=base, timeout=120)
        for _ in range(100):
            try:
                if http.get("/healthz").status_code in (200, 503):
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        api_http = httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"})
        page_http = httpx.Client(base_url=base, timeout=120, cookies={"sessionid": session})

        say(f"backend: {backend.label}; {AuditEvent.objects.count()} events; web: the Procfile's gunicorn line")
        say(f"{'case':50} {'API p50':>9} {'API p95':>9} {'page p50':>9} {'page p95':>9}  queries API/page")
        from rest_framework.test import APIClient

        api_test = APIClient(HTTP_HOST="127.0.0.1")
        api_test.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        results = []
        for name, query in cases:
            suffix = f"?{query}" if query else ""
            a50, a95, astatus = timed(api_http, f"/api/v1/audit/{suffix}", args.requests)
            p50, p95, pstatus = timed(page_http, f"/audit/{suffix}", args.requests)
            with CaptureQueriesContext(connection) as api_q:
                api_test.get(f"/api/v1/audit/{suffix}")
            with CaptureQueriesContext(connection) as page_q:
                page_client.get(f"/audit/{suffix}")
            line = (
                f"{name:50} {a50:7.1f}ms {a95:7.1f}ms {p50:7.1f}ms {p95:7.1f}ms  "
                f"{len(api_q.captured_queries)}/{len(page_q.captured_queries)}"
            )
            if astatus != 200 or pstatus != 200:
                line += f"  (status {astatus}/{pstatus})"
            say(line)
            results.append((name, a50, a95, p50, p95))

        firsts = []
        for _ in range(10):
            t0 = time.perf_counter()
            with api_http.stream("GET", "/api/v1/audit/export/") as response:
                for _chunk in response.iter_bytes():
                    firsts.append((time.perf_counter() - t0) * 1000)
                    break
        t0 = time.perf_counter()
        lines = 0
        with api_http.stream("GET", "/api/v1/audit/export/?action=target.check") as response:
            for _line in response.iter_lines():
                lines += 1
                if lines >= 100_000:
                    break
        rate = lines / (time.perf_counter() - t0)
        say(f"export: first byte p50 {statistics.median(firsts):.1f} ms; {rate:,.0f} rows/s streamed (100k rows)")

        t0 = time.perf_counter()
        over_http = api_http.get("/api/v1/audit/verify/").json()
        http_verify = time.perf_counter() - t0
        say(f"verify over HTTP (GET /api/v1/audit/verify/): {http_verify:.1f} s, {over_http}")
        t0 = time.perf_counter()
        result = audit_verify()
        full = time.perf_counter() - t0
        for i in range(100):
            audit_record(actor="bench", action="bench.append", object_id=i + 1)
        t0 = time.perf_counter()
        incremental = audit_verify(incremental=True)
        inc = time.perf_counter() - t0
        say(
            f"verify: full {result.events} events in {full:.1f} s (intact={result.intact}); "
            f"incremental (+100) in {inc * 1000:.0f} ms (intact={incremental.intact})"
        )
        return 0
    finally:
        if web is not None:
            web.terminate()
            try:
                web.wait(timeout=10)
            except subprocess.TimeoutExpired:
                web.kill()
        if not args.keep:
            backend.drop()
        else:
            say(f"kept the scratch database; web log: {log_path}")


if __name__ == "__main__":
    sys.exit(main())
