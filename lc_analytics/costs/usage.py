"""Turn the synced warehouse into the pricing engine's usage records, with their provenance.

How each meter is measured (the README's "Costs" section says the same):

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

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from ..warehouse import Warehouse
from .engine import IA, STANDARD, Usage, month_bounds, objects_daily_bytes
from .r2_classes import NOT_BILLED_STATUS_CODES, READS, op_class


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


def last_synced_day(wh: Warehouse) -> date | None:
    """The last day every daily analytics source has complete: the smallest of their last
    covered days (`Warehouse.coverage`), which a re-fetch never moves backwards.

    >>> last_synced_day(Warehouse("data/demo.duckdb", read_only=True))   # doctest: +SKIP
    datetime.date(2026, 6, 30)
    """
    from ..sync import ANALYTICS

    cov = wh.coverage()
    cov = cov[cov["source"].isin(list(ANALYTICS))]
    return min(cov["last_day"]) if len(cov) else None


def warehouse_usage(wh: Warehouse, month: date | str) -> MonthUsage:
    """The usage records of one billing month, as synced.

    >>> wh = Warehouse("data/demo.duckdb", read_only=True)           # doctest: +SKIP
    >>> mu = warehouse_usage(wh, "2026-06")                           # doctest: +SKIP
    >>> price_month(mu.usage, mu.month, load_book("cloudflare")).total  # doctest: +SKIP
    """
    first, nxt = month_bounds(month)
    notes: list[str] = []
    objects = inventory_objects(wh)
    storage = _r2_storage(wh, objects, first, nxt, notes)
    reads = _object_reads(wh, objects, first, nxt)
    usage = Usage(
        stream_delivery=wh.query(
            "SELECT date, sum(minutes_viewed) AS minutes FROM minutes_viewed_daily "
            "WHERE date >= ? AND date < ? GROUP BY date ORDER BY date", [first, nxt]),
        stream_storage=stream_storage_daily(wh, first, nxt, notes),
        r2_storage=storage,
        r2_ia_removals=_ia_removals(objects, first, nxt),
        r2_operations=_operations(wh, reads, first, nxt),
        r2_retrieval=reads[(reads["storage_class"] == IA) & (reads["action_type"] == "GetObject")]
        .assign(bytes=lambda r: r["requests"] * r["size_bytes"])
        .groupby(["date", "bucket"], as_index=False)["bytes"].sum(),
    )
    return MonthUsage(first, usage, notes, objects=objects, object_reads=reads)


# --- Stream ---------------------------------------------------------------------------------

def stream_storage_daily(wh: Warehouse, first: date, nxt: date,
                         notes: list[str] | None = None) -> pd.DataFrame:
    """Per day in [first, nxt): stored minutes (rebuilt from videos) and purchased capacity."""
    days = pd.date_range(first, nxt - timedelta(days=1), freq="D")
    snaps = wh.query("SELECT taken_at, total_storage_minutes, total_storage_minutes_limit "
                     "FROM stream_storage_snapshots WHERE creator = '' ORDER BY taken_at")
    out = pd.DataFrame({"date": days.date})
    out["stored_minutes"] = rebuilt_stored_minutes(wh, days)
    if len(snaps):
        taken = pd.to_datetime(snaps["taken_at"], utc=True).dt.tz_convert(None).dt.floor("D")
        cap = pd.Series(snaps["total_storage_minutes_limit"].to_numpy(), index=taken)
        cap = cap[~cap.index.duplicated(keep="last")]
        filled = cap.reindex(cap.index.union(days)).ffill().bfill()
        out["capacity_minutes"] = filled.reindex(days).to_numpy()
        if notes is not None and days[0] < taken.iloc[0]:
            notes.append(f"Stream capacity before the first snapshot ({taken.iloc[0]:%Y-%m-%d})"
                         " is assumed equal to it")
    else:
        out["capacity_minutes"] = np.nan
        if notes is not None:
            notes.append("no Stream storage snapshot yet: capacity unknown, stored minutes used")
    return out


# When a listed video was deleted: between the last listing that had it and the first that did
# not, at its scheduled deletion if that falls in between, else when it was found missing.
_GONE_SQL = ("CASE WHEN missing_since IS NULL THEN NULL "
             "     WHEN scheduled_deletion > last_seen AND scheduled_deletion <= missing_since "
             "     THEN scheduled_deletion ELSE missing_since END")


def stored_videos(wh: Warehouse) -> pd.DataFrame:
    """Every playable video ever listed, with what it stores and when it stopped storing it.

    Columns: uid, live_input_uid, creator, seconds (duration rounded up to the second),
    ready (readyToStreamAt), gone (deletion time, NaT while it is still listed).

    >>> stored_videos(Warehouse("data/demo.duckdb", read_only=True))   # doctest: +SKIP
    """
    return wh.query(
        "SELECT uid, live_input_uid, creator, ceil(duration_seconds) AS seconds, "
        f"ready_to_stream_at AS ready, {_GONE_SQL} AS gone "
        "FROM videos WHERE state = 'ready' AND duration_seconds IS NOT NULL ORDER BY uid")


def upload_reservations(wh: Warehouse) -> pd.DataFrame:
    """The `maxDurationSeconds` every direct upload reserved while it was pending.

    Columns as `stored_videos`: seconds = maxDurationSeconds, ready = creation time, gone =
    when the reservation was released: the upload completed, its link expired or the video
    was deleted, whichever came first (NaT while it is still pending). Reference section 6.

    >>> upload_reservations(Warehouse("data/demo.duckdb", read_only=True))   # doctest: +SKIP
    """
    return wh.query(
        "SELECT uid, live_input_uid, creator, max_duration_seconds AS seconds, "
        f"created AS ready, least(uploaded, upload_expiry, {_GONE_SQL}) AS gone "
        "FROM videos WHERE max_duration_seconds IS NOT NULL ORDER BY uid")


def stored_day_span(videos: pd.DataFrame, days: pd.DatetimeIndex) -> tuple[np.ndarray,
                                                                            np.ndarray]:
    """Per video: index into `days` of its first stored day and of its first day gone.

    A video counts from the day it became ready up to the day before the day it was deleted;
    both indexes are clipped to [0, len(days)], so `lo >= hi` means "not stored in `days`".

    >>> v = pd.DataFrame({"ready": [pd.Timestamp("2026-06-02 10:00", tz="UTC")],
    ...                   "gone": [pd.Timestamp("2026-06-04 01:00", tz="UTC")]})
    >>> stored_day_span(v, pd.date_range("2026-06-01", "2026-06-30"))
    (array([1]), array([3]))
    """
    n = len(days)
    d0 = pd.Timestamp(days[0], tz="UTC")

    def idx(col: pd.Series) -> np.ndarray:
        ts = pd.to_datetime(col, utc=True, errors="coerce")
        i = ((ts - d0) // pd.Timedelta(days=1)).to_numpy(dtype=float)
        return np.clip(np.nan_to_num(i, nan=n, posinf=n), 0, n).astype(int)

    return idx(videos["ready"]), idx(videos["gone"])


def rebuilt_stored_minutes(wh: Warehouse, days: pd.DatetimeIndex) -> np.ndarray:
    """Stored minutes at the end of each day, rebuilt from the videos ever listed: ready
    videos and the reservations of direct uploads still pending that day."""
    n = len(days)
    delta = np.zeros(n + 1, dtype=np.int64)
    for v in (stored_videos(wh), upload_reservations(wh)):
        lo, hi = stored_day_span(v, days)
        secs = v["seconds"].to_numpy(dtype=np.int64)
        np.add.at(delta, lo, secs)
        np.add.at(delta, hi, -secs)
    return np.cumsum(delta)[:n] / 60


# --- R2 -------------------------------------------------------------------------------------

def inventory_objects(wh: Warehouse) -> pd.DataFrame:
    """Every object ever listed, with `ia_from` derived from its bucket's transition rules."""
    objs = wh.query("SELECT bucket, key, size_bytes, storage_class, last_modified, missing_since "
                    "FROM r2_objects")
    rules = wh.query("SELECT bucket, prefix, transition_days FROM r2_lifecycle_rules "
                     "WHERE enabled AND missing_since IS NULL AND transition_days IS NOT NULL "
                     "AND transition_class = 'STANDARD_IA'")
    created = pd.to_datetime(objs["last_modified"], utc=True)
    ia_from = pd.Series(pd.NaT, index=objs.index, dtype="datetime64[ns, UTC]")
    is_ia = objs["storage_class"] == IA
    for rule in rules.itertuples():
        hit = is_ia & (objs["bucket"] == rule.bucket) & objs["key"].str.startswith(
            rule.prefix or "") & ia_from.isna()
        ia_from[hit] = created[hit].dt.floor("D") + pd.Timedelta(days=int(rule.transition_days)
                                                                 + 1)
    ia_from[is_ia & ia_from.isna()] = created[is_ia & ia_from.isna()]  # IA since it was written
    return objs.assign(stored_from=created, ia_from=ia_from,
                       stored_until=pd.to_datetime(objs["missing_since"], utc=True))


