"""Run the Valohai simulator alone: ``python -m simulators.valohai --port 8902``; stops on SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from .model import EXISTS_MESSAGE
from .server import DEFAULT_GROUP_PATH, DEFAULT_TOKEN, DEFAULT_USERNAME, ValohaiSimulator


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m simulators.valohai", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8902, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--orgs", type=int, default=1, help="seed organizations (acme, or org-1..N)")
    parser.add_argument("--projects", type=int, default=20, help="seed projects per organization (project-1..M)")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--username", default=DEFAULT_USERNAME)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--fault-statuses", default="429,500,503", help="comma-separated codes or timeout names")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument(
        "--overwrite",
        action="store_true",
        help="POST of an existing env var name overwrites it (200); by default it is refused",
    )
    existing.add_argument(
        "--no-overwrite", action="store_true", help="POST of an existing env var name is refused (the default)"
    )
    parser.add_argument(
        "--exists-status", type=int, choices=(400, 409), default=400, help="status refusing an existing name"
    )
    parser.add_argument("--exists-message", default=EXISTS_MESSAGE, help="wording of that refusal")
    parser.add_argument(
        "--project-owner", choices=("object", "id"), default="object", help="how projects show their owner"
    )
    parser.add_argument(
        "--distinct-owner-ids", action="store_true", help="project owner ids differ from organization ids"
    )
    parser.add_argument(
        "--no-organizations", action="store_true", help="organizations/ answers 404, as on some installations"
    )
    parser.add_argument("--group-path", default=DEFAULT_GROUP_PATH, help='"none" disables the group endpoint')
    parser.add_argument("--seed", type=int, default=0, help="seed of the random fault generator")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Seed, serve, print one ready line, and wait for a signal."""
    args = build_parser().parse_args(argv)
    group_path = None if args.group_path.lower() in ("", "none") else args.group_path
    sim = ValohaiSimulator(
        latency=args.latency_ms / 1000.0,
        host=args.host,
        port=args.port,
        group_path=group_path,
        overwrite_existing=args.overwrite,
        exists_status=args.exists_status,
        exists_message=args.exists_message,
        project_owner=args.project_owner,
        distinct_owner_ids=args.distinct_owner_ids,
        list_organizations=not args.no_organizations,
        token=args.token,
        username=args.username,
        seed=args.seed,
    )
    names = ["acme"] if args.orgs == 1 else [f"org-{i}" for i in range(1, args.orgs + 1)]
    for name in names:
        sim.add_organization(name, members=[args.username])
        for j in range(1, args.projects + 1):
            sim.add_project(name, f"project-{j}")
    if args.fault_rate > 0:
        statuses = [int(s) if s.strip().isdigit() else s.strip() for s in args.fault_statuses.split(",") if s.strip()]
        sim.faults.rate(args.fault_rate, statuses=statuses)

    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sim.start()
    print(f"valohai: {sim.url} token={args.token} organizations={','.join(names)}", flush=True)
    try:
        while not done.wait(0.2):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
