"""`lc-analytics metrics serve`: Prometheus metrics for the ops dashboard (live shows, sync
age, month-to-date cost and forecast)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    m = sub.add_parser("metrics", help="Prometheus metrics for the ops dashboard",
                       description="Serve /metrics (Prometheus / OpenMetrics): live viewers per "
                                   "input, inputs connected, events by type and code, age of "
                                   "the last successful sync, month-to-date cost and forecast "
                                   "per service.")
    msub = m.add_subparsers(dest="metrics_command", metavar="SUBCOMMAND")
    msub.required = True
    serve = msub.add_parser("serve", help="serve /metrics until interrupted")
    serve.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=9464, help="port (default: 9464)")
    serve.add_argument("--cache", type=float, default=300.0, metavar="SECONDS",
                       help="how long warehouse figures are reused (default: 300)")
    serve.add_argument("--db", default=None, help="warehouse path (default: $LC_ANALYTICS_DB)")
    serve.set_defaults(func=_cmd_serve)


def _cmd_serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import UsageError
    from ..live.metrics import serve
    from ..settings import Settings

    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be from 1 to 65535 (got {args.port})")
    if args.cache < 0:
        raise UsageError(f"--cache must be >= 0 seconds (got {args.cache})")
    db = Path(args.db) if args.db else Settings.from_env().db_path
    serve(db, args.host, args.port, args.cache)
    return 0
