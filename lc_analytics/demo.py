"""The main job on the built-in sandbox, as `make demo` runs it."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .alerts import CheckResult, check_alerts, parse_budgets
from .audit import AuditReport, record_audit, run_audit
from .live.report import busiest_show, show_run
from .live.spool import spool_dir
from .money import format_usd
from .recommend import Plan, make_plan
from .reports import ReportResult, run
from .sandbox import SimulatedAccount
from .sandbox.live_replay import replay_last_day
from .sandbox.runtime import Sandbox
from .sandbox.summary import describe
from .sync import SyncReport, sync
from .warehouse import Warehouse

DEMO_DB = Path("data/demo.duckdb")
#: The demo's budgets (budgets.example.toml has more kinds): the alerts it would send.
DEMO_BUDGETS = """
[[budget]]
name = "stream"
service = "Stream"
monthly_usd = "500"

[[budget]]
name = "r2"
service = "R2"
monthly_usd = "100"
"""


@dataclass
class DemoResult:
    """What the demo built: the account, the sync, the plan and the report."""

    account: SimulatedAccount
    sync: SyncReport
    plan: Plan
    plan_path: Path
    report: ReportResult | None
    audit: AuditReport | None = None
    alerts: CheckResult | None = None
    show_report: ReportResult | None = None  # the post-show report of the busiest show


def run_demo(preset: str = "small", seed: int = 7, end: date | None = None,
             db_path: str | Path = DEMO_DB, progress: str = "auto",
             report: bool = True) -> DemoResult:
    """Sandbox → the last day's live shows through the receiver and poller → sync →
    recommendations → the cost_review and post-show reports, into a fresh warehouse.

    The demo warehouse belongs to the sandbox and is recreated on every run (a real
    warehouse is never deleted by anything in lc_analytics).

    >>> result = run_demo(end=date(2026, 6, 30), db_path=tmp / "demo.duckdb")  # doctest: +SKIP
    >>> result.report.html                                                     # doctest: +SKIP
    """
    db_path = Path(db_path)
    for stale in (db_path, db_path.with_name(db_path.name + ".wal")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(spool_dir(db_path), ignore_errors=True)
    account = SimulatedAccount.build(preset, seed=seed, end=end)
    with Sandbox(account) as sb:
        replay_last_day(sb, db_path)  # events and viewer counts into the spool
        # the sandbox's zone too (CDN section); 14 days of its hourly groups keep it quick
        settings = sb.settings(db_path=db_path, zone=True, zone_hourly_days=14)
        synced = sync(settings, transport=sb.transport,
                      now=lambda: account.now.to_pydatetime(), progress=progress)
        audit = run_audit(sb.settings(db_path=db_path), transport=sb.transport,
                          r2=_sandbox_r2(sb))
    record_audit(Warehouse(db_path), audit)
    plan = make_plan(Warehouse(db_path))
    plan_path = plan.write(db_path.parent / "plans" / f"plan-{plan.id}.json")
    result = run("cost_review", params={"db": str(db_path.resolve())}) if report else None
    alerts = check_alerts(Warehouse(db_path, read_only=True),
                          budgets=parse_budgets(DEMO_BUDGETS, "demo budgets"), dry_run=True)
    busiest = busiest_show(Warehouse(db_path, read_only=True), account.end) if report else None
    show = None
    if busiest:
        params, key = show_run(Warehouse(db_path, read_only=True), *busiest)
        show = run("show", params={"db": str(db_path.resolve()), **params}, key=key)
    return DemoResult(account, synced, plan, plan_path, result, audit=audit, alerts=alerts,
                      show_report=show)


def _sandbox_r2(sb: Sandbox) -> object:
    from .audit.checks import r2_inventory

    return r2_inventory(sb.settings())


def summary(result: DemoResult) -> str:
    """What `make demo` prints: the account, what landed, the top recommendations, the report."""
    lines = [describe(result.account), "", "Synced into the demo warehouse:"]
    lines += [f"  {line}" for line in result.sync.summary_lines()]
    top = sorted(result.plan.recommendations, key=lambda r: r.monthly_saving, reverse=True)[:3]
    lines += ["", f"Top recommendations ({len(result.plan.recommendations)} in the plan "
                  f"{result.plan_path}):"]
    lines += [f"  {i}. {format_usd(r.monthly_saving)}/month  {r.kind}: {r.action}"
              for i, r in enumerate(top, 1)]
    if result.alerts is not None:
        lines += ["", f"Alerts it would send (alerts check --dry-run, "
                      f"{len(result.alerts.messages)} message(s)):"]
        lines += [f"  {line}" for m in result.alerts.messages for line in m.text().splitlines()]
    if result.audit is not None:
        lines += ["", result.audit.text()]
    if result.report is not None:
        lines += ["", f"Cost review: {result.report.html}"]
    if result.show_report is not None:
        lines += [f"Post-show report (busiest show of the last day): {result.show_report.html}"]
    return "\n".join(lines)
