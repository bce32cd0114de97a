"""Turn the synced warehouse into the pricing engine's usage records, with their provenance.

Every figure is read through `lc_analytics.readmodel`; how each meter is measured (the
README's "Costs" section says the same):

- Stream delivery: `minutes_viewed_daily`, summed per day (minutes delivered = viewed).
- Stream storage: purchased capacity from `stream_storage_snapshots` (each day takes the
  latest reading at or before it, earlier days the first reading); stored minutes per day
  are rebuilt from `videos` (duration rounded up to the second, from readyToStreamAt until
  the video was seen missing or its scheduled deletion passed), plus the `maxDurationSeconds`
  reserved by each direct upload from its creation until it completed (`uploaded`), its link
  expired (`uploadExpiry`) or it was deleted, whichever came first.
- R2 storage: each day's peak bytes per bucket from `r2_storage_daily` (exact); the
  Infrequent Access part from the inventory (objects listed as STANDARD_IA, IA from the day
  their lifecycle rule moved them: creation day + transition days + 1); Standard is the rest.
- R2 operations: `r2_operations_daily` with each action's billing class, leaving out
  requests refused with 401/403 (not billed); reads of IA objects (`r2_object_reads_daily`)
  and lifecycle transitions are billed at IA rates.
- IA retrieval: GetObject reads of IA objects x their size.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, timedelta

import pandas as pd

from ..readmodel import (  # noqa: F401 - moved to readmodel; re-exported for callers
    inventory_objects,
    last_synced_day,
    minutes_viewed_daily,
    r2_ia_removals,
    r2_ia_retrieval,
    r2_object_reads,
    r2_operations,
    r2_storage,
    rebuilt_stored_minutes,
    stored_day_span,
    stored_minutes_daily,
    stored_videos,
    upload_reservations,
)
from ..warehouse import Warehouse
from .engine import Usage, month_bounds


@dataclass
class MonthUsage:
    """A month's usage from the warehouse, and what it could not see."""

    month: date
    usage: Usage
    notes: list[str] = field(default_factory=list)
    #: the R2 inventory the month was read with (`inventory_objects`), for allocation
    objects: pd.DataFrame | None = None
    #: per-object reads in the month with each object's size and class that day
    object_reads: pd.DataFrame | None = None

    @property
    def r2_days_covered(self) -> int:
        """Days of the month for which the warehouse holds R2 storage figures."""
        df = self.usage.frame("r2_storage", ["date"])
        return int(pd.Series(df["date"]).nunique()) if len(df) else 0

    @property
    def r2_complete(self) -> bool:
        """Whether R2 storage is known for every day of the month (R2 keeps 31 days)."""
        first, nxt = month_bounds(self.month)
        return self.r2_days_covered == (nxt - first).days


def warehouse_usage(wh: Warehouse, month: date | str) -> MonthUsage:
    """The usage records of one billing month, as synced.

    `wh` is the DuckDB warehouse, or the same tables exported and read on another engine
    (`lc_analytics.export.spark.SparkWarehouse`): every figure comes from the read model's
    SQL, written once in DuckDB's dialect and transpiled for Spark, so both give one bill.

    >>> wh = Warehouse("data/demo.duckdb", read_only=True)           # doctest: +SKIP
    >>> mu = warehouse_usage(wh, "2026-06")                           # doctest: +SKIP
    >>> price_month(mu.usage, mu.month, load_book("cloudflare")).total  # doctest: +SKIP
    """
    first, nxt = month_bounds(month)
    remember = getattr(wh, "remember", None)  # a held warehouse derives a month once
    if remember is not None:
        return _copy(remember(("warehouse_usage", first), lambda: _read_month(wh, first, nxt)))
    return _read_month(wh, first, nxt)


def _copy(mu: MonthUsage) -> MonthUsage:
    """A MonthUsage the caller may change: new frames over the same data (copy-on-write)."""
    def shallow(df):
        return df.copy(deep=False) if isinstance(df, pd.DataFrame) else df
    usage = Usage(**{f.name: shallow(getattr(mu.usage, f.name)) for f in fields(mu.usage)})
    return MonthUsage(mu.month, usage, list(mu.notes), objects=shallow(mu.objects),
                      object_reads=shallow(mu.object_reads))


def _read_month(wh: Warehouse, first: date, nxt: date) -> MonthUsage:
    last = nxt - timedelta(days=1)
    notes: list[str] = []
    objects = inventory_objects(wh)
    reads = r2_object_reads(wh, first, last, objects)
    storage = r2_storage(wh, first, last, objects, notes)
    usage = Usage(
        stream_delivery=minutes_viewed_daily(wh, first, last),
        stream_storage=stored_minutes_daily(wh, first, last, notes),
        r2_storage=storage,
        r2_ia_removals=r2_ia_removals(objects),
        r2_operations=r2_operations(wh, first, last, reads),
        r2_retrieval=r2_ia_retrieval(reads),
    )
    return MonthUsage(first, usage, notes, objects=objects, object_reads=reads)


#: the days priced whole when the warehouse does not hold the last month whole (R2 keeps 31)
TRAILING_DAYS = 30


def period_usage(wh: Warehouse, first: date, last: date) -> Usage:
    """The usage records of the days `first`..`last` (inclusive), read month by month with
    `warehouse_usage` and joined, for `engine.price_period`.

    >>> price_period(period_usage(wh, date(2026, 6, 4), date(2026, 7, 3)), ...)  # doctest: +SKIP
    """
    parts: list[Usage] = []
    month = first.replace(day=1)
    while month <= last:
        parts.append(warehouse_usage(wh, month).usage)
        month = month_bounds(month)[1]
    names = ("stream_storage", "stream_delivery", "r2_storage", "r2_ia_removals",
             "r2_operations", "r2_retrieval")
    joined = {}
    for name in names:
        frames = [getattr(u, name) for u in parts]
        frames = [f for f in frames if isinstance(f, pd.DataFrame) and len(f)]
        joined[name] = pd.concat(frames, ignore_index=True) if frames else None
    return Usage(**joined)