def _r2_storage(wh: Warehouse, objects: pd.DataFrame, first: date, nxt: date,
                notes: list[str]) -> pd.DataFrame:
    totals = wh.query("SELECT date, bucket, payload_size AS bytes FROM r2_storage_daily "
                      "WHERE date >= ? AND date < ?", [first, nxt])
    totals["date"] = pd.to_datetime(totals["date"]).dt.date
    ia_parts = []
    for bucket, grp in objects[objects["storage_class"] == IA].groupby("bucket"):
        daily = objects_daily_bytes(grp, first, nxt)
        ia_parts.append(daily[daily["storage_class"] == IA].assign(bucket=bucket))
    ia = pd.concat(ia_parts, ignore_index=True) if ia_parts else pd.DataFrame(
        {"date": pd.Series(dtype=object), "bucket": pd.Series(dtype=object),
         "storage_class": pd.Series(dtype=object), "bytes": pd.Series(dtype=np.int64)})
    ia = ia.merge(totals[["date", "bucket"]], on=["date", "bucket"])  # days with a total only
    std = totals.merge(ia[["date", "bucket", "bytes"]].rename(columns={"bytes": "ia"}),
                       on=["date", "bucket"], how="left").fillna({"ia": 0})
    std = std.assign(bytes=(std["bytes"] - std["ia"]).astype(np.int64), storage_class=STANDARD)
    missing = (nxt - first).days - totals["date"].nunique()
    if missing:
        notes.append(f"R2 storage is known for {totals['date'].nunique()} of "
                     f"{(nxt - first).days} days of the month (R2 metrics are kept 31 days)")
    cols = ["date", "bucket", "storage_class", "bytes"]
    return pd.concat([std[cols], ia[cols]], ignore_index=True)


