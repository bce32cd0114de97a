"""The sync's zone (CDN) step: per zone, its plan's limits, the daily rollup, the sampled
hourly groups and the cache rules, each window committed with its watermark.

Windows are sized from the zone's `settings` node (`maxDuration`), and start no earlier than
its `notOlderThan`: what the plan does not keep is recorded in the sync report
(`SyncReport.not_synced`) and in `zone_dataset_limits`, not raised. Without
CLOUDFLARE_ZONE_ID the step is skipped, and says so.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from .sources.zone import (
    COUNTRY_FIELD,
    DAILY,
    HOURLY,
    NEEDS,
    DatasetLimits,
    cache_rules,
    dataset_limits,
    day_windows,
    fold_hourly,
    hour_windows,
    iter_daily,
    iter_hourly_rows,
)

LAG_DAYS = 3  # the daily rollup of the last days is restated: re-fetch them on every run
DAILY_SOURCE, HOURLY_SOURCE = "zone_daily", "zone_hourly"


def sync_zones(ctx: Any, source: str) -> None:
    """The `zone` step of `lc_analytics.sync` (ctx is its `_Context`)."""
    zones = ctx.settings.zone_ids
    ctx.report.windows.setdefault(source, [])
    if not zones:
        _not_synced(ctx, source, "CLOUDFLARE_ZONE_ID is not set: the CDN steps were skipped")
        _done(ctx, source, "skipped (CLOUDFLARE_ZONE_ID is not set)")
        return
    ctx.progress.start(source, len(zones), "zone")
    lines = []
    for zone_id in zones:
        limits = dataset_limits(ctx.client, zone_id)
        _record_limits(ctx, zone_id, limits)
        days = _daily(ctx, source, zone_id, limits[DAILY])
        hours = _hourly(ctx, source, zone_id, limits[HOURLY])
        rules = _rules(ctx, zone_id)
        lines.append(f"zone {zone_id}: {days} days, {hours:,} hourly groups, {rules} cache "
                     "rule(s)")
        ctx.progress.advance()
    _done(ctx, source, "; ".join(lines))


def _oldest(ctx: Any, limits: DatasetLimits, step: timedelta) -> datetime:
    """The first whole `step` (day or hour) the plan still lets a query start at."""
    oldest = ctx.now - timedelta(seconds=limits.not_older_than_s)
    floor = datetime.combine(oldest.date(), time(), oldest.tzinfo)
    if step < timedelta(days=1):
        floor = oldest.replace(minute=0, second=0, microsecond=0)
    return floor if floor == oldest else floor + step


def _usable(ctx: Any, zone_id: str, limits: DatasetLimits, needs: tuple[str, ...]) -> bool:
    what = f"{limits.dataset} of zone {zone_id}"
    if not limits.enabled:
        _not_synced(ctx, "zone", f"{what}: not enabled on this zone's plan")
        return False
    missing = limits.missing(needs)
    if missing:
        _not_synced(ctx, "zone", f"{what}: the plan does not offer {', '.join(missing)}")
        return False
    return True


def _record_limits(ctx: Any, zone_id: str, limits: dict[str, DatasetLimits]) -> None:
    steps = {DAILY: timedelta(days=1), HOURLY: timedelta(hours=1)}
    with ctx.warehouse.transaction() as tx:
        tx.upsert("zone_dataset_limits", [{
            "zone_id": zone_id, "dataset": lim.dataset, "enabled": lim.enabled,
            "max_duration_s": lim.max_duration_s, "not_older_than_s": lim.not_older_than_s,
            "max_page_size": lim.max_page_size, "checked_at": ctx.now,
            "oldest_allowed": _oldest(ctx, lim, steps[name])} for name, lim in limits.items()])


def _daily(ctx: Any, source: str, zone_id: str, limits: DatasetLimits) -> int:
    """The daily rollup, from a year back (or the watermark minus the lag) to yesterday."""
    if not _usable(ctx, zone_id, limits, NEEDS[DAILY]):
        return 0
    oldest = _oldest(ctx, limits, timedelta(days=1))
    countries = COUNTRY_FIELD in limits.available_fields
    if not countries:
        _not_synced(ctx, source, f"{DAILY} of zone {zone_id}: the plan does not offer "
                                 "countryMap (no countries per day)")
    name = f"{DAILY_SOURCE}:{zone_id}"
    wm = ctx.warehouse.get_watermark(name)
    start = ctx.since or (oldest.date() if wm is None else wm + timedelta(days=1 - LAG_DAYS))
    if start < oldest.date():
        _not_synced(ctx, source, f"{DAILY} of zone {zone_id}: the plan keeps "
                                 f"{limits.not_older_than_s // 86_400} days; days before "
                                 f"{oldest.date()} cannot be read")
    start, end = max(start, oldest.date()), ctx.now.date()
    total = 0
    for lo, hi in day_windows(start, end, limits.max_duration_s):
        rows = list(iter_daily(ctx.client, zone_id, lo, hi, limits, countries))
        by_country = [{"zone_id": zone_id, "date": r["date"], **c}
                      for r in rows for c in r.pop("countries")]
        with ctx.warehouse.transaction() as tx:
            scope = {"zone_id": zone_id}
            total += tx.replace_range("zone_traffic_daily", "date", lo, hi, rows, scope=scope)
            n = tx.replace_range("zone_traffic_daily_countries", "date", lo, hi, by_country,
                                 scope=scope) if countries else 0
            tx.cover(name, lo, hi)
        ctx.report.windows[source].append((lo, hi))
        _count(ctx, zone_traffic_daily=len(rows), zone_traffic_daily_countries=n)
    return total


def _hourly(ctx: Any, source: str, zone_id: str, limits: DatasetLimits) -> int:
    """The sampled hourly groups, from what the plan keeps (or the watermark) to the last
    complete hour; each window is one transaction."""
    if not _usable(ctx, zone_id, limits, NEEDS[HOURLY]):
        return 0
    hour = timedelta(hours=1)
    oldest = _oldest(ctx, limits, hour)
    end = ctx.now.replace(minute=0, second=0, microsecond=0)
    _not_synced(ctx, source, f"{HOURLY} of zone {zone_id}: the plan keeps "
                             f"{_days(limits.not_older_than_s)} of hourly data; hours before "
                             f"{oldest:%Y-%m-%d %H:00} UTC cannot be read")
    cap = ctx.settings.zone_hourly_days
    if cap is not None and end - timedelta(days=cap) > oldest:
        oldest = end - timedelta(days=cap)
        _not_synced(ctx, source, f"{HOURLY} of zone {zone_id}: LC_ANALYTICS_ZONE_HOURLY_DAYS="
                                 f"{cap} limits the backfill to hours from {oldest:%Y-%m-%d}")
    name = f"{HOURLY_SOURCE}:{zone_id}"
    wm = ctx.warehouse.get_watermark(name)
    start = _midnight(ctx.since, end) if ctx.since else \
        oldest if wm is None else _midnight(wm + timedelta(days=1), end)
    total = 0
    for lo, hi in hour_windows(max(start, oldest), end, limits.max_duration_s):
        rows = fold_hourly(zone_id, iter_hourly_rows(ctx.client, zone_id, lo, hi, limits))
        with ctx.warehouse.transaction() as tx:
            total += tx.replace_range("zone_traffic_hourly", "hour", lo, hi, rows,
                                      scope={"zone_id": zone_id})
            day = (hi - hour).date() if hi.time() == time() else hi.date() - timedelta(days=1)
            if wm is None or day > wm:
                tx.set_watermark(name, day)
                wm = day
        ctx.report.windows[source].append((lo.date(), hi.date()))
    _count(ctx, zone_traffic_hourly=total)
    return total


def _rules(ctx: Any, zone_id: str) -> int:
    """The cache rules inventory (rules gone from the entrypoint get `missing_since`)."""
    _version, rules = cache_rules(ctx.client, zone_id)
    with ctx.warehouse.transaction() as tx:
        tx.upsert("zone_cache_rules", rules, seen_at=ctx.now)
        tx.mark_missing("zone_cache_rules", ctx.now, scope={"zone_id": zone_id})
    _count(ctx, zone_cache_rules=len(rules))
    return len(rules)


def _midnight(day: date, end: datetime) -> datetime:
    return datetime.combine(day, time(), end.tzinfo)


def _days(seconds: int) -> str:
    return f"{seconds / 86_400:g} day(s)"


def _not_synced(ctx: Any, source: str, line: str) -> None:
    ctx.report.not_synced.setdefault(source, []).append(line)


def _done(ctx: Any, source: str, line: str) -> None:
    ctx.report.notes[source] = line
    ctx.progress.done(source, line)


def _count(ctx: Any, **rows: int) -> None:
    for table, n in rows.items():
        ctx.report.rows[table] = ctx.report.rows.get(table, 0) + n
