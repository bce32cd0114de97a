"""`lc-analytics audit [--json]`: the production checklist against the account."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add `audit` to the CLI."""
    p = sub.add_parser(
        "audit", help="check the production checklist against the account (reads only)",
        description="Check the production checklist through the API: Stream webhook URL, "
                    "live-input notifications policy, billing alert (or budgets with alert "
                    "delivery), recording retention, lifecycle rules on export buckets, "
                    "storage runway, a sync in the last day, and the token's scope. Each item "
                    "is pass, fail or cannot tell, with its evidence. Nothing is changed; the "
                    "result is recorded in the warehouse for the cost review.")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--db", default=None, help="warehouse path (default: $LC_ANALYTICS_DB)")
    p.add_argument("--budgets", default=None,
                   help="budgets file of `alerts check` (default: budgets.toml if it exists)")
    p.add_argument("--no-record", action="store_true",
                   help="do not record the result in the warehouse")
    p.set_defaults(func=_cmd_audit)


def _cmd_audit(args: argparse.Namespace) -> int:
    import dataclasses
    import json
    from pathlib import Path

    from ..audit import FAIL, record_audit, run_audit
    from ..errors import CheckFailedError
    from ..settings import Settings
    from ..warehouse import Warehouse

    settings = Settings.from_env()
    settings.install_log_masking()
    if args.db:
        settings = dataclasses.replace(settings, db_path=Path(args.db))
    report = run_audit(settings, budgets=args.budgets or "auto")
    if not args.no_record and Path(settings.db_path).expanduser().exists():
        record_audit(Warehouse(settings.db_path), report)
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.text())
    failing = [c.key for c in report.checks if c.status == FAIL]
    if failing:
        raise CheckFailedError(f"audit: {len(failing)} item(s) fail: {', '.join(failing)}")
    return 0