def _ia_removals(objects: pd.DataFrame, first: date, nxt: date) -> pd.DataFrame:
    gone = objects[(objects["storage_class"] == IA) & objects["stored_until"].notna()]
    return pd.DataFrame({"size_bytes": gone["size_bytes"], "ia_from": gone["ia_from"],
                         "removed_at": gone["stored_until"], "bucket": gone["bucket"],
                         "key": gone["key"]})


def _object_reads(wh: Warehouse, objects: pd.DataFrame, first: date,
                  nxt: date) -> pd.DataFrame:
    """Per-object reads in the month, with each object's size and class on that day."""
    reads = wh.query("SELECT date, bucket, object_name AS key, action_type, requests "
                     "FROM r2_object_reads_daily WHERE date >= ? AND date < ?", [first, nxt])
    reads["date"] = pd.to_datetime(reads["date"]).dt.date
    merged = reads.merge(objects[["bucket", "key", "size_bytes", "ia_from"]],
                         on=["bucket", "key"], how="left")
    day = pd.to_datetime(merged["date"]).dt.tz_localize("UTC")
    ia = merged["ia_from"].notna() & (day >= merged["ia_from"].dt.floor("D"))
    return merged.assign(storage_class=np.where(ia, IA, STANDARD),
                         size_bytes=merged["size_bytes"].fillna(0).astype(np.int64))


def _operations(wh: Warehouse, reads: pd.DataFrame, first: date, nxt: date) -> pd.DataFrame:
    # requests refused with 401/403 are not billed (other failed requests are)
    codes = ", ".join(str(c) for c in sorted(NOT_BILLED_STATUS_CODES))
    ops = wh.query("SELECT date, bucket, action_type, action_status, "
                   "sum(requests)::BIGINT AS requests "
                   "FROM r2_operations_daily WHERE date >= ? AND date < ? "
                   f"AND response_status_code NOT IN ({codes}) "
                   "GROUP BY date, bucket, action_type, action_status", [first, nxt])
    ops["date"] = pd.to_datetime(ops["date"]).dt.date
    ops["op_class"] = ops["action_type"].map(op_class)
    ops["storage_class"] = np.where(ops["action_type"] == "LifecycleStorageTierTransition",
                                    IA, STANDARD)
    ia_reads = reads[reads["storage_class"] == IA].groupby(
        ["date", "bucket", "action_type"], as_index=False)["requests"].sum()
    if len(ia_reads):
        ia_reads = ia_reads.assign(action_status="success", op_class="B", storage_class=IA)
        key = ["date", "bucket", "action_type", "action_status"]
        ops = ops.merge(ia_reads[key + ["requests"]].rename(columns={"requests": "ia"}),
                        on=key, how="left").fillna({"ia": 0})
        is_read = ops["action_type"].isin(READS)
        ops["requests"] = ops["requests"] - np.where(is_read, ops["ia"], 0)
        ops = pd.concat([ops.drop(columns="ia"), ia_reads], ignore_index=True)
    return ops[["date", "bucket", "op_class", "storage_class", "requests"]]


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
