"""Fan-out benchmark: push one feed to 1000 deliveries over 100 simulated workspaces through a real Celery worker,
then the same adapter calls one after another, and compare. Run by hand; never part of the test suite.

    python -m bench.fanout [--deliveries 1000 --workspaces 100 --latency-ms 100 --concurrency 16
                            --max-concurrency 4 --sequential-sample 100 --platform databricks|valohai|github]

Processes: exactly what ``make run`` starts (the ``worker`` and ``beat`` lines of the Procfile; ``--workers`` worker
processes = the Makefile's ``WORKER_PROCESSES``, one per core, each with ``--concurrency`` = its
``WORKER_CONCURRENCY`` threads, unless given); the web process is not needed, the operator's "push all" runs in this
process. ``BENCH_PROFILE=DIR`` (with py-spy installed) samples each worker during the fan-out into DIR.

Backend: PostgreSQL + Redis when DATABASE_URL and REDIS_URL are set (a scratch database ``feedkeeper_bench``, or
``BENCH_DB``, is created on that server and dropped afterwards; Redis database 2, or ``BENCH_REDIS_DB``, is flushed
before and after), else SQLite and the file-system broker in a temporary DATA_DIR. See bench/README.md for figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
SCRATCH_DB = os.environ.get("BENCH_DB", "feedkeeper_bench")
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "2"))
if not re.fullmatch(r"[a-z_][a-z0-9_]*", SCRATCH_DB):
    raise SystemExit(f"BENCH_DB={SCRATCH_DB!r} is not a plain database name")


def say(text: str) -> None:
    print(text, flush=True)


# --- the simulator, in its own process -------------------------------------------------------------------------
def serve_sim(platform: str, workspaces: int, per_target: int, latency_ms: float) -> int:
    """Child-process mode: start the simulator, print one JSON line describing it, serve until SIGTERM."""
    latency = latency_ms / 1000.0
    sim: Any
    if platform == "databricks":
        from simulators.databricks import DatabricksSimulator

        sim = DatabricksSimulator(workspaces=workspaces, latency=latency, port=0)
        sim.start()
        ready: dict[str, Any] = {"urls": list(sim.urls), "token": "dapi-sim-token"}
    elif platform == "github":
        from simulators.github import GitHubSimulator

        sim = GitHubSimulator(latency=latency, port=0, rate_limit=1_000_000)
        gh_orgs: dict[str, list[str]] = {}
        for i in range(1, workspaces + 1):
            sim.add_org(f"org-{i}")
            gh_orgs[f"org-{i}"] = [sim.add_repo(f"org-{i}", f"repo-{j}")["name"] for j in range(1, per_target + 1)]
        sim.add_token("ghp-bench", "bench", admin_of=list(gh_orgs))
        sim.start()
        ready = {"url": sim.api_url, "token": "ghp-bench", "orgs": gh_orgs}
    else:
        from simulators.valohai import ValohaiSimulator

        sim = ValohaiSimulator(latency=latency, port=0)
        orgs: dict[str, list[str]] = {}
        for i in range(1, workspaces + 1):
            sim.add_organization(f"org-{i}")
            orgs[f"org-{i}"] = [sim.add_project(f"org-{i}", f"project-{j}")["id"] for j in range(1, per_target + 1)]
        sim.start()
        ready = {"url": sim.url, "token": "vh-sim-token", "orgs": orgs}
    return serve_until_stopped(sim, ready)


def serve_until_stopped(sim: Any, ready: dict[str, Any]) -> int:
    """Print ``ready`` as one JSON line (the parent reads it), then serve until SIGTERM or SIGINT."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(json.dumps(ready), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
    return 0


