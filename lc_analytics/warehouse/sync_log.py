"""What the syncs themselves did: the R2 listing calls (Class A requests) each run made, and
what each run's incremental inventories did not fetch."""

from __future__ import annotations

import pandas as pd

from .store import Warehouse


def listing_calls(wh: Warehouse) -> pd.DataFrame:
    """The R2 listing calls (Class A) each sync run made: run_id, started_at, bucket, calls.

    Per bucket from `r2_listing_calls`; the run's remaining calls (`sync_runs.listing_calls`
    minus the buckets', i.e. ListBuckets) as bucket '(ListBuckets)'.

    >>> listing_calls(Warehouse("data/demo.duckdb", read_only=True))   # doctest: +SKIP
    """
    per_bucket = wh.query("""
        SELECT c.run_id, r.started_at, c.bucket, c.calls
        FROM r2_listing_calls c LEFT JOIN sync_runs r USING (run_id)""")
    other = wh.query("""
        SELECT r.run_id, r.started_at, '(ListBuckets)' AS bucket,
               r.listing_calls - coalesce(sum(c.calls), 0) AS calls
        FROM sync_runs r LEFT JOIN r2_listing_calls c USING (run_id)
        GROUP BY r.run_id, r.started_at, r.listing_calls
        HAVING r.listing_calls - coalesce(sum(c.calls), 0) > 0""")
    df = pd.concat([d for d in (per_bucket, other) if len(d)], ignore_index=True) \
        if len(per_bucket) or len(other) else per_bucket
    df["calls"] = df["calls"].astype("int64")
    return df.sort_values(["started_at", "run_id", "bucket"], ignore_index=True)


def sync_skips(wh: Warehouse) -> pd.DataFrame:
    """What each sync run did not fetch, and why: run_id, started_at, source, subject,
    skipped (how many inputs, videos or buckets), reason. Oldest run first.

    >>> sync_skips(Warehouse("data/demo.duckdb", read_only=True))   # doctest: +SKIP
    """
    return wh.query("""
        SELECT s.run_id, r.started_at, s.source, s.subject, s.skipped, s.reason
        FROM sync_skips s LEFT JOIN sync_runs r USING (run_id)
        ORDER BY r.started_at, s.run_id, s.source, s.subject""")
def last_successful_sync(wh: Warehouse) -> pd.Timestamp | None:
    """When the last sync run that ended `ok` finished (UTC), or None.

    >>> last_successful_sync(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    df = wh.query("SELECT max(finished_at) AS at FROM sync_runs WHERE status = 'ok'")
    at = df["at"].iloc[0] if len(df) else None
    return None if at is None or pd.isna(at) else pd.Timestamp(at).tz_convert("UTC")
