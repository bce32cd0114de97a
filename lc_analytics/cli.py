"""`lc-analytics`: a thin shell over the library; one library call per command."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Sequence
from datetime import date

from . import __version__
from .errors import LcAnalyticsError


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _add_sandbox_args(p: argparse.ArgumentParser) -> None:
    from .sandbox import PRESETS

    p.add_argument("--preset", choices=sorted(PRESETS), default="small",
                   help="size of the simulated platform (default: small)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    p.add_argument("--end", type=_date, default=None,
                   help="last complete simulated day, YYYY-MM-DD (default: yesterday, UTC)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lc-analytics",
        description="Cloudflare Stream + R2 analytics and costs for a live-commerce platform.",
    )
    parser.add_argument("--version", action="version", version=f"lc-analytics {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    demo = sub.add_parser("demo", help="run the main job on the built-in sandbox",
                          description="Build the sandbox account, sync it through the "
                                      "emulated API into a fresh demo warehouse, and print "
                                      "what landed.")
    _add_sandbox_args(demo)
    demo.add_argument("--db", default="data/demo.duckdb",
                      help="demo warehouse, recreated on each run (default: data/demo.duckdb)")
    demo.set_defaults(func=_cmd_demo)

    sy = sub.add_parser(
        "sync", help="pull Stream, GraphQL analytics and the R2 inventory into the warehouse",
        description="Pull Stream (live inputs, videos, storage), GraphQL analytics (minutes "
                    "viewed, R2 storage and operations) and the R2 inventory into the DuckDB "
                    "warehouse. The first run backfills as far as the API keeps data; later "
                    "runs continue from the watermark, re-fetching the last 3 days.")
    sy.add_argument("--since", type=_date, default=None,
                    help="re-fetch analytics from this date (YYYY-MM-DD; clipped to what the "
                         "API still keeps)")
    sy.add_argument("--sources", default=None,
                    help="comma-separated subset of: " + ", ".join(_sync_sources()))
    sy.add_argument("--db", default=None, help="warehouse path (default: $LC_ANALYTICS_DB)")
    sy.add_argument("--quiet", action="store_true",
                    help="no progress bars; one summary line per source (for cron)")
    sy.set_defaults(func=_cmd_sync)

    sb = sub.add_parser("sandbox", help="the simulated account and its emulated API",
                        description="The built-in sandbox: a simulated account with known truth.")
    sb_sub = sb.add_subparsers(dest="sandbox_command", metavar="SUBCOMMAND")
    sb_sub.required = True
    summary = sb_sub.add_parser("summary", help="print what the simulated account holds",
                                description="Print what the simulated account holds and "
                                            "which situations were planted in it.")
    _add_sandbox_args(summary)
    summary.set_defaults(func=_cmd_sandbox_summary)
    serve = sb_sub.add_parser(
        "serve", help="serve the emulated Cloudflare API and R2 on loopback",
        description="Serve the emulated Cloudflare API (REST + GraphQL) and R2 (S3) on "
                    "127.0.0.1 until stopped; prints `export` lines for any client.")
    _add_sandbox_args(serve)
    serve.add_argument("--port", type=int, default=8787, help="API port (default: 8787)")
    serve.add_argument("--no-r2", action="store_true", help="do not start the R2 server")
    serve.set_defaults(func=_cmd_sandbox_serve)
    _add_costs_parser(sub)
    return parser


def _month(text: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise argparse.ArgumentTypeError(f"not a month (YYYY-MM): {text!r}")
    return text


def _add_costs_parser(sub: argparse._SubParsersAction) -> None:
    costs = sub.add_parser("costs", help="costs priced from the warehouse",
                           description="Costs priced from the synced warehouse.")
    costs_sub = costs.add_subparsers(dest="costs_command", metavar="SUBCOMMAND")
    costs_sub.required = True
    ex = costs_sub.add_parser(
        "export", help="write the daily allocated costs as FOCUS 1.2 rows (CSV or Parquet)",
        description="Price the synced usage, split each month's bill into daily rows per "
                    "resource, and write them as FOCUS 1.2 cost rows. Default months: every "
                    "complete month the warehouse covers plus the current month to date. "
                    "BillingAccountId comes from CLOUDFLARE_ACCOUNT_ID.")
    ex.add_argument("--format", choices=["csv", "parquet"], required=True,
                    help="file format")
    ex.add_argument("--month", dest="months", type=_month, action="extend", nargs="+",
                    metavar="YYYY-MM", default=None, help="month(s) to export (repeatable)")
    ex.add_argument("--out", default=None,
                    help="output file (default: data/focus-costs.<format>)")
    ex.add_argument("--prices", default=None, metavar="OVERLAY.toml",
                    help="contract prices overlaid on the Cloudflare list prices")
    ex.add_argument("--db", default=None, help="warehouse path (default: $LC_ANALYTICS_DB)")
    ex.set_defaults(func=_cmd_costs_export)


def _sync_sources() -> list[str]:
    from .sync import SOURCES

    return list(SOURCES)


def _cmd_sync(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from .settings import Settings
    from .sync import SOURCES, sync

    sources = [s.strip() for s in args.sources.split(",")] if args.sources else None
    groups = sorted({SOURCES[s] for s in (sources or SOURCES) if s in SOURCES})
    settings = Settings.from_env(require=groups)
    settings.install_log_masking()
    if args.db:
        settings = dataclasses.replace(settings, db_path=Path(args.db))
    report = sync(settings, sources=sources, since=args.since,
                  progress="lines" if args.quiet else "auto")
    if not args.quiet:
        print("\n".join(report.summary_lines()))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    print(run_demo(preset=args.preset, seed=args.seed, end=args.end, db_path=args.db))
    return 0


def _cmd_sandbox_summary(args: argparse.Namespace) -> int:
    from .sandbox import SimulatedAccount
    from .sandbox.summary import describe

    print(describe(SimulatedAccount.build(args.preset, seed=args.seed, end=args.end)))
    return 0


def _cmd_sandbox_serve(args: argparse.Namespace) -> int:
    from .sandbox.server import serve_forever

    serve_forever(preset=args.preset, seed=args.seed, end=args.end, port=args.port,
                  r2=not args.no_r2)
    return 0


def _cmd_costs_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .costs.focus import FOCUS_VERSION, export_focus
    from .costs.pricebook import load_book
    from .settings import Settings
    from .warehouse import Warehouse

    settings = Settings.from_env()
    wh = Warehouse(Path(args.db) if args.db else settings.db_path, read_only=True)
    out = Path(args.out) if args.out else Path("data") / f"focus-costs.{args.format}"
    result = export_focus(wh, out, args.format, months=args.months,
                          book=load_book("cloudflare", overlay=args.prices))
    months = ", ".join(result.months) or "no month"
    print(f"wrote {result.rows:,} FOCUS {FOCUS_VERSION} rows ({months}) to {result.path}")
    print(f"prices: {result.book}; total {result.total:f} {result.currency}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `lc-analytics` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except LcAnalyticsError as exc:
        print(f"lc-analytics: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("lc-analytics: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
