"""Health-sweep benchmark: "check all targets" over 1000 targets on simulated platforms at 100 ms per request,
through the worker and beat ``make run`` starts. Run by hand; never part of the test suite.

    python -m bench.health [--targets 1000 --workspaces 100 --latency-ms 100 --platform databricks|valohai|github]

Each target gets one delivery (so its health covers a secret, not only the credential). The sweep is timed from
the request (``targets_check_all``, what beat's sweep and the "check all" action call) until every check it created
has ended. Backend and processes as ``bench.fanout`` (see bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

from bench.fanout import (
    BASE_DIR,
    Backend,
    cpu_seconds,
    make_run_default_concurrency,
    make_run_default_processes,
    peak_rss_mb,
    say,
    serve_until_stopped,
    setup_django,
    start_beat,
    start_profilers,
    start_worker,
    stop_profilers,
    wait_until,
)


def serve_sim(platform: str, workspaces: int, targets: int, latency_ms: float) -> int:
    """Child-process mode: start the simulator, print one JSON line describing it, serve until SIGTERM."""
    latency = latency_ms / 1000.0
    sim: Any
    if platform == "databricks":
        from simulators.databricks import DatabricksSimulator

        sim = DatabricksSimulator(workspaces=workspaces, latency=latency, port=0)
        sim.start()
        ready: dict[str, Any] = {"urls": list(sim.urls), "token": "dapi-sim-token"}
    elif platform == "valohai":
        from simulators.valohai import ValohaiSimulator

        sim = ValohaiSimulator(latency=latency, port=0)
        for i in range(targets):
            sim.add_organization(f"org-{i}")
            sim.add_project(f"org-{i}", "project-1")
        sim.start()
        ready = {"url": sim.url, "token": "vh-sim-token"}
    else:
        from simulators.github import GitHubSimulator

        sim = GitHubSimulator(latency=latency, port=0, rate_limit=1_000_000)
        for i in range(targets):
            sim.add_org(f"org-{i}")
        sim.add_token("ghp-bench", "bench", admin_of=[f"org-{i}" for i in range(targets)])
        sim.start()
        ready = {"url": sim.api_url, "token": "ghp-bench"}
    return serve_until_stopped(sim, ready)


def seed(args: argparse.Namespace, sim: dict[str, Any]) -> Any:
    """One feed; ``--targets`` targets, each with one delivery, through the services."""
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
    for i in range(args.targets):
        common = {"actor": user, "name": f"t-{i:04d}", "token": sim["token"]}
        if args.platform == "databricks":
            url = sim["urls"][i % len(sim["urls"])]
            target = target_create(kind="databricks", url=url, **common)
            delivery_create(actor=user, feed=feed, target=target, mode="secret", scope=f"bench-{i:04d}", key="url")
        elif args.platform == "valohai":
            target = target_create(kind="valohai", url=sim["url"], organization=f"org-{i}", **common)
            delivery_create(actor=user, feed=feed, target=target, mode="project_variable", projects=["*"])
        else:
            target = target_create(kind="github", url=sim["url"], organization=f"org-{i}", **common)
            delivery_create(actor=user, feed=feed, target=target, mode="actions_org_secret", visibility="private")
    return user


def quiet() -> bool:
    from core.models import CheckRun, RunState
    from targets.models import Push

    return not (Push.objects.open().exists() or CheckRun.objects.filter(status__in=RunState.values).exists())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.health", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--targets", type=int, default=1000)
    p.add_argument("--workspaces", type=int, default=100, help="databricks: workspaces the targets share")
    p.add_argument("--latency-ms", type=float, default=100.0)
    p.add_argument(
        "--concurrency", type=int, default=make_run_default_concurrency(), help="worker threads (make run: %(default)s)"
    )
    p.add_argument(
        "--workers", type=int, default=make_run_default_processes(), help="worker processes (make run: %(default)s)"
    )
    p.add_argument("--platform", choices=["databricks", "valohai", "github"], default="databricks")
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--serve-sim", choices=["databricks", "valohai", "github"], help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_sim:
        return serve_sim(args.serve_sim, args.workspaces, args.targets, args.latency_ms)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    backend = Backend()
    procs: list[subprocess.Popen[Any]] = []
    try:
        backend.create()
        sim_argv = [sys.executable, "-m", "bench.health", "--serve-sim", args.platform]
        sim_argv += ["--workspaces", str(args.workspaces), "--targets", str(args.targets)]
        sim_argv += ["--latency-ms", str(args.latency_ms)]
        sim_proc = subprocess.Popen(
            sim_argv, cwd=BASE_DIR, env=backend.env, stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        procs.append(sim_proc)
        assert sim_proc.stdout is not None
        sim = json.loads(sim_proc.stdout.readline() or "{}")
        setup_django(backend.env)
        log = backend.data_dir / "worker.log"
        workers = [
            start_worker(backend.env, args.concurrency, log.with_suffix(f".{i}.log"), i) for i in range(args.workers)
        ]
        procs += [*workers, start_beat(backend.env, backend.data_dir / "beat.log")]

        def alive() -> None:
            for i, w in enumerate(workers):
                if w.poll() is not None:
                    raise RuntimeError(f"worker {i} exited:\n{log.with_suffix(f'.{i}.log').read_text()[-3000:]}")

        t0 = time.monotonic()
        user = seed(args, sim)
        wait_until(quiet, args.timeout, alive, every=0.5)
        say(f"  (seeded {args.targets} targets and their first pushes and checks in {time.monotonic() - t0:.1f} s)")
        from targets.checks import targets_check_all
        from targets.models import TargetCheck

        cpu0 = sum(cpu_seconds(w.pid) for w in workers)
        sim_cpu0, own0 = cpu_seconds(sim_proc.pid), time.process_time()
        profilers = start_profilers(workers)
        t0 = time.monotonic()
        checks = targets_check_all(actor=user)
        ids = [c.pk for c in checks]
        requested = time.monotonic() - t0
        done = wait_until(
            lambda: not TargetCheck.objects.filter(pk__in=ids, status__in=["pending", "running"]).exists(),
            args.timeout,
            alive,
        )
        elapsed = time.monotonic() - t0
        stop_profilers(profilers)
        cpu = sum(cpu_seconds(w.pid) for w in workers) - cpu0
        sim_cpu, own = cpu_seconds(sim_proc.pid) - sim_cpu0, time.process_time() - own0
        by_status: dict[str, int] = {}
        for status in TargetCheck.objects.filter(pk__in=ids).values_list("status", flat=True):
            by_status[status] = by_status.get(status, 0) + 1
        say(f"health: {len(ids)} targets checked in {elapsed:.2f} s" + ("" if done else " (TIMED OUT)"))
        say(
            f"detail: request {requested:.2f} s; results {by_status}; worker CPU {cpu:.1f} s (all workers); "
            f"simulator CPU {sim_cpu:.1f} s and this process {own:.1f} s on the same cores"
        )
        say(f"worker peak RSS: {max(peak_rss_mb(w.pid) for w in workers):.0f} MB")
        say(
            f"config: platform {args.platform}, {args.workers} worker(s) x {args.concurrency} threads, "
            f"latency {args.latency_ms:.0f} ms, backend {backend.label}"
        )
        return 0 if done else 1
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
        backend.drop()


if __name__ == "__main__":
    sys.exit(main())
