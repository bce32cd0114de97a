"""The inventory steps of a sync: live inputs, videos and R2 objects, each listed incrementally.

Why each skip is safe (README: "Incremental inventories"):

- live inputs: the list already carries `modified`; an input whose `modified` did not move
  is not fetched again (one GET per new or changed input, not per input);
- videos: each run lists what was created since the last sync minus the lag, and from the
  oldest video still changing on its own (processing, live, pending upload); a full listing
  runs when due (`LC_ANALYTICS_FULL_LISTING_DAYS`, default 7), on `sync --full`, or when the
  API's video count differs from the warehouse's (a deletion). A video whose
  scheduledDeletion has passed is marked deleted from that moment;
- R2: a bucket whose daily storage metrics (object count, bytes) did not move since its last
  listing, and where no lifecycle rule was due to act, is not listed until the full listing.

Every skip is recorded in the run (`sync_skips`, and `SyncReport.skips`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .sources.r2 import R2Inventory
from .sources.stream import (
    iter_videos,
    live_input,
    live_input_items,
    parse_time,
    storage_usage,
    video_total,
)
from .warehouse import incremental

if TYPE_CHECKING:
    from .sync import _Context

LAG_DAYS = 3  # as the analytics: what changed in the last days is listed again


def sync_stream(ctx: _Context, source: str) -> None:
    """Live inputs (changed ones fetched) and videos (incremental or full), a storage snapshot."""
    assert ctx.client is not None
    state = ctx.warehouse.get_state(source) or {}
    details = dict(state.get("details") or {})
    ctx.progress.start(source, None, "items")
    live_inputs, unchanged = _changed_live_inputs(ctx)
    full = _full_due(ctx, details.get("full_listing_at"))
    videos: Iterable[dict] | None = None if full else _incremental_videos(
        ctx, state.get("watermark"))
    if videos is None:  # a full listing streams into the upsert a batch at a time
        full, videos = True, iter_videos(ctx.client)
        details["full_listing_at"] = ctx.now.isoformat()
    snapshot = storage_usage(ctx.client, ctx.now)
    with ctx.warehouse.transaction() as tx:
        n_li = tx.upsert("live_inputs", live_inputs, seen_at=ctx.now)
        tx.touch("live_inputs", "uid", unchanged, ctx.now)
        gone_li = tx.mark_missing("live_inputs", ctx.now)
        n_v = tx.upsert("videos", videos, seen_at=ctx.now)
        gone_v = tx.mark_gone_at("videos", "scheduled_deletion", ctx.now)
        if full:
            gone_v += tx.mark_missing("videos", ctx.now)
        tx.upsert("stream_storage_snapshots", [snapshot])
        _record_skips(ctx, tx, source)
        tx.set_watermark(source, ctx.now.date(), details)
    ctx.progress.advance(n_li + n_v)
    _count(ctx, live_inputs=n_li, videos=n_v, stream_storage_snapshots=1)
    ctx.report.windows.setdefault(source, [])
    how = "full listing" if full else "incremental listing"
    _done(ctx, source, f"{n_li} live inputs fetched ({len(unchanged)} unchanged), {n_v} videos "
                       f"({how}; {gone_v} gone), {gone_li} live inputs gone, storage "
                       f"{snapshot['total_storage_minutes']:,.0f} of "
                       f"{snapshot['total_storage_minutes_limit']:,} minutes")


def _changed_live_inputs(ctx: _Context) -> tuple[list[dict], list[str]]:
    """Rows of the new or changed live inputs (GET each), and the uids of the unchanged."""
    assert ctx.client is not None
    known = incremental.live_input_versions(ctx.warehouse)
    rows, unchanged = [], []
    for item in live_input_items(ctx.client):
        modified = parse_time(item.get("modified"))
        if modified is not None and known.get(item["uid"]) == modified:
            unchanged.append(item["uid"])
        else:
            rows.append(live_input(ctx.client, item["uid"]))
    if unchanged:
        _skip(ctx, "stream", "live_inputs", len(unchanged),
              "modified unchanged since the last sync: not fetched again")
    return rows, unchanged


def _full_due(ctx: _Context, last: str | None) -> bool:
    if ctx.full or last is None or ctx.settings.full_listing_days == 0:
        return True
    return ctx.now - datetime.fromisoformat(last) >= \
        timedelta(days=ctx.settings.full_listing_days)


def _incremental_videos(ctx: _Context, watermark: date | None) -> list[dict] | None:
    """Videos created since the watermark minus the lag, or from the oldest unsettled one;
    None when a full listing is needed instead (no watermark, or the counts disagree)."""
    assert ctx.client is not None
    if watermark is None:
        return None
    start = datetime.combine(watermark - timedelta(days=LAG_DAYS), datetime.min.time(),
                             ctx.now.tzinfo)
    unsettled = incremental.oldest_unsettled_video(ctx.warehouse)
    if unsettled is not None and unsettled < start:
        start = unsettled
    total = video_total(ctx.client)
    rows = list(iter_videos(ctx.client, start=start))
    expected = incremental.alive_video_uids(ctx.warehouse, ctx.now) | {r["uid"] for r in rows}
    if total is None or total != len(expected):
        return None  # something older was deleted or edited away: list everything
    _skip(ctx, "stream", "videos", total - len(rows),
          f"created before {start.isoformat()}: listed again by the full listing, due "
          f"{ctx.settings.full_listing_days} day(s) after the last")
    return rows


def sync_r2_inventory(ctx: _Context, source: str) -> None:
    """Every object and lifecycle rule of each bucket that may have changed; one transaction
    per bucket. A bucket whose metrics did not move is skipped until the full listing."""
    inv = r2_inventory(ctx)
    buckets = inv.buckets()
    details = dict((ctx.warehouse.get_state(source) or {}).get("details") or {})
    full = _full_due(ctx, details.get("full_listing_at"))
    if full:
        details["full_listing_at"] = ctx.now.isoformat()
    listed: dict[str, Any] = dict(details.get("buckets") or {})
    metrics = incremental.latest_bucket_metrics(ctx.warehouse)
    ctx.progress.start(source, len(buckets), "bucket")
    n_obj = n_rules = skipped = 0
    for bucket in buckets:
        rules = inv.lifecycle_rules(bucket)
        why = None if full else _bucket_unmoved(ctx, bucket, listed.get(bucket), metrics, rules)
        with ctx.warehouse.transaction() as tx:
            n_rules += tx.upsert("r2_lifecycle_rules", rules, seen_at=ctx.now)
            tx.mark_missing("r2_lifecycle_rules", ctx.now, scope={"bucket": bucket})
            if why is not None:
                skipped += 1
                _skip(ctx, source, bucket, 1, why)
            else:
                n_obj += _list_bucket(ctx, tx, inv, bucket)
                listed[bucket] = _listing_state(ctx, metrics.get(bucket))
            _record_skips(ctx, tx, source)
            tx.set_watermark(source, ctx.now.date(), {**details, "buckets": listed})
        ctx.progress.advance()
    calls = sum(inv.listing_calls.values())
    ctx.report.listing_calls += calls
    ctx.report.requests += calls
    ctx.report.windows.setdefault(source, [])
    _count(ctx, r2_objects=n_obj, r2_lifecycle_rules=n_rules)
    _done(ctx, source, f"{n_obj:,} objects and {n_rules} lifecycle rules in "
                       f"{len(buckets)} bucket(s) ({skipped} unchanged, not listed), "
                       f"{calls} listing calls (Class A)")


def _list_bucket(ctx: _Context, tx: Any, inv: R2Inventory, bucket: str) -> int:
    n = int(tx.upsert("r2_objects", inv.iter_objects(bucket), seen_at=ctx.now))
    tx.mark_missing("r2_objects", ctx.now, scope={"bucket": bucket})
    tx.upsert("r2_listing_calls", [{"run_id": ctx.report.run_id, "bucket": bucket,
                                    "calls": inv.listing_calls[bucket]}])
    return n


def _listing_state(ctx: _Context, metric: tuple[date, int, int] | None) -> dict[str, Any]:
    state: dict[str, Any] = {"listed_at": ctx.now.isoformat()}
    if metric is not None:
        state.update(day=metric[0].isoformat(), objects=metric[1], bytes=metric[2])
    return state


def _bucket_unmoved(ctx: _Context, bucket: str, last: dict | None,
                    metrics: dict[str, tuple[date, int, int]], rules: list[dict]) -> str | None:
    """Why `bucket` need not be listed now, or None when it must be."""
    metric = metrics.get(bucket)
    if not last or "day" not in last or metric is None:
        return None
    if metric[0] < ctx.now.date() - timedelta(days=1):
        return None  # the storage metrics are not fresh: cannot tell
    since = date.fromisoformat(last["day"])
    if incremental.bucket_metrics_moved(ctx.warehouse, bucket, since, last["objects"],
                                        last["bytes"]):
        return None
    listed_at = datetime.fromisoformat(last["listed_at"])
    # a margin of a day each side: rules act on whole days after the upload
    if incremental.lifecycle_due(ctx.warehouse, bucket, rules, listed_at - timedelta(days=1),
                                 ctx.now + timedelta(days=1)):
        return None
    return (f"{last['objects']:,} objects and {last['bytes']:,} bytes in the storage metrics "
            f"since {since}, no lifecycle rule due: not listed until the full listing")


def r2_inventory(ctx: _Context) -> R2Inventory:
    """An R2 client retrying through the sync's clock, its retries added to the report."""
    inv = R2Inventory(ctx.settings, clock=ctx.clock)
    ctx.r2_clients.append(inv)
    return inv


def _skip(ctx: _Context, source: str, subject: str, n: int, reason: str) -> None:
    ctx.report.skips.append({"source": source, "subject": subject, "skipped": n,
                             "reason": reason})


def _record_skips(ctx: _Context, tx: Any, source: str) -> None:
    rows = [{"run_id": ctx.report.run_id, **s} for s in ctx.report.skips if s["source"] == source]
    if rows:
        tx.upsert("sync_skips", rows)


def _done(ctx: _Context, source: str, line: str) -> None:
    ctx.report.notes[source] = line
    ctx.progress.done(source, line)


def _count(ctx: _Context, **rows: int) -> None:
    for table, n in rows.items():
        ctx.report.rows[table] = ctx.report.rows.get(table, 0) + n
