"""``python -m demo`` (``make demo``): see :mod:`demo`.

python -m demo [--data-dir ./var/demo] [--port 8000] [--logs] [--no-activity]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from demo import services
from demo.platform import Running, discover, module_name
from demo.processes import Supervisor, free_port, port_is_free, procfile_commands

BASE_DIR = Path(__file__).resolve().parent.parent
MARKER = ".feedkeeper-demo"


class Stop(Exception):
    """Ctrl-C or SIGTERM: stop everything."""


class ChildDied(Exception):
    pass


def say(text: str = "") -> None:
    print(text, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m demo", description="Feedkeeper against local simulators.")
    p.add_argument(
        "--data-dir",
        default=os.environ.get("DEMO_DATA_DIR", str(BASE_DIR / "var" / "demo")),
        help="the demo's own DATA_DIR, deleted and recreated each run (default ./var/demo)",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT") or 8000),
        help="dashboard port (default $PORT or 8000; a free one if taken)",
    )
    p.add_argument("--logs", action="store_true", help="also print where each child's log is as it starts")
    p.add_argument("--no-activity", action="store_true", help="do not print audit events as they happen")
    return p.parse_args(argv)


def fresh_data_dir(path: Path) -> Path:
    """Delete and recreate the demo's DATA_DIR; refuse to delete a folder the demo did not make."""
    path = path.resolve()
    if path.exists():
        if not (path / MARKER).exists() and any(path.iterdir()):
            raise SystemExit(f"{path} exists and was not made by the demo; choose another --data-dir.")
        shutil.rmtree(path)
    (path / "logs").mkdir(parents=True)
    (path / MARKER).write_text("Made by `make demo`; deleted on its next run.\n")
    return path


def demo_env(data_dir: Path, host: str, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "PLAIN_HTTP_HOSTS": "127.0.0.1,localhost",
            "HOST": host,
            "PORT": str(port),
            "WEB_BIND": f"{host}:{port}",
            "WORKER_CONCURRENCY": env.get("WORKER_CONCURRENCY") or "16",
            # A look around needs no authenticator app: the demo asks nobody for a second factor (anyone may
            # still add one under My account). `make run` and production ask admins for one.
            "MFA_REQUIRED_ROLES": env.get("MFA_REQUIRED_ROLES", ""),
        }
    )
    return env


def install_signal_handlers() -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def setup_django(env: dict[str, str], data_dir: Path) -> None:
    for key in ("DATA_DIR", "DJANGO_SETTINGS_MODULE", "PLAIN_HTTP_HOSTS", "HOST", "PORT", "MFA_REQUIRED_ROLES"):
        os.environ[key] = env[key]
    from core.keys import local_encryption_keys

    with contextlib.redirect_stderr(io.StringIO()):  # the "generating a local key" warning is for `make run`
        local_encryption_keys(data_dir)
    import django

    django.setup()
    # The demo process only publishes tasks; kombu's notes about the embedded broker are noise here.
    logging.getLogger("kombu.connection").setLevel(logging.ERROR)


def run(args: argparse.Namespace, sup: Supervisor) -> int:
    started = time.monotonic()
    data_dir = fresh_data_dir(Path(args.data_dir))
    sup.log_dir = data_dir / "logs"
    port = args.port
    if not port_is_free(port, args.host):
        port = free_port(args.host)
        say(f"Port {args.port} is taken; the dashboard uses {port}.")
    env = demo_env(data_dir, args.host, port)
    backend = (
        ("postgresql" if env.get("DATABASE_URL") else "sqlite")
        + "+"
        + ("redis" if env.get("REDIS_URL") else "filesystem")
    )
    setup_django(env, data_dir)  # the platforms are those of the target registry, which needs Django
    from targets.adapters import REGISTRY

    platforms = discover()
    kinds = [p.kind for p in platforms]
    without_demo = [k for k in REGISTRY if k not in kinds]
    say(
        f"Feedkeeper demo: data in {data_dir} ({backend}). Starting the index and the simulators "
        f"({', '.join(kinds) or 'none'})..."
    )

    index_child = services.start_index(sup, env, BASE_DIR)
    children = [(platform, platform.start(sup, env, BASE_DIR)) for platform in platforms]

    from demo import seed as seeding

    seeding.migrate()
    say("Database migrated. Starting web, worker and beat (the Procfile's commands)...")
    commands = procfile_commands(BASE_DIR / "Procfile", env)
    for name in ("web", "worker", "beat"):
        sup.start(name, commands[name], env=env, cwd=BASE_DIR)
        if args.logs:
            say(f"  {name}: log in {sup.log_dir / (name + '.log')}")

    def alive() -> None:
        dead = sup.dead()
        if dead is not None:
            raise ChildDied(f"{dead.name} exited (code {dead.proc.returncode}); last lines of its log:\n{dead.tail()}")

    index = services.ready_index(sup, index_child)
    running: list[Running[Any]] = [Running(platform, platform.ready(sup, child)) for platform, child in children]
    login = seeding.ensure_admin()
    say("Seeding through the services layer:")
    seeded = seeding.seed(username=login.username, index=index, platforms=running, say=say, alive=alive)
    seeded.notes += [f"No demo for {kind} targets (no {module_name(kind)} module)." for kind in without_demo]

    dashboard = f"http://{args.host}:{port}/"
    services.wait_http(f"{dashboard}healthz", timeout=60)
    from demo.banner import Activity, Endpoints, banner, wait_for_first_results

    say("Dashboard is up. Waiting for the first pushes and health checks...")
    wait_for_first_results(seeded, seeding.user_named(login.username), say, alive)
    activity = Activity()
    ep = Endpoints(dashboard=dashboard, index=index, platforms=running, data_dir=data_dir, backend=backend)
    say(banner(ep, login, seeded))
    say(f"Ready in {time.monotonic() - started:.0f}s. Activity (audit events) follows:")
    if args.no_activity:
        activity.last_id = 10**12
    while True:
        alive()
        if not args.no_activity:
            activity.poll(say)
        time.sleep(1.5)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(BASE_DIR))
    os.chdir(BASE_DIR)
    sup = Supervisor(log_dir=Path(args.data_dir) / "logs")
    install_signal_handlers()
    code = 0
    try:
        code = run(args, sup)
    except Stop as exc:
        say(f"\n{exc}: stopping the demo...")
    except ChildDied as exc:
        say(f"\n{exc}\nStopping the demo.")
        code = 1
    except (RuntimeError, OSError) as exc:
        say(f"\nThe demo could not start: {exc}")
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sup.stop_all(say=say)
        say("Stopped.")
    return code


if __name__ == "__main__":
    sys.exit(main())
