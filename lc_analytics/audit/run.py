"""Run the production checklist against an account and show or record the outcome."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from ..client.http import CloudflareClient
from ..settings import Settings
from ..warehouse import Warehouse
from .checks import CHECKS, FAIL, PASS, UNKNOWN, AuditContext, Check, r2_inventory

_MARK = {PASS: "PASS", FAIL: "FAIL", UNKNOWN: "????"}
DEFAULT_BUDGETS = "budgets.toml"  # what `alerts check` reads when no --budgets is given


@dataclass
class AuditReport:
    """The checklist's outcome: one `Check` per item, in order."""

    run_at: datetime
    checks: list[Check]

    def status(self, key: str) -> str:
        """The status of the item `key`."""
        return next(c.status for c in self.checks if c.key == key)

    def counts(self) -> dict[str, int]:
        """How many items passed, failed and could not be told."""
        return {s: sum(c.status == s for c in self.checks) for s in (PASS, FAIL, UNKNOWN)}

    def text(self) -> str:
        """The checklist as text, one item a line with its evidence below.

        >>> print(AuditReport(datetime(2026, 7, 1, tzinfo=UTC),
        ...                   [Check("k", "A check", "pass", "seen")]).text())
        Production audit 2026-07-01 00:00 UTC: 1 pass, 0 fail, 0 cannot tell
          [PASS] A check
                 seen
        """
        n = self.counts()
        lines = [f"Production audit {self.run_at:%Y-%m-%d %H:%M} UTC: {n[PASS]} pass, "
                 f"{n[FAIL]} fail, {n[UNKNOWN]} cannot tell"]
        for c in self.checks:
            lines += [f"  [{_MARK[c.status]}] {c.title}", f"         {c.evidence}"]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: run_at, counts and every check (key, title, status, evidence)."""
        return {"run_at": self.run_at.isoformat(), "counts": self.counts(),
                "checks": [c.__dict__ for c in self.checks]}


def run_audit(settings: Settings, *, transport: httpx.BaseTransport | None = None,
              warehouse: Warehouse | None = None, now: datetime | None = None,
              r2: Any = "auto", budgets: str | Path | None = "auto",
              checks: Sequence[Callable[[AuditContext], Check]] = CHECKS) -> AuditReport:
    """Check the production checklist against the account (reads only; changes nothing).

    `warehouse` (read for the runway and the last sync) defaults to the one at
    `settings.db_path` when it exists; `r2="auto"` lists buckets when R2 credentials are set;
    `budgets="auto"` is `alerts check`'s default file, budgets.toml, when it exists.

    >>> print(run_audit(Settings.from_env()).text())                  # doctest: +SKIP
    """
    now = now or datetime.now(UTC)
    if warehouse is None and Path(settings.db_path).expanduser().exists():
        warehouse = Warehouse(settings.db_path, read_only=True)
    client = CloudflareClient(settings, transport=transport) \
        if settings.api_token is not None and settings.account_id else None
    if budgets == "auto":
        budgets = DEFAULT_BUDGETS if Path(DEFAULT_BUDGETS).is_file() else None
    ctx = AuditContext(settings, client, warehouse, now,
                       r2=r2_inventory(settings) if r2 == "auto" else r2,
                       budgets=Path(budgets) if budgets is not None else None)
    try:
        return AuditReport(now, [check(ctx) for check in checks])
    finally:
        if client is not None:
            client.close()


def record_audit(wh: Warehouse, report: AuditReport) -> int:
    """Store the report in `audit_checks` (what the cost review shows); returns rows written.
    """
    rows = [{"run_at": report.run_at, "check_key": c.key, "position": i, "title": c.title,
             "status": c.status, "evidence": c.evidence} for i, c in enumerate(report.checks)]
    with wh.transaction() as tx:
        return tx.upsert("audit_checks", rows)
