"""What the incremental inventory steps of a sync read back: versions, counts, metrics, rules.

The sync lists only what may have changed (README: "Incremental inventories"); these are
the warehouse facts it decides that from. Nothing here is shown to people.
"""

from __future__ import annotations

from datetime import date, datetime

from .store import Warehouse

#: Video states that still change on their own (processing, live, pending upload).
UNSETTLED_STATES = ("pendingupload", "downloading", "queued", "inprogress", "live-inprogress")


def live_input_versions(wh: Warehouse) -> dict[str, datetime]:
    """uid -> `modified` of every live input listed and not missing.

    >>> live_input_versions(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    df = wh.query("SELECT uid, modified FROM live_inputs WHERE missing_since IS NULL")
    return {uid: ts.to_pydatetime() for uid, ts in zip(df["uid"], df["modified"], strict=True)}


def alive_video_uids(wh: Warehouse, now: datetime) -> set[str]:
    """Videos listed, not missing, and whose scheduled deletion has not passed at `now`."""
    df = wh.query("SELECT uid FROM videos WHERE missing_since IS NULL AND "
                  "(scheduled_deletion IS NULL OR scheduled_deletion > ?)", [now])
    return set(df["uid"])


def oldest_unsettled_video(wh: Warehouse) -> datetime | None:
    """Creation time of the oldest listed video whose state still changes on its own."""
    marks = ", ".join("?" for _ in UNSETTLED_STATES)
    df = wh.query(f"SELECT min(created) AS t FROM videos WHERE missing_since IS NULL "
                  f"AND state IN ({marks})", list(UNSETTLED_STATES))
    t = df["t"].iloc[0]
    return None if t is None or str(t) == "NaT" else t.to_pydatetime()


def latest_bucket_metrics(wh: Warehouse) -> dict[str, tuple[date, int, int]]:
    """bucket -> (day, object count, payload + metadata bytes) of its latest storage metric."""
    df = wh.query("SELECT bucket, date, object_count, payload_size + metadata_size AS b "
                  "FROM r2_storage_daily QUALIFY row_number() OVER "
                  "(PARTITION BY bucket ORDER BY date DESC) = 1")
    return {r.bucket: (r.date.date() if hasattr(r.date, "date") else r.date,
                       int(r.object_count), int(r.b)) for r in df.itertuples()}


def bucket_metrics_moved(wh: Warehouse, bucket: str, since: date, objects: int,
                         size: int) -> bool:
    """Whether any storage metric of `bucket` from `since` on differs from (objects, size)."""
    df = wh.query("SELECT count(*) AS n FROM r2_storage_daily WHERE bucket = ? AND date >= ? "
                  "AND (object_count <> ? OR payload_size + metadata_size <> ?)",
                  [bucket, since, objects, size])
    return bool(df["n"].iloc[0])


def lifecycle_due(wh: Warehouse, bucket: str, rules: list[dict], after: datetime,
                  until: datetime) -> int:
    """Listed objects of `bucket` an enabled rule transitions or expires in (after, until]."""
    ages = [(r.get("prefix") or "", int(days)) for r in rules if r.get("enabled")
            for days in (r.get("transition_days"), r.get("expire_days")) if days is not None]
    if not ages:
        return 0
    df = wh.query(
        "SELECT count(*) AS n FROM r2_objects AS o, "
        "(SELECT unnest(?::VARCHAR[]) AS prefix, unnest(?::INTEGER[]) AS days) AS r "
        "WHERE o.bucket = ? AND o.missing_since IS NULL AND starts_with(o.key, r.prefix) "
        "AND o.last_modified + to_days(r.days) > ? AND o.last_modified + to_days(r.days) <= ?",
        [[p for p, _ in ages], [d for _, d in ages], bucket, after, until])
    return int(df["n"].iloc[0])
