"""The sync step for Cloudflare's billable usage: window by window into `billed_usage`.

Windows follow the billing cycle (at most 31 days each), from the watermark minus the lag
(or `--since`, or the first day of the month `LOOKBACK_DAYS` ago) through yesterday. Each
window replaces its days in one transaction with the watermark. When the account answers
neither V2 nor V1, the sync report says so plainly and the run goes on.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from .sources.billing import BillableUsage

SOURCE = "billed_usage"
LOOKBACK_DAYS = 90
LAG_DAYS = 3  # the current days are restated as the month accrues


def billing_range(today: date, since: date | None, watermark: date | None) -> tuple[date, date]:
    """[first, last] days to fetch.

    >>> billing_range(date(2026, 7, 1), None, None)
    (datetime.date(2026, 4, 1), datetime.date(2026, 6, 30))
    >>> billing_range(date(2026, 7, 1), None, date(2026, 6, 30))
    (datetime.date(2026, 6, 28), datetime.date(2026, 6, 30))
    """
    last = today - timedelta(days=1)
    if since is not None:
        first = since
    elif watermark is not None:
        first = watermark + timedelta(days=1 - LAG_DAYS)
    else:
        first = (today - timedelta(days=LOOKBACK_DAYS)).replace(day=1)
    return min(first, last), last


def sync_billed_usage(ctx: Any, source: str) -> None:
    """The `billed_usage` step of `sync.sync` (ctx: its `_Context`)."""
    usage = BillableUsage(ctx.client)
    today = ctx.now.date()
    first, last = billing_range(today, ctx.since, ctx.warehouse.get_watermark(source))
    if usage.choose() is None:
        ctx.report.windows[source] = []
        _done(ctx, source, f"not synced: {usage.unavailable}")
        return
    wins = list(usage.windows(first, last))
    first = wins[0][0] if wins else first
    ctx.report.windows[source] = [(lo, hi + timedelta(days=1)) for lo, hi in wins]
    ctx.progress.start(source, len(wins), "window")
    total = 0
    for lo, hi in wins:
        rows = [{**r, "synced_at": ctx.now} for r in usage.window(lo, hi)]
        with ctx.warehouse.transaction() as tx:
            total += tx.replace_range(source, "ChargePeriodStart", lo,
                                      hi + timedelta(days=1), rows)
            tx.set_watermark(source, hi, {"api_version": usage.version})
        ctx.progress.advance()
    ctx.report.rows[source] = ctx.report.rows.get(source, 0) + total
    _done(ctx, source, f"{total:,} rows ({usage.version} API) in {len(wins)} window(s), "
                       f"{first} to {last}")


def _done(ctx: Any, source: str, line: str) -> None:
    ctx.report.notes[source] = line
    ctx.progress.done(source, line)
