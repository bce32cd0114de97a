"""The inventories as listed: videos, live inputs, R2 objects and lifecycle rules.

Each function returns the rows still listed (`missing_since` NULL) by default, or every row
ever listed with `history=True` (the inventory tables never delete a row: a complete listing
that no longer holds one sets its `missing_since`). Timestamps are pandas UTC datetimes.
"""

from __future__ import annotations

import pandas as pd

from ..warehouse import Warehouse

_LISTED = "missing_since IS NULL"


def videos(wh: Warehouse, *, history: bool = False) -> pd.DataFrame:
    """Stream videos (uploads and live recordings) with every synced column, plus seconds
    (duration rounded up to the second, as Stream stores it) and retention_days (the
    `deleteRecordingAfterDays` of the live input that recorded it, NaN if none).

    >>> videos(Warehouse("data/demo.duckdb", read_only=True))          # doctest: +SKIP
    """
    where = "" if history else f"WHERE v.{_LISTED}"
    df = wh.query("SELECT v.*, ceil(v.duration_seconds) AS seconds, "
                  "li.delete_recording_after_days AS retention_days "
                  "FROM videos v LEFT JOIN live_inputs li ON li.uid = v.live_input_uid "
                  f"{where} ORDER BY v.uid")
    df["retention_days"] = pd.to_numeric(df["retention_days"]).astype(float)
    return _utc(df, ("created", "modified", "uploaded", "ready_to_stream_at",
                     "scheduled_deletion", "upload_expiry", "first_seen", "last_seen",
                     "missing_since"))


def live_inputs(wh: Warehouse, *, history: bool = False) -> pd.DataFrame:
    """Stream live inputs with every synced column (recording_mode,
    delete_recording_after_days, ...).

    >>> live_inputs(Warehouse("data/demo.duckdb", read_only=True))     # doctest: +SKIP
    """
    where = "" if history else f"WHERE {_LISTED}"
    df = wh.query(f"SELECT * FROM live_inputs {where} ORDER BY uid")
    return _utc(df, ("created", "modified", "first_seen", "last_seen", "missing_since"))


def r2_objects(wh: Warehouse, *, history: bool = False) -> pd.DataFrame:
    """R2 objects: bucket, key, size_bytes, etag, last_modified, storage_class (NULL read as
    STANDARD), first_seen, last_seen, missing_since. For the class each object had on each
    day, see `r2.inventory_objects`.

    >>> r2_objects(Warehouse("data/demo.duckdb", read_only=True))      # doctest: +SKIP
    """
    where = "" if history else f"WHERE {_LISTED}"
    df = wh.query("SELECT * REPLACE (coalesce(storage_class, 'STANDARD') AS storage_class) "
                  f"FROM r2_objects {where} ORDER BY bucket, key")
    return _utc(df, ("last_modified", "first_seen", "last_seen", "missing_since"))


def lifecycle_rules(wh: Warehouse, *, history: bool = False) -> pd.DataFrame:
    """R2 lifecycle rules, one per bucket and rule id: enabled, prefix ('' = the whole
    bucket), transition_days, transition_class, expire_days, abort_multipart_days, rule_json.

    >>> lifecycle_rules(Warehouse("data/demo.duckdb", read_only=True)) # doctest: +SKIP
    """
    where = "" if history else f"WHERE {_LISTED}"
    df = wh.query(f"SELECT * FROM r2_lifecycle_rules {where} ORDER BY bucket, rule_id")
    return _utc(df, ("first_seen", "last_seen", "missing_since"))


def r2_buckets(wh: Warehouse) -> list[str]:
    """Every bucket the warehouse knows: in R2's daily storage metrics or in the inventory.

    >>> r2_buckets(Warehouse("data/demo.duckdb", read_only=True))      # doctest: +SKIP
    ['lc-exports', 'lc-recordings', 'lc-thumbnails']
    """
    df = wh.query("SELECT DISTINCT bucket FROM r2_storage_daily "
                  "UNION SELECT DISTINCT bucket FROM r2_objects")
    return sorted(df["bucket"])


def resource_names(wh: Warehouse) -> dict[str, str]:
    """Display names (meta.name) of the Stream videos and live inputs ever listed, by uid.

    >>> resource_names(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    named = wh.query("SELECT uid, name FROM videos WHERE name IS NOT NULL AND name <> '' "
                     "UNION ALL SELECT uid, name FROM live_inputs "
                     "WHERE name IS NOT NULL AND name <> ''")
    return dict(zip(named["uid"], named["name"], strict=True))


def _utc(df: pd.DataFrame, cols: tuple[str, ...]) -> pd.DataFrame:
    for col in cols:
        df[col] = pd.to_datetime(df[col], utc=True)
    return df.reset_index(drop=True)
