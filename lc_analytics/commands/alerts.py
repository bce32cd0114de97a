"""`lc-analytics alerts check`: budgets, anomalies, runway and sync health, delivered once."""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation
from pathlib import Path

DEFAULT_BUDGETS = "budgets.toml"


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add `alerts check`."""
    alerts = sub.add_parser("alerts", help="evaluate alerts and deliver them (cron, after sync)")
    asub = alerts.add_subparsers(dest="alerts_command", metavar="SUBCOMMAND")
    asub.required = True
    check = asub.add_parser(
        "check", help="budgets, cost anomalies, storage runway, stale or failed syncs",
        description="Evaluate budgets (budgets.toml) against the month to date and the "
                    "forecast, cost and usage anomalies per meter, the Stream storage runway "
                    "and the syncs; send each new, escalated or resolved alert once to "
                    "LC_ANALYTICS_ALERT_URLS (apprise URLs). State lives in the warehouse: a "
                    "re-run sends nothing twice; a failed delivery is retried next run.")
    check.add_argument("--dry-run", action="store_true",
                       help="print the messages that would be sent; send and write nothing")
    check.add_argument("--budgets", default=None,
                       help=f"budgets file (default: {DEFAULT_BUDGETS} if it exists)")
    check.add_argument("--db", default=None, help="warehouse (default: LC_ANALYTICS_DB)")
    check.add_argument("--runway-days", type=int, default=None,
                       help="alert when Stream storage runs out within this many days "
                            "(default: 14)")
    check.add_argument("--stale-hours", type=float, default=None,
                       help="alert when no sync succeeded for this many hours (default: 36)")
    check.add_argument("--min-usd", type=_dollars, default=None,
                       help="smallest dollar effect of a cost anomaly that alerts (default: 1)")
    check.set_defaults(func=_cmd_check)
    back = asub.add_parser(
        "backstop", help="plan Cloudflare billing alerts matching the service budgets",
        description="Write a plan that creates (or corrects) one Notifications policy of type "
                    "billing_usage_alert per service budget, so Cloudflare alerts even when "
                    "this host is down. Nothing changes until `lc-analytics apply PLAN --yes`.")
    back.add_argument("--budgets", default=DEFAULT_BUDGETS,
                      help=f"budgets file (default: {DEFAULT_BUDGETS})")
    back.add_argument("--destination", default=None,
                      help="the webhook destination's name (default: the account's only one)")
    back.add_argument("--plan", default=None, help="plan file to write "
                      "(default: data/plans/plan-<id>.json)")
    back.set_defaults(func=_cmd_backstop)


def _dollars(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"not an amount of dollars >= 0: {text!r}")
    return value


def _cmd_check(args: argparse.Namespace) -> int:
    import dataclasses

    from ..alerts import Params, check_alerts
    from ..errors import CheckFailedError, UsageError
    from ..settings import Settings
    from ..warehouse import Warehouse

    settings = Settings.from_env()
    settings.install_log_masking()
    budgets = args.budgets or (DEFAULT_BUDGETS if Path(DEFAULT_BUDGETS).is_file() else None)
    if args.budgets and not Path(args.budgets).is_file():
        raise UsageError(f"--budgets: no such file: {args.budgets}")
    changes = {k: v for k, v in (("runway_days", args.runway_days),
                                 ("stale_hours", args.stale_hours),
                                 ("anomaly_min_usd", args.min_usd)) if v is not None}
    params = dataclasses.replace(Params(), **changes)
    db = Path(args.db) if args.db else settings.db_path
    Warehouse(db, read_only=True)  # a missing warehouse is refused, never created empty
    wh = Warehouse(db, read_only=args.dry_run)
    result = check_alerts(wh, budgets=budgets, urls=settings.alert_urls, dry_run=args.dry_run,
                          params=params)
    print(format_result(result))
    if not args.dry_run and result.pending:
        raise CheckFailedError(f"{len(result.pending)} message(s) not delivered; they stay "
                               "pending and are sent again by the next alerts check")
    return 0


def _cmd_backstop(args: argparse.Namespace) -> int:
    from ..alerts import load_budgets
    from ..alerts.backstop import backstop_plan
    from ..settings import Settings

    settings = Settings.from_env(require=["stream"])
    settings.install_log_masking()
    plan = backstop_plan(load_budgets(args.budgets), settings, destination=args.destination)
    path = plan.write(args.plan or Path("data") / "plans" / f"plan-{plan.id}.json")
    for rec in plan.recommendations:
        print(f"  {rec.action}: filters {rec.actions[0].proposed['filters']}")
    print(f"plan {plan.id}: {len(plan.actions)} action(s) written to {path}")
    print(f"review it with: lc-analytics apply {path}")
    return 0


def format_result(result) -> str:  # noqa: ANN001 - CheckResult, imported lazily
    """The messages (sent, or due on a dry run) and a one-line summary."""
    verb = "would send" if result.dry_run else "sent"
    lines = []
    for m in result.messages:
        status = "" if result.dry_run else (
            "  [delivered]" if result.delivered.get(m.key) else "  [NOT delivered: pending]")
        lines += [m.text() + status, ""]
    lines += [f"note: {n}" for n in result.notes]
    sent = len(result.messages) - (0 if result.dry_run else len(result.pending))
    pending = "" if result.dry_run else f", {len(result.pending)} pending"
    lines.append(f"{len(result.alerts)} alert(s) hold; {verb} {sent} message(s){pending}")
    return "\n".join(lines)
