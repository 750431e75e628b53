"""Run the JFrog simulator alone: ``python -m simulators.jfrog --port 8904``; stops on SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from .server import DEFAULT_REPO, DEFAULT_USER, JFrogSimulator
from .state import ONE_YEAR


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m simulators.jfrog", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8904, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--repo", default=DEFAULT_REPO, help="key of the seeded PyPI repository")
    parser.add_argument("--user", default=DEFAULT_USER, help="seeded non-admin user (group readers)")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--fault-statuses", default="429,500,503", help="comma-separated codes, timeout or drop")
    parser.add_argument("--seed", type=int, default=0, help="seed of token ids, signing key and random faults")
    parser.add_argument("--default-expiry", type=int, default=ONE_YEAR, help="seconds; 0 = never")
    parser.add_argument("--max-expiry", type=int, default=None, help="non-admin cap; 0 = none (default: default)")
    parser.add_argument("--persistency-threshold", type=int, default=10800)
    parser.add_argument("--revocable-threshold", type=int, default=21600)
    parser.add_argument("--refresh-grace", type=int, default=0)
    parser.add_argument("--basic-auth-api", action="store_true", help="accept Basic user:token on /access/api/")
    parser.add_argument("--any-basic-username", action="store_true", help="Basic user need not match the token")
    parser.add_argument("--unknown-revoke-status", type=int, choices=(204, 404), default=404)
    parser.add_argument("--revoke-by-value-any-user", action="store_true")
    parser.add_argument("--non-revocable", choices=("refuse", "ignore"), default="refuse")
    parser.add_argument("--anonymous-access-ping", action="store_true")
    parser.add_argument("--reference-forces-persistence", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Seed, serve, print one ready line, and wait for a signal."""
    args = build_parser().parse_args(argv)
    sim = JFrogSimulator(
        latency=args.latency_ms / 1000.0,
        seed=args.seed,
        host=args.host,
        port=args.port,
        repo=args.repo,
        user=args.user,
        default_expiry=args.default_expiry,
        max_expiry=args.max_expiry,
        persistency_threshold=args.persistency_threshold,
        revocable_threshold=args.revocable_threshold,
        refresh_grace=args.refresh_grace,
        basic_auth_api=args.basic_auth_api,
        basic_username_must_match=not args.any_basic_username,
        unknown_revoke_status=args.unknown_revoke_status,
        revoke_by_value_admin_only=not args.revoke_by_value_any_user,
        non_revocable=args.non_revocable,
        access_ping_auth=not args.anonymous_access_ping,
        reference_needs_persistence=not args.reference_forces_persistence,
    )
    if args.fault_rate > 0:
        statuses = [int(s) if s.strip().isdigit() else s.strip() for s in args.fault_statuses.split(",") if s.strip()]
        sim.faults.rate(args.fault_rate, statuses=statuses)

    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sim.start()
    print(f"jfrog: {sim.url} token={sim.admin_token} repo={sim.repo} user={args.user}", flush=True)
    try:
        while not done.wait(0.2):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
