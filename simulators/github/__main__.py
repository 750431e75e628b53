"""Run the GitHub simulator alone: ``python -m simulators.github --port 8903``; stops on SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from .server import DEFAULT_LOGIN, DEFAULT_ORG, DEFAULT_TOKEN, GitHubSimulator


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m simulators.github", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8903, help="0 picks a free port")
    parser.add_argument("--prefix", default="", help='"" (like api.github.com) or "/api/v3" (Enterprise Server)')
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--org", default=DEFAULT_ORG)
    parser.add_argument("--repos", type=int, default=3, help="seed repositories repo-1..N (private)")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--login", default=DEFAULT_LOGIN)
    parser.add_argument("--expires-at", default=None, help='token expiry, e.g. "2026-12-31 00:00:00 UTC"')
    parser.add_argument("--rate-limit", type=int, default=5000, help="primary limit per user and window")
    parser.add_argument("--rate-window", type=float, default=3600.0, help="seconds")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--fault-statuses", default="429,500,503", help="comma-separated codes, timeout or drop")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random fault generator and key ids")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Seed, serve, print one ready line, and wait for a signal."""
    args = build_parser().parse_args(argv)
    sim = GitHubSimulator(
        latency=args.latency_ms / 1000.0,
        host=args.host,
        port=args.port,
        prefix=args.prefix,
        token=None,
        org=args.org,
        rate_limit=args.rate_limit,
        rate_window=args.rate_window,
        seed=args.seed,
    )
    sim.add_token(args.token, args.login, expires_at=args.expires_at, admin_of=[args.org])
    for i in range(1, args.repos + 1):
        sim.add_repo(args.org, f"repo-{i}")
    if args.fault_rate > 0:
        statuses = [int(s) if s.strip().isdigit() else s.strip() for s in args.fault_statuses.split(",") if s.strip()]
        sim.faults.rate(args.fault_rate, statuses=statuses, path_prefix=sim.prefix + "/")

    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sim.start()
    print(f"github: {sim.api_url} token={args.token} org={args.org} repos={args.repos}", flush=True)
    try:
        while not done.wait(0.2):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
