"""Run the Azure DevOps simulator alone: ``python -m simulators.azure_devops --port 8905``.

Entra listens on PORT (https), vssps on PORT+1 and pkgs on PORT+2 (``--port 0``: free ports). Prints one ready line
and serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from .server import AzureDevOpsSimulator
from .state import DEFAULT_FEED, DEFAULT_ORGANIZATION, DEFAULT_PROJECT, DEFAULT_USER


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulators.azure_devops", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8905, help="Entra port; vssps is PORT+1, pkgs PORT+2; 0 = free")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--tls", action="store_true", help="serve vssps and pkgs over https too")
    parser.add_argument("--seed", type=int, default=0, help="seeds ids (tenant, client id, secret) and faults")
    parser.add_argument("--organization", default=DEFAULT_ORGANIZATION)
    parser.add_argument("--project", default=DEFAULT_PROJECT)
    parser.add_argument("--feed", default=DEFAULT_FEED)
    parser.add_argument("--user", default=DEFAULT_USER, help="the user who signs in and consents")
    parser.add_argument("--client-id", default=None)
    parser.add_argument("--client-secret", default=None)
    parser.add_argument("--redirect-uri", action="append", default=[], help="register a redirect URI (repeatable)")
    parser.add_argument("--access-token-lifetime", type=int, default=3600, help="seconds")
    parser.add_argument("--bad-credentials-status", type=int, choices=(203, 401), default=203, help="PAT API")
    parser.add_argument("--feed-bad-credentials-status", type=int, choices=(401, 203), default=401)
    parser.add_argument("--pat-error-status", type=int, choices=(200, 400), default=200)
    parser.add_argument("--max-lifespan-days", type=int, default=None)
    parser.add_argument("--allow-global-pats", action="store_true", help="turn the global-PAT restriction off")
    parser.add_argument("--restrict-full-scope", action="store_true")
    parser.add_argument("--no-pkce-required", action="store_true", help="accept authorize requests without PKCE")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--fault-statuses", default="429,500,503", help="comma-separated codes, timeout or drop")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sim = AzureDevOpsSimulator(
        latency=args.latency_ms / 1000.0,
        seed=args.seed,
        tls=args.tls,
        host=args.host,
        port=args.port,
        organization=args.organization,
        project=args.project,
        feed=args.feed,
        user_login=args.user,
        client_id=args.client_id,
        client_secret=args.client_secret,
        redirect_uris=args.redirect_uri,
        access_token_lifetime=args.access_token_lifetime,
        bad_credentials_status=args.bad_credentials_status,
        feed_bad_credentials_status=args.feed_bad_credentials_status,
        pat_error_status=args.pat_error_status,
        max_lifespan_days=args.max_lifespan_days,
        restrict_global=not args.allow_global_pats,
        restrict_full_scope=args.restrict_full_scope,
        require_pkce=not args.no_pkce_required,
    )
    if args.fault_rate > 0:
        statuses = [int(s) if s.strip().isdigit() else s.strip() for s in args.fault_statuses.split(",") if s.strip()]
        sim.faults.rate(args.fault_rate, statuses=statuses, path_prefix="/")

    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sim.start()
    print(
        f"azure_devops: entra={sim.entra_url} vssps={sim.vssps_url} pkgs={sim.pkgs_url} tenant={sim.tenant_id} "
        f"client_id={sim.client_id} client_secret={sim.client_secret} ca={sim.ca_path} feed={sim.feed_index_url}",
        flush=True,
    )
    try:
        while not done.wait(0.2):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
