"""``python -m simulators.databricks``: run the simulator until SIGINT or SIGTERM.

    python -m simulators.databricks --port 8901 --workspaces 2 --clusters 3 --latency-ms 100 \
        --fault-rate 0.1 --fault-statuses 429,500,503 --token dapi-xyz --seed 1

Workspace N listens on PORT+N; one line per workspace is printed:
``workspace N: http://127.0.0.1:PORT token=...``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from simulators.databricks.server import DatabricksSimulator
from simulators.databricks.state import DEFAULT_TOKEN


def _statuses(text: str) -> tuple[int | str, ...]:
    out: list[int | str] = []
    for part in text.split(","):
        part = part.strip()
        if part:
            out.append(part if part in ("timeout", "drop") else int(part))
    if not out:
        raise argparse.ArgumentTypeError("give at least one status")
    return tuple(out)


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m simulators.databricks",
        description="Loopback simulator of the Databricks workspace REST API.",
    )
    parser.add_argument("--port", type=int, default=8901, help="port of workspace 0 (0 = free ports)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--workspaces", type=int, default=1, help="workspaces on PORT, PORT+1, ...")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="latency added to each API request")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of API requests that fail")
    parser.add_argument("--fault-statuses", type=_statuses, default=(429, 500, 503), help="e.g. 429,500,503")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="admin PAT every workspace accepts")
    parser.add_argument("--clusters", type=int, default=0, help="clusters seeded per workspace")
    parser.add_argument("--seed", type=int, default=0, help="seed for ids and random faults")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Start, print the workspace lines, serve until a signal arrives."""
    args = build_parser().parse_args(argv)
    sim = DatabricksSimulator(
        workspaces=args.workspaces,
        latency=args.latency_ms / 1000.0,
        host=args.host,
        port=args.port,
        token=args.token,
        seed=args.seed,
        clusters=args.clusters,
    )
    if args.fault_rate > 0:
        for ws in sim.workspaces:
            ws.faults.rate(args.fault_rate, statuses=args.fault_statuses)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        sim.start()
    except OSError as exc:
        print(f"cannot bind: {exc}", file=sys.stderr)
        return 1
    for i, url in enumerate(sim.urls):
        print(f"workspace {i}: {url} token={args.token or '-'}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
