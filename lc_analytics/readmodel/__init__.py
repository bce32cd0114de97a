"""The read model: the one definition of each figure read from the warehouse.

Every layer above the warehouse (costs/, recommend/, reports/, notebooks) reads the synced
data through these functions and holds no SQL on the warehouse's tables::

    warehouse (DuckDB tables, `coverage`)
        │
        ▼
    readmodel
      coverage.py   which days each daily source holds whole; the last fully synced day
                    (`synced_through`); the as-of and month checks
      viewing.py    minutes viewed per uid and day (and country), with the recording's age
                    and its mode: live (viewed while the input was live) or on demand
      stored.py     Stream stored minutes per day, rebuilt from the videos and pending
                    upload reservations; storage-usage snapshots and capacity
      r2.py         R2 per day: storage per bucket and class, requests per billing class
                    (401/403 not billed), per-object reads, IA retrieval and removals
      inventory.py  videos, live inputs, R2 objects, lifecycle rules (listed, or history)
      live.py       live sessions (connect .. disconnect, reconnects, errors, recording)
                    from the live-input events, with the polled concurrent viewers; live
                    minutes viewed by the minute beside them
      zone.py       zone (CDN) traffic: the exact daily rollup and its countries, the sampled
                    hourly groups with their variance, cache rules, plan limits
      billing.py    what Cloudflare billed per month and metric (billable-usage API)
        │
        ▼
    costs/ (pricing), recommend/, reports/, notebooks

The warehouse's own bookkeeping (sync runs, their listing calls and skips, what incremental
listings decide from, alert state, audit runs, export partitions) is read in `warehouse/`,
beside the code that writes it; the last successful sync, the listing calls, the skips and
the latest audit are re-exported here for the layers above.

Day ranges are inclusive (`first`, `last`); days are `datetime.date`, timestamps UTC.
Functions are plain Python over SQL (not SQL views): the classing of R2 storage by lifecycle
rules and the rebuild of stored minutes are array work in pandas, one tested place each.

>>> from lc_analytics.readmodel import synced_through, viewing
>>> day = synced_through(wh)                                          # doctest: +SKIP
>>> viewing(wh, day, day).groupby("mode")["minutes"].sum()            # doctest: +SKIP
"""

from ..warehouse.audit_log import latest_audit
from ..warehouse.sync_log import last_successful_sync, listing_calls, sync_skips
from .billing import billed_monthly
from .coverage import (
    BILLED_SOURCES,
    check_as_of,
    check_months,
    coverage,
    covered_days,
    daily_sources,
    first_days,
    last_synced_day,
    month_coverage,
    synced_through,
)
from .inventory import lifecycle_rules, live_inputs, r2_buckets, r2_objects, resource_names, videos
from .live import (
    live_events,
    live_input_of,
    live_minutes,
    live_sessions,
    live_viewing_uids,
    minutes_beside_samples,
    recording_ends,
    viewer_samples,
)
from .r2 import (
    IA,
    STANDARD,
    inventory_objects,
    objects_daily_bytes,
    r2_ia_removals,
    r2_ia_retrieval,
    r2_object_reads,
    r2_operations,
    r2_reads_by_age,
    r2_requests,
    r2_storage,
    r2_storage_totals,
)
from .stored import (
    rebuilt_stored_minutes,
    storage_snapshot_day,
    storage_snapshots,
    stored_day_span,
    stored_minutes_daily,
    stored_videos,
    upload_reservations,
)
from .viewing import (
    KINDS,
    LIVE,
    ON_DEMAND,
    TOTALS_KEYS,
    minutes_viewed_daily,
    viewing,
    viewing_totals,
)
from .zone import (
    zone_cache_rules,
    zone_daily,
    zone_daily_countries,
    zone_hourly,
    zone_ids,
    zone_limits,
)

__all__ = [
    "BILLED_SOURCES", "IA", "KINDS", "LIVE", "ON_DEMAND", "STANDARD",
    # coverage
    "check_as_of", "check_months", "coverage", "covered_days", "daily_sources", "first_days",
    "last_synced_day", "month_coverage", "synced_through",
    # viewing
    "TOTALS_KEYS", "minutes_viewed_daily", "viewing", "viewing_totals",
    # stored minutes
    "rebuilt_stored_minutes", "storage_snapshot_day", "storage_snapshots", "stored_day_span",
    "stored_minutes_daily", "stored_videos", "upload_reservations",
    # R2 usage
    "inventory_objects", "objects_daily_bytes", "r2_ia_removals", "r2_ia_retrieval",
    "r2_object_reads", "r2_operations", "r2_reads_by_age", "r2_requests", "r2_storage",
    "r2_storage_totals",
    # sync log
    "last_successful_sync", "listing_calls", "sync_skips",
    # the bill as Cloudflare sent it; the audit
    "billed_monthly", "latest_audit",
    # inventories
    "lifecycle_rules", "live_inputs", "r2_buckets", "r2_objects", "resource_names", "videos",
    # zones (CDN)
    "zone_cache_rules", "zone_daily", "zone_daily_countries", "zone_hourly", "zone_ids",
    "zone_limits",
    # live shows
    "live_events", "live_sessions", "viewer_samples", "live_input_of", "live_minutes",
    "live_viewing_uids", "minutes_beside_samples", "recording_ends",
]
