"""The sync's `live_minutes` step: minutes viewed by the minute (GraphQL `datetime`) of the
live inputs' videos, on the days they were live, into `live_minutes_viewed`.

Which days and uids come from the daily rows the `minutes_viewed` step just wrote (days with
minutes of a live input, or of a recording on a day its show ran: the day it started and, for
a show that ran past midnight, the next): a few small queries, one per day. A recording's
minutes from its show's end on (created + duration) are on-demand viewing and are left out.
Like the daily analytics, the last `LAG_DAYS` are re-read on every run (Cloudflare restates
recent data) and replaced whole in one transaction with the watermark.
"""

from __future__ import annotations

from datetime import UTC, date, timedelta
from typing import Any

from .. import facts, readmodel
from ..sources.live_minutes import day_bounds, minute_rows
from ..sync import LAG_DAYS  # re-read like the daily analytics

FIRST_DAYS = 7  # a new warehouse reads the last week by the minute


def minutes_range(ctx: Any, source: str) -> tuple[date, date]:
    """[first, last] days to read: from the watermark minus the lag (the last `FIRST_DAYS`
    the first time, `--since` when given), never older than the retention, through today."""
    now = ctx.now if ctx.now.tzinfo else ctx.now.replace(tzinfo=UTC)
    today = now.date()
    earliest = (now - timedelta(days=facts.STREAM_ANALYTICS_RETENTION_DAYS)).date() \
        + timedelta(days=1)
    if ctx.since is not None:
        first = ctx.since
    else:
        wm = ctx.warehouse.get_watermark(source)
        first = today - timedelta(days=FIRST_DAYS) if wm is None \
            else wm + timedelta(days=1 - LAG_DAYS)
    return max(first, earliest), today


def sync_live_minutes(ctx: Any, source: str) -> None:
    """The sync step: read the days with live viewing by the minute, replace them whole."""
    assert ctx.client is not None
    wh = ctx.warehouse
    first, last = minutes_range(ctx, source)
    days = readmodel.live_viewing_uids(wh, first, last)
    ctx.progress.start(source, len(days), "day")
    rows: list[dict] = []
    for day, uids in days.items():
        rows += minute_rows(ctx.client, day, uids)
        ctx.progress.advance()
    uids = sorted({r["uid"] for r in rows})
    owners, ends = readmodel.live_input_of(wh, uids), readmodel.recording_ends(wh, uids)
    rows = [{**r, "live_input_uid": owners[r["uid"]]} for r in rows if r["uid"] in owners
            and (r["uid"] not in ends or r["minute"] < ends[r["uid"]])]  # the show's, only
    lo, hi = day_bounds(first)[0], day_bounds(last)[1]
    with wh.transaction() as tx:
        n = tx.replace_range("live_minutes_viewed", "minute", lo, hi, rows)
        tx.set_watermark(source, last - timedelta(days=1))  # today is still filling up
    ctx.report.rows["live_minutes_viewed"] = ctx.report.rows.get("live_minutes_viewed", 0) + n
    ctx.report.windows[source] = [(first, last + timedelta(days=1))]
    ctx.report.notes[source] = (f"{n:,} minute rows of {len(days)} day(s) with live viewing, "
                                f"{first} to {last}")
    ctx.progress.done(source, ctx.report.notes[source])