def start_sim(args: argparse.Namespace, env: dict[str, str], per_target: int) -> tuple[subprocess.Popen[str], Any]:
    argv = [
        sys.executable,
        "-m",
        "bench.fanout",
        "--serve-sim",
        args.platform,
        "--workspaces",
        str(args.workspaces),
        "--deliveries",
        str(args.deliveries),
        "--latency-ms",
        str(args.latency_ms),
    ]
    proc = subprocess.Popen(argv, cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError("the simulator did not start")
    return proc, json.loads(line)


# --- backend ---------------------------------------------------------------------------------------------------
class Backend:
    """Environment for the bench process and its worker; creates and later removes the scratch stores."""

    def __init__(self) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="feedkeeper-bench-"))
        self.env = dict(os.environ)
        self.env.update(
            {
                "DATA_DIR": str(self.data_dir),
                "DJANGO_SETTINGS_MODULE": "config.settings.local",
                "DJANGO_DEBUG": "False",
                "PLAIN_HTTP_HOSTS": "127.0.0.1,localhost",
                "LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.pg_admin_url = ""
        self.redis_url = ""
        db, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
        if db and redis_url:
            parts = urlsplit(db)
            self.pg_admin_url = urlunsplit(
                (parts.scheme.replace("postgresql", "postgres"), parts.netloc, "/postgres", "", "")
            )
            self.env["DATABASE_URL"] = urlunsplit((parts.scheme, parts.netloc, f"/{SCRATCH_DB}", parts.query, ""))
            rparts = urlsplit(redis_url)
            self.redis_url = urlunsplit((rparts.scheme, rparts.netloc, f"/{REDIS_DB}", rparts.query, ""))
            self.env["REDIS_URL"] = self.redis_url
            self.label = "postgresql+redis"
        else:
            self.env.pop("DATABASE_URL", None)
            self.env.pop("REDIS_URL", None)
            self.label = "sqlite+filesystem"

    def _pg(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.pg_admin_url.replace("postgres://", "postgresql://", 1), autocommit=True) as c:
            c.execute(sql)  # type: ignore[arg-type]

    def _flush_redis(self) -> None:
        import redis

        client = redis.Redis.from_url(self.redis_url)
        client.flushdb()
        client.close()

    def create(self) -> None:
        if self.pg_admin_url:
            self._pg(f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)")
            self._pg(f"CREATE DATABASE {SCRATCH_DB}")
            self._flush_redis()

    def drop(self) -> None:
        if self.pg_admin_url:
            try:
                from django.db import connections

                connections.close_all()
            except Exception:  # noqa: BLE001 - best effort
                pass
            self._pg(f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)")
            self._flush_redis()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def db_commits(self) -> int | None:
        """Committed + rolled back transactions of the scratch database so far (PostgreSQL only)."""
        if not self.pg_admin_url:
            return None
        import psycopg

        with psycopg.connect(self.pg_admin_url.replace("postgres://", "postgresql://", 1), autocommit=True) as c:
            c.execute("SELECT pg_stat_force_next_flush()")
            row = c.execute(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", (SCRATCH_DB,)
            ).fetchone()
        return int(row[0]) if row else None


def setup_django(env: dict[str, str]) -> None:
    for key in ("DATA_DIR", "DJANGO_SETTINGS_MODULE", "DJANGO_DEBUG", "PLAIN_HTTP_HOSTS", "LOG_LEVEL"):
        os.environ[key] = env[key]
    for key in ("DATABASE_URL", "REDIS_URL"):
        if key in env:
            os.environ[key] = env[key]
        else:
            os.environ.pop(key, None)
    import contextlib
    import io
    import logging

    from core.keys import local_encryption_keys

    with contextlib.redirect_stderr(io.StringIO()):  # a scratch key; its "back it up" warning is not for us
        local_encryption_keys(Path(env["DATA_DIR"]))
    import django

    django.setup()
    logging.getLogger("kombu.connection").setLevel(logging.ERROR)
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


# --- worker ----------------------------------------------------------------------------------------------------
def make_run_default_concurrency() -> int:
    """``WORKER_CONCURRENCY`` of the Makefile: the worker threads ``make run`` starts."""
    found = re.search(r"^WORKER_CONCURRENCY\s*\?=\s*(\d+)", (BASE_DIR / "Makefile").read_text(), re.MULTILINE)
    return int(found.group(1)) if found else 16


def make_run_default_processes() -> int:
    """``WORKER_PROCESSES`` of the Makefile: how many worker processes ``make run`` starts (one per core when it
    says ``nproc``)."""
    found = re.search(r"^WORKER_PROCESSES\s*\?=\s*(.+)$", (BASE_DIR / "Makefile").read_text(), re.MULTILINE)
    if not found:
        return 1
    value = found.group(1).strip()
    if value.isdigit():
        return int(value)
    return (os.cpu_count() or 1) if "nproc" in value else 1


def procfile_argv(name: str, concurrency: int) -> list[str]:
    """The command ``make run`` (honcho with the Procfile) starts as process ``name``, variables filled in."""
    for line in (BASE_DIR / "Procfile").read_text().splitlines():
        key, _, command = line.partition(":")
        if key.strip() == name:
            argv = shlex.split(command.replace("${WORKER_CONCURRENCY}", str(concurrency)))
            if not Path(argv[0]).is_absolute():
                argv[0] = str(BASE_DIR / argv[0])
            if not Path(argv[0]).exists() and Path(argv[0]).name == "celery":
                argv[0:1] = [sys.executable, "-m", "celery"]
            return argv
    raise RuntimeError(f"The Procfile has no {name!r} process")


def start_worker(env: dict[str, str], concurrency: int, log: Path, index: int = 0) -> subprocess.Popen[bytes]:
    """The Procfile's worker (a second and further ones get their own node name)."""
    argv = procfile_argv("worker", concurrency) + ([] if index == 0 else ["-n", f"bench{index}@%h"])
    return subprocess.Popen(
        argv, cwd=BASE_DIR, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )


def start_profilers(workers: list[subprocess.Popen[bytes]]) -> list[subprocess.Popen[bytes]]:
    """With ``BENCH_PROFILE=DIR`` (and py-spy installed), sample each worker during the fan-out only, into
    ``DIR/worker-N.txt`` (collapsed stacks of the thread holding the GIL: what the worker spends its CPU on)."""
    folder = os.environ.get("BENCH_PROFILE")
    if not folder:
        return []
    Path(folder).mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [
                "py-spy",
                "record",
                "--pid",
                str(w.pid),
                "--format",
                "raw",
                "--rate",
                "250",
                "--gil",
                "--nonblocking",
                "-o",
                str(Path(folder) / f"worker-{i}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i, w in enumerate(workers)
    ]


def stop_profilers(profilers: list[subprocess.Popen[bytes]]) -> None:
    for proc in profilers:
        proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
    for proc in profilers:
        proc.wait(timeout=60)


def start_beat(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """The Procfile's beat: the schedules (reconcile every 15 s, coverage, checks) run during the fan-out too."""
    return subprocess.Popen(
        procfile_argv("beat", 0),
        cwd=BASE_DIR,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def peak_rss_mb(pid: int) -> float:
    """Peak resident set of ``pid`` and its children (psutil when installed, else /proc VmHWM)."""
    try:
        import psutil  # type: ignore[import-untyped]

        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        total = 0
        for p in procs:
            mem = p.memory_full_info() if hasattr(p, "memory_full_info") else p.memory_info()
            total += getattr(mem, "peak_wset", None) or _vmhwm(p.pid) or mem.rss
        return total / 1024 / 1024
    except ImportError:
        pass
    pids, seen = [pid], set()
    total_kb = 0
    while pids:
        current = pids.pop()
        if current in seen:
            continue
        seen.add(current)
        total_kb += (_vmhwm(current) or 0) // 1024
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            pids += [int(c) for c in task.read_text().split()]
    return total_kb / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _vmhwm(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def wait_until(done: Callable[[], bool], timeout: float, alive: Callable[[], None], every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive()
        if done():
            return True
        time.sleep(every)
    return False


# --- seeding, fan-out, sequential ------------------------------------------------------------------------------
def seed(args: argparse.Namespace, sim: dict[str, Any], per_target: int) -> tuple[Any, Any, list[int]]:
    from django.contrib.auth import get_user_model

    from feeds.services import feed_create
    from targets.services import delivery_create, target_create

    user = get_user_model().objects.create_superuser(username="bench", password="bench-" + os.urandom(8).hex())
    feed = feed_create(
        actor=user,
        name="bench-feed",
        kind="generic",
        index_url="http://127.0.0.1:9/simple/",
        username="bench",
        token="bench-token-" + os.urandom(8).hex(),
    )
    ids: list[int] = []
    if args.platform == "databricks":
        for i, url in enumerate(sim["urls"]):
            target = target_create(
                actor=user,
                name=f"ws-{i:03d}",
                kind="databricks",
                url=url,
                auth_type="pat",
                token=sim["token"],
                max_concurrency=args.max_concurrency,
            )
            for j in range(per_target):
                ids.append(
                    delivery_create(
                        actor=user,
                        feed=feed,
                        target=target,
                        mode="secret",
                        scope="bench" if args.shared_scope else f"bench-{j:02d}",
                        key=f"index-url-{j:02d}" if args.shared_scope else "index-url",
                    ).pk
                )
    elif args.platform == "github":
        for name, repos in sim["orgs"].items():
            target = target_create(
                actor=user,
                name=name,
                kind="github",
                url=sim["url"],
                token=sim["token"],
                organization=name,
                max_concurrency=args.max_concurrency,
            )
            for repo in repos:
                ids.append(
                    delivery_create(
                        actor=user, feed=feed, target=target, mode="actions_repo_secret", repositories=[repo]
                    ).pk
                )
    else:
        for name, projects in sim["orgs"].items():
            target = target_create(
                actor=user,
                name=name,
                kind="valohai",
                url=sim["url"],
                auth_type="token",
                token=sim["token"],
                organization=name,
                max_concurrency=args.max_concurrency,
            )
            for project in projects:
                ids.append(
                    delivery_create(
                        actor=user, feed=feed, target=target, mode="project_variable", projects=[project]
                    ).pk
                )
    return user, feed, ids


def quiet() -> bool:
    from core.models import CheckRun, RunState
    from targets.models import Push

    return not (Push.objects.open().exists() or CheckRun.objects.filter(status__in=RunState.values).exists())


def fanout(user: Any, delivery_ids: list[int], alive: Callable[[], None], timeout: float) -> tuple[float, int, int]:
    """One operator action: push all. Returns (seconds until every push ended, succeeded, failed)."""
    from django.utils import timezone

    from targets.models import Delivery, DeliveryStatus, Push, PushStatus
    from targets.pushing import pushes_request

    wall0 = timezone.now()
    t0 = time.monotonic()
    pushes = pushes_request(deliveries=Delivery.objects.filter(pk__in=delivery_ids), actor=user)
    push_ids = [p.pk for p in pushes]
    t_req = time.monotonic() - t0
    ok = wait_until(lambda: not Push.objects.filter(pk__in=push_ids).open().exists(), timeout, alive)
    elapsed = time.monotonic() - t0
    if not ok:
        say(f"fanout: TIMED OUT after {timeout:.0f}s")
    succeeded = Push.objects.filter(pk__in=push_ids, status=PushStatus.SUCCEEDED).count()
    failed = Push.objects.filter(pk__in=push_ids, status=PushStatus.FAILED).count()
    delivered = Delivery.objects.filter(
        pk__in=delivery_ids, status=DeliveryStatus.DELIVERED, last_pushed_at__gte=wall0
    ).count()
    say(
        f"  (push all: {len(push_ids)} pushes requested in {t_req:.2f} s; {succeeded} succeeded, {failed} failed, "
        f"{delivered} deliveries delivered and verified since the request)"
    )
    return elapsed, succeeded, failed


def sequential(delivery_ids: list[int], sample: int) -> tuple[float, int, int]:
    """The same adapter calls, one delivery after another, no Celery. Returns (seconds, measured, HTTP calls)."""
    from core import http
    from targets.models import Delivery

    chosen = delivery_ids if sample <= 0 else delivery_ids[:: max(1, len(delivery_ids) // sample)][:sample]
    deliveries = list(Delivery.objects.filter(pk__in=chosen).select_related("feed__current_token", "target"))
    calls = 0
    original = http.request

    def counting(*a: Any, **kw: Any) -> Any:
        nonlocal calls
        calls += 1
        return original(*a, **kw)

    http.request = counting  # type: ignore[assignment]
    try:
        t0 = time.monotonic()
        for d in deliveries:
            adapter = d.target.adapter()
            result = adapter.push(d, d.feed.credentialed_url(), restart_consent=False)
            adapter.verify(d, result)
        elapsed = time.monotonic() - t0
    finally:
        http.request = original  # type: ignore[assignment]
    return elapsed, len(deliveries), calls


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.fanout", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--deliveries", type=int, default=1000)
    p.add_argument("--workspaces", type=int, default=100, help="workspaces (databricks) or organizations (valohai)")
    p.add_argument("--latency-ms", type=float, default=100.0)
    p.add_argument(
        "--concurrency", type=int, default=make_run_default_concurrency(), help="worker threads (make run: %(default)s)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=make_run_default_processes(),
        help="worker processes, each with --concurrency threads (make run: %(default)s, one per core)",
    )
    p.add_argument("--max-concurrency", type=int, default=4, help="Target.max_concurrency of every target")
    p.add_argument("--sequential-sample", type=int, default=100, help="0 = all deliveries")
    p.add_argument("--platform", choices=["databricks", "valohai", "github"], default="databricks")
    p.add_argument(
        "--shared-scope",
        action="store_true",
        help="databricks: a workspace's deliveries share one scope (one key each) instead of a scope each",
    )
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--serve-sim", choices=["databricks", "valohai", "github"], help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    per_target = max(1, args.deliveries // args.workspaces)
    if args.serve_sim:
        return serve_sim(args.serve_sim, args.workspaces, per_target, args.latency_ms)
    total = per_target * args.workspaces
    # SIGTERM (and Ctrl-C) unwind through the finally below, which stops the worker and the simulator.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    backend = Backend()
    sim_proc: subprocess.Popen[str] | None = None
    workers: list[subprocess.Popen[bytes]] = []
    beat: subprocess.Popen[bytes] | None = None
    try:
        backend.create()
        sim_proc, sim = start_sim(args, backend.env, per_target)
        setup_django(backend.env)
        from targets.adapters import REGISTRY

        if args.platform not in REGISTRY:
            say(f"The {args.platform} adapter is not registered: --platform {args.platform} is unavailable.")
            return 2
        log = backend.data_dir / "worker.log"
        workers += [
            start_worker(backend.env, args.concurrency, log.with_suffix(f".{i}.log"), i) for i in range(args.workers)
        ]
        beat = start_beat(backend.env, backend.data_dir / "beat.log")

        def alive() -> None:
            for i, w in enumerate(workers):
                if w.poll() is not None:
                    text = log.with_suffix(f".{i}.log").read_text()[-3000:]
                    raise RuntimeError(f"worker {i} exited:\n{text}")

        t0 = time.monotonic()
        user, _feed, ids = seed(args, sim, per_target)
        seeded = time.monotonic() - t0
        wait_until(quiet, args.timeout, alive, every=0.5)
        say(
            f"  (seeded {len(ids)} deliveries on {args.workspaces} targets in {seeded:.1f} s; their creation "
            f"pushes and first health checks done after {time.monotonic() - t0:.1f} s)"
        )
        commits0, own0 = backend.db_commits(), time.process_time()
        cpu0 = sum(cpu_seconds(w.pid) for w in workers)
        profilers = start_profilers(workers)
        elapsed, succeeded, failed = fanout(user, ids, alive, args.timeout)
        stop_profilers(profilers)
        commits1, own1 = backend.db_commits(), time.process_time()
        cpu1 = sum(cpu_seconds(w.pid) for w in workers)
        rss = max(peak_rss_mb(w.pid) for w in workers)
        seq, measured, calls = sequential(ids, args.sequential_sample)
        extrapolated = seq / max(measured, 1) * total
        noun = "workspaces" if args.platform == "databricks" else "organizations"
        say(f"fanout: {total} deliveries over {args.workspaces} {noun} in {elapsed:.2f} s")
        say(f"sequential: {extrapolated:.2f} s (measured {measured} in {seq:.2f} s, extrapolated to {total})")
        say(f"speedup: {extrapolated / elapsed:.1f}x")
        say(f"worker peak RSS: {rss:.0f} MB" + (f" (largest of {args.workers} workers)" if args.workers > 1 else ""))
        say(f"backend: {backend.label}")
        per_push = calls / max(measured, 1)
        # Each worker thread runs one target's batch at a time, with up to max_concurrency calls at once.
        slots = min(args.concurrency * args.workers, args.workspaces) * args.max_concurrency
        ideal = total * per_push * args.latency_ms / 1000 / slots
        worker_argv = shlex.join(procfile_argv("worker", args.concurrency)[1:])
        say(
            f"config: platform {args.platform}, {args.workers} worker(s) `celery {worker_argv}` + beat (as make run), "
            f"Target.max_concurrency {args.max_concurrency}, latency {args.latency_ms:.0f} ms"
        )
        say(
            f"detail: {per_push:.1f} HTTP calls per delivery; floor with {slots} parallel slots = {ideal:.2f} s; "
            f"pushes {succeeded} succeeded / {failed} failed"
            + (
                f"; {(commits1 - commits0) / total:.1f} DB transactions per push"
                if commits0 is not None and commits1 is not None
                else ""
            )
        )
        say(
            f"detail: worker CPU {cpu1 - cpu0:.1f} s during the fan-out ({(cpu1 - cpu0) / elapsed:.0%} of one core); "
            f"this process (push all + polling) {own1 - own0:.1f} s CPU"
        )
        return 0 if failed == 0 and succeeded == total else 1
    finally:
        for p in (*workers, beat, sim_proc):
            if p is not None and p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
        backend.drop()


if __name__ == "__main__":
    sys.exit(main())
