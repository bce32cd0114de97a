"""Stream stored minutes per day: rebuilt from the video inventory, and the usage snapshots.

Stored minutes at the end of a day are rebuilt from every video ever listed (reference
section 6): a playable video stores its duration rounded up to the second, from
`readyToStreamAt` until it was seen missing or its scheduled deletion passed; a direct upload
still pending reserves its `maxDurationSeconds` from its creation until it completed
(`uploaded`), its link expired (`uploadExpiry`) or it was deleted, whichever came first.
Purchased capacity comes from the account-wide storage-usage snapshots.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from ..errors import NotSyncedError
from ..warehouse import Warehouse

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
    videos and the reservations of direct uploads still pending that day.

    >>> rebuilt_stored_minutes(wh, pd.date_range("2026-06-01", "2026-06-30"))  # doctest: +SKIP
    """
    n = len(days)
    delta = np.zeros(n + 1, dtype=np.int64)
    for v in (stored_videos(wh), upload_reservations(wh)):
        lo, hi = stored_day_span(v, days)
        secs = v["seconds"].to_numpy(dtype=np.int64)
        np.add.at(delta, lo, secs)
        np.add.at(delta, hi, -secs)
    return np.cumsum(delta)[:n] / 60


def storage_snapshots(wh: Warehouse, creator: str = "") -> pd.DataFrame:
    """Stream's storage-usage readings of `creator` ('' = the whole account), oldest first:
    taken_at (UTC), minutes (stored), capacity (purchased, NaN when unknown), videos.

    >>> storage_snapshots(Warehouse("data/demo.duckdb", read_only=True))   # doctest: +SKIP
    """
    df = wh.query("SELECT taken_at, total_storage_minutes AS minutes, "
                  "total_storage_minutes_limit AS capacity, video_count AS videos "
                  "FROM stream_storage_snapshots WHERE creator = ? ORDER BY taken_at", [creator])
    df["taken_at"] = pd.to_datetime(df["taken_at"], utc=True)
    return df


def storage_snapshot_day(wh: Warehouse) -> date:
    """The UTC day of the latest account-wide storage snapshot (the runway's t0); refused
    (NotSyncedError) before the first sync of the stream source.

    >>> storage_snapshot_day(Warehouse("data/demo.duckdb", read_only=True))   # doctest: +SKIP
    datetime.date(2026, 7, 1)
    """
    snaps = storage_snapshots(wh)
    if not len(snaps):
        raise NotSyncedError(f"{wh.path}: no Stream storage snapshot yet; run a sync of the "
                             "stream source first", path=str(wh.path))
    return snaps["taken_at"].iloc[-1].date()


def stored_minutes_daily(wh: Warehouse, first: date, last: date,
                         notes: list[str] | None = None) -> pd.DataFrame:
    """Per day in [first, last] (inclusive): date, stored_minutes (rebuilt from the videos)
    and capacity_minutes (each day takes the latest snapshot at or before it, earlier days
    the first one; NaN without any). What it had to assume is appended to `notes`.

    >>> stored_minutes_daily(wh, date(2026, 6, 1), date(2026, 6, 30))  # doctest: +SKIP
    """
    days = pd.date_range(first, last, freq="D")
    snaps = storage_snapshots(wh)
    out = pd.DataFrame({"date": days.date})
    out["stored_minutes"] = rebuilt_stored_minutes(wh, days)
    if len(snaps):
        taken = snaps["taken_at"].dt.tz_convert(None).dt.floor("D")
        cap = pd.Series(snaps["capacity"].to_numpy(), index=taken)
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

