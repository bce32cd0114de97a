"""`lc-analytics`: a thin shell over the library; one library call per command."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Sequence

from . import __version__, commands
from .commands._args import add_sandbox_args, parse_date
from .errors import LcAnalyticsError
from .settings import log_masking_scope, mask_secrets

_date = parse_date  # the shared argument helpers, under their old names
_add_sandbox_args = add_sandbox_args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lc-analytics",
        description="Cloudflare Stream + R2 analytics and costs for a live-commerce platform.",
    )
    parser.add_argument("--version", action="version", version=f"lc-analytics {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    _add_demo_parser(sub)
    _add_sync_parser(sub)
    _add_recommend_parser(sub)
    _add_apply_parser(sub)
    _add_report_parser(sub)
    _add_sandbox_parser(sub)
    _add_costs_parser(sub)
    for add_parser in commands.parsers():
        add_parser(sub)
    return parser



def _add_demo_parser(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="run the main job on the built-in sandbox",
                          description="The whole chain on the sandbox: build the simulated "
                                      "account, sync it through the emulated API into a fresh "
                                      "demo warehouse, make the recommendations and their "
                                      "plan, and render the cost_review report.")
    _add_sandbox_args(demo)
    demo.add_argument("--db", default="data/demo.duckdb",
                      help="demo warehouse, recreated on each run (default: data/demo.duckdb)")
    demo.set_defaults(func=_cmd_demo)


def _add_sync_parser(sub: argparse._SubParsersAction) -> None:
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
    sy.add_argument("--full", action="store_true",
                    help="list every inventory whole now (videos, R2 buckets), due or not")
    sy.set_defaults(func=_cmd_sync)


def _add_recommend_parser(sub: argparse._SubParsersAction) -> None:
    rec = sub.add_parser(
        "recommend", help="recommend retention, lifecycle and bitrate changes; write a plan",
        description="Run every recommender on the warehouse, store the recommendations in it, "
                    "and write the action plan (JSON) for `lc-analytics apply`.")
    rec.add_argument("--plan", default=None,
                     help="plan file to write (default: data/plans/plan-<id>.json)")
    rec.add_argument("--db", default=None, help="warehouse path (default: $LC_ANALYTICS_DB)")
    rec.add_argument("--prices", default=None, help="contract price overlay (TOML)")
    rec.add_argument("--as-of", type=_date, default=None,
                     help="last day of data to use (default: the last synced day)")
    rec.add_argument("--max-lost-share", type=float, default=None,
                     help="retention: most on-demand viewing a policy may lose (default 0.02)")
    rec.set_defaults(func=_cmd_recommend)


def _add_apply_parser(sub: argparse._SubParsersAction) -> None:
    ap = sub.add_parser(
        "apply", help="show a plan's changes (dry run); apply them with --yes",
        description="Compare each change of a plan with the live account and print the diff. "
                    "Nothing changes without --yes. A plan whose recorded values no longer "
                    "match the account is refused (stale); applying twice changes nothing.")
    ap.add_argument("plan", help="plan file written by `lc-analytics recommend`")
    ap.add_argument("--yes", action="store_true", help="apply the changes")
    ap.add_argument("--db", default=None,
                    help="warehouse for the audit log (default: $LC_ANALYTICS_DB)")
    ap.set_defaults(func=_cmd_apply)


def _add_report_parser(sub: argparse._SubParsersAction) -> None:
    rp = sub.add_parser(
        "report", help="run a report notebook into reports/<name>/<date>/",
        description="Execute lc_analytics/notebooks/<NAME>.ipynb with papermill into "
                    "reports/<NAME>/<date>/: the executed notebook, a self-contained HTML "
                    "page (code hidden, charts drawn offline) and summary.json; "
                    "reports/index.html lists every run.")
    rp.add_argument("name",
                    help="report name: a notebook in lc_analytics/notebooks/ (e.g. cost_review)")
    rp.add_argument("--period", metavar="YYYY-MM", default=None, help="the month to report on")
    rp.add_argument("--as-of", type=_date, default=None, metavar="DATE",
                    help="last day of data to use (default: the last synced day)")
    rp.add_argument("--db", default=None, help="warehouse path (default: $LC_ANALYTICS_DB)")
    rp.set_defaults(func=_cmd_report)


def _add_sandbox_parser(sub: argparse._SubParsersAction) -> None:
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
    whb = sb_sub.add_parser("warehouse", help="write the warehouse daily syncs would have "
                            "built since the first simulated day (README: sandbox)")
    _add_sandbox_args(whb)
    whb.add_argument("path", help="where to create the warehouse (must not exist)")
    whb.set_defaults(func=_cmd_sandbox_warehouse)
    adv = sb_sub.add_parser(
        "advance", help="move a served sandbox's clock forward (R2 follows)",
        description="Move the clock of a running `lc-analytics sandbox serve` forward: the "
                    "API then serves the new days, and R2 lists the new day's objects, "
                    "expirations and storage classes. Reads LC_SANDBOX_CONTROL_URL and "
                    "LC_SANDBOX_CONTROL_TOKEN (printed by serve).")
    adv.add_argument("--days", type=int, required=True, help="days to move forward (>= 1)")
    adv.add_argument("--url", default=None,
                     help="control endpoint (default: $LC_SANDBOX_CONTROL_URL)")
    adv.set_defaults(func=_cmd_sandbox_advance)
    gt = sb_sub.add_parser(
        "ground-truth", help="write a served sandbox's ground truth to Parquet",
        description="Write the truth of a running `lc-analytics sandbox serve`, as of its "
                    "clock, to DIR/<table>.parquet (one file per truth table, plus "
                    "storage_usage, planted and account) for external checks. Reads "
                    "LC_SANDBOX_CONTROL_URL and LC_SANDBOX_CONTROL_TOKEN (printed by serve).")
    gt.add_argument("--out", required=True, metavar="DIR", help="folder to write into")
    gt.add_argument("--url", default=None,
                    help="control endpoint (default: $LC_SANDBOX_CONTROL_URL)")
    gt.set_defaults(func=_cmd_sandbox_ground_truth)

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
    report = sync(settings, sources=sources, since=args.since, full=args.full,
                  progress="lines" if args.quiet else "auto")
    if not args.quiet:
        print("\n".join(report.summary_lines()))
    return 0


def _cmd_recommend(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .costs.pricebook import load_book
    from .recommend import make_plan
    from .settings import Settings
    from .warehouse import Warehouse

    settings = Settings.from_env()
    db = Path(args.db) if args.db else settings.db_path
    Warehouse(db, read_only=True)  # a missing warehouse is refused, never created empty
    # a cache rule's origin egress is priced only when the origin's price is set
    params: dict = {"origin_egress_usd_per_gb": settings.origin_egress_usd_per_gb}
    if args.max_lost_share is not None:
        params["max_lost_share"] = args.max_lost_share
    plan = make_plan(Warehouse(db), book=load_book("cloudflare", overlay=args.prices),
                     as_of=args.as_of, **params)
    path = plan.write(args.plan or Path("data") / "plans" / f"plan-{plan.id}.json")
    print(format_recommendations(plan))
    print(f"plan {plan.id}: {len(plan.actions)} action(s) written to {path}")
    print(f"review it with: lc-analytics apply {path}")
    return 0


def format_recommendations(plan, limit: int | None = None) -> str:
    """One line per recommendation, largest saving first, then the total: money through
    `lc_analytics.money.format_usd`, each target by its name.
    """
    from .money import format_usd

    recs = sorted(plan.recommendations, key=lambda r: r.monthly_saving, reverse=True)
    if not recs:
        return "  no recommendation"
    lines = [f"  {format_usd(r.monthly_saving) + '/month':>16}  {r.kind:<22} "
             f"{r.target_name:<34} {r.action}" for r in recs[:limit]]
    total = sum((r.monthly_saving for r in plan.recommendations), start=0)
    lines.append(f"  {format_usd(total) + '/month':>16}  in all ({len(recs)} recommendation(s))")
    return "\n".join(lines)


def _cmd_apply(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from .actions import apply_plan, render
    from .recommend.model import Plan
    from .settings import Settings
    from .warehouse import Warehouse

    plan = Plan.read(args.plan)
    needs_r2 = any(a.kind == "r2.lifecycle" for a in plan.actions)
    settings = Settings.from_env(require=["stream", "r2"] if needs_r2 else ["stream"])
    settings.install_log_masking()
    if args.db:
        settings = dataclasses.replace(settings, db_path=Path(args.db))
    report = apply_plan(plan, settings, yes=args.yes,
                        warehouse=Warehouse(settings.db_path) if args.yes else None)
    print(render(plan, report))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .reports import run

    res = run(args.name, params={"db": args.db} if args.db else None, period=args.period,
              as_of=args.as_of)
    print(f"{res.name} as of {res.date}: {res.html}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo, summary

    print(summary(run_demo(preset=args.preset, seed=args.seed, end=args.end,
                           db_path=args.db)))
    return 0


def _cmd_sandbox_summary(args: argparse.Namespace) -> int:
    from .sandbox import SimulatedAccount
    from .sandbox.summary import describe

    print(describe(SimulatedAccount.build(args.preset, seed=args.seed, end=args.end)))
    return 0


def _cmd_sandbox_warehouse(args: argparse.Namespace) -> int:
    from .sandbox import SimulatedAccount
    from .sandbox.warehouse_builder import build_warehouse

    built = build_warehouse(SimulatedAccount.build(args.preset, seed=args.seed, end=args.end),
                            args.path)
    print(f"wrote {built.path}: {built.first_day} .. {built.last_day}; "
          + ", ".join(f"{t} {n:,}" for t, n in sorted(built.rows.items())))
    return 0


def _cmd_sandbox_serve(args: argparse.Namespace) -> int:
    from .sandbox.server import serve_forever

    serve_forever(preset=args.preset, seed=args.seed, end=args.end, port=args.port,
                  r2=not args.no_r2)
    return 0


def _cmd_sandbox_advance(args: argparse.Namespace) -> int:
    from .sandbox.control import ControlClient

    clock = ControlClient.from_env(args.url).advance(args.days)
    print(f"sandbox {clock['account_id']}: clock at {clock['now']}, last complete day "
          f"{clock['end']} ({clock['days_left']} more day(s) simulated)")
    return 0


def _cmd_sandbox_ground_truth(args: argparse.Namespace) -> int:
    from .sandbox.control import ControlClient

    client = ControlClient.from_env(args.url)
    files = client.write_ground_truth(args.out)
    print(f"wrote {len(files)} Parquet file(s) of the sandbox's ground truth to {args.out}")
    return 0


def _cmd_costs_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .costs.focus import FOCUS_VERSION, export_focus
    from .costs.pricebook import load_book
    from .readmodel import check_months
    from .settings import Settings
    from .warehouse import Warehouse

    settings = Settings.from_env()
    wh = Warehouse(Path(args.db) if args.db else settings.db_path, read_only=True)
    out = Path(args.out) if args.out else Path("data") / f"focus-costs.{args.format}"
    if args.months:
        check_months(wh, args.months)  # a month partly synced would be understated
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
        with log_masking_scope():
            return int(args.func(args) or 0)
    except LcAnalyticsError as exc:
        print(f"lc-analytics: error: {_masked(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("lc-analytics: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line (the traceback with --verbose), never a secret
        if args.verbose:
            raise
        print(f"lc-analytics: unexpected error: {type(exc).__name__}: "
              f"{_masked(str(exc)).splitlines()[0] if str(exc) else ''} (a bug: please "
              "report it; run with -v for the traceback)", file=sys.stderr)
        return LcAnalyticsError.exit_code


def _masked(text: str) -> str:
    """`text` with every configured secret value masked."""
    from .reports.scrub import configured_secrets
    return mask_secrets(text, configured_secrets())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
