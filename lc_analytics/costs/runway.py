"""Stream storage runway: when stored minutes reach the prepaid capacity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from ..errors import NotSyncedError
from ..readmodel import rebuilt_stored_minutes, storage_snapshots, videos
from ..warehouse import Warehouse

WINDOW_DAYS = 28  # days of additions the growth is learned from
INTERVAL = 0.80
RESAMPLES = 2000
SEED = 0
_DAY = pd.Timedelta(days=1)


def storage_runway(wh: Warehouse, horizon_days: int = 90) -> pd.DataFrame:
    """One row: Stream stored minutes, purchased capacity, growth, and the day they meet.

    How it is computed (t0 = the latest storage snapshot, which also closes the latest
    video listing):

    - Level: the snapshot's `total_storage_minutes`. It includes the `maxDurationSeconds`
      reserved by direct uploads still pending at t0; each reservation is released in the
      projection at its `upload_expiry` (an upload that completes earlier is released then and
      its real duration arrives with the additions below).
    - Capacity: the snapshot's `total_storage_minutes_limit` (purchased capacity).
    - Additions: minutes (duration rounded up to the second) of the videos that became ready
      on each of the 28 complete UTC days before t0, from the videos the warehouse has
      listed. That is the rebuilt stored-minutes series with its deletions taken out: a video
      is kept at least 30 days unless deleted by hand, so the last 28 days' additions are
      complete even on a first sync, while the rebuild's history before the first sync lacks
      the videos deleted before it (its slope there is the gross addition rate, not the net
      growth). Growth is the Theil-Sen slope (median of pairwise slopes) of the cumulative
      additions: a robust linear fit that one burst day does not move.
    - Deletions: (1) the scheduled deletions already set on listed videos, at their time;
      (2) projected additions are split by retention (each live input's current
      `deleteRecordingAfterDays`, or none: uploads and inputs without it) in the window's
      proportions, and each share is deleted that many days after it arrives. Deletions by
      hand are not projected.
    - Projection at the end of each UTC day d: level + growth x days since t0 (the first day
      counts only its part after t0) - projected additions already past their retention -
      scheduled deletions and released reservations up to the end of d. The exhaustion date
      is the first day whose projection reaches capacity: from that moment new uploads and
      new live streams are refused. days_until_exhaustion = that date - t0's date.
    - Interval (80%): 2,000 seeded bootstrap paths draw whole days of the window's additions
      (with their retention split) for every future day; the 10th and 90th percentiles of the
      paths' exhaustion days are `exhaustion_earliest` and `exhaustion_latest` (None when
      beyond `horizon_days`).

    Columns: snapshot_at, stored_minutes (level), reserved_minutes (pending reservations in
    it), capacity_minutes, headroom_minutes, added_minutes_per_day (the Theil-Sen growth),
    deleted_minutes_per_day and net_growth_per_day (both averaged from t0 to the exhaustion
    date, or over the horizon), days_until_exhaustion, exhaustion_date, exhaustion_earliest,
    exhaustion_latest, horizon_days, method, notes. `storage_runway_daily` has the series.

    >>> storage_runway(Warehouse("data/demo.duckdb", read_only=True))   # doctest: +SKIP
    """
    return _runway(wh, horizon_days).summary


def storage_runway_daily(wh: Warehouse, horizon_days: int = 90) -> pd.DataFrame:
    """Per day: the last 28 days observed and the projection over `horizon_days`.

    Columns: date; rebuilt_minutes (stored minutes rebuilt from the listed videos, without
    pending reservations) and added_minutes for the 28 observed days; snapshot_minutes on
    the day a snapshot closes (one taken at 00:00 UTC closes the previous day: there it
    equals rebuilt_minutes + the reservations pending at the time); projected_minutes,
    projected_low and projected_high (10th / 90th percentiles of the bootstrap paths) for
    the horizon; capacity_minutes. See `storage_runway` for the method.

    >>> storage_runway_daily(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    return _runway(wh, horizon_days).daily


@dataclass
class _Result:
    summary: pd.DataFrame
    daily: pd.DataFrame


def _runway(wh: Warehouse, horizon_days: int) -> _Result:
    snaps = storage_snapshots(wh)
    if not len(snaps):
        raise NotSyncedError(f"{wh.path}: no Stream storage snapshot yet; run a sync of the "
                             "stream source first", path=str(wh.path))
    latest = snaps.iloc[-1]
    t0 = pd.Timestamp(latest["taken_at"]).tz_convert("UTC")
    level = float(latest["minutes"])
    capacity = None if pd.isna(latest["capacity"]) else float(latest["capacity"])
    v = _videos(wh)
    window, added, groups = _additions(v, t0)
    total = added.sum(axis=1)
    growth = _theil_sen(np.cumsum(total))
    share = added.sum(axis=0) / total.sum() if total.sum() else np.eye(len(groups))[-1]

    # the future: day ends, fraction of the first day, known releases
    days = pd.date_range(t0.floor("D"), periods=horizon_days, freq="D")
    ends = days + _DAY
    weight = np.ones(horizon_days)
    weight[0] = (ends[0] - t0) / _DAY
    known = _known_releases(v, t0, ends)
    retention = np.array(groups, dtype=float)
    point = level + _retained(np.broadcast_to(growth * share, (horizon_days, len(groups)))[None],
                              weight, retention)[0] - known
    rng = np.random.default_rng(SEED)
    sample = added[rng.integers(0, WINDOW_DAYS, (RESAMPLES, horizon_days))]
    paths = level + _retained(sample, weight, retention) - known
    summary = _summary(t0, level, capacity, v, growth, point, paths, days, ends)
    lo, hi = np.quantile(paths, [(1 - INTERVAL) / 2, (1 + INTERVAL) / 2], axis=0)
    past = pd.DataFrame({"date": window.date,
                         "rebuilt_minutes": rebuilt_stored_minutes(wh, window.tz_localize(None)),
                         "added_minutes": total})
    snap_day = (pd.to_datetime(snaps["taken_at"], utc=True) - pd.Timedelta(microseconds=1)) \
        .dt.floor("D").dt.date
    past = past.merge(pd.DataFrame({"date": snap_day, "snapshot_minutes": snaps["minutes"]})
                      .drop_duplicates("date", keep="last"), on="date", how="left")
    future = pd.DataFrame({"date": days.date, "projected_minutes": point,
                           "projected_low": lo, "projected_high": hi})
    daily = pd.concat([past, future], ignore_index=True).groupby("date", as_index=False).first()
    daily["capacity_minutes"] = capacity
    return _Result(summary, daily)


def _additions(v: pd.DataFrame, t0: pd.Timestamp) -> tuple[pd.DatetimeIndex, np.ndarray,
                                                            list[float]]:
    """Minutes that became ready per day of the window before t0's day and per retention
    group (the inputs' deleteRecordingAfterDays, then "kept": inf)."""
    window_end = t0.floor("D")
    window = pd.date_range(window_end - WINDOW_DAYS * _DAY, periods=WINDOW_DAYS, freq="D")
    ready = v[v["ready"].notna() & (v["ready"] >= window[0]) & (v["ready"] < window_end)]
    day_idx = ((ready["ready"] - window[0]) // _DAY).to_numpy(int)
    groups = sorted(v["retention_days"].dropna().unique().tolist()) + [np.inf]
    g_idx = ready["retention_days"].fillna(np.inf).map({g: i for i, g in enumerate(groups)}) \
        .to_numpy(int)
    added = np.zeros((WINDOW_DAYS, len(groups)))
    np.add.at(added, (day_idx, g_idx), ready["seconds"].to_numpy(float) / 60)
    return window, added, groups


def _summary(t0: pd.Timestamp, level: float, capacity: float | None, v: pd.DataFrame,
             growth: float, point: np.ndarray, paths: np.ndarray, days: pd.DatetimeIndex,
             ends: pd.DatetimeIndex) -> pd.DataFrame:
    horizon_days = len(days)
    full = _first_reach(point[None], capacity)[0]
    reach = _first_reach(paths, capacity)
    q_lo, q_hi = np.quantile(reach, [(1 - INTERVAL) / 2, (1 + INTERVAL) / 2], method="lower")
    span = int(full) + 1 if np.isfinite(full) else horizon_days
    net = (point[span - 1] - level) / ((ends[span - 1] - t0) / _DAY)
    d0 = t0.date()

    def day(i: float) -> date | None:
        return None if not np.isfinite(i) else days[int(i)].date()

    exhausted = day(full)
    return pd.DataFrame([{
        "snapshot_at": t0, "stored_minutes": level,
        "reserved_minutes": float(v.loc[v["reserved"], "max_duration_seconds"].sum()) / 60,
        "capacity_minutes": capacity,
        "headroom_minutes": None if capacity is None else capacity - level,
        "added_minutes_per_day": growth, "deleted_minutes_per_day": growth - net,
        "net_growth_per_day": net,
        "days_until_exhaustion": None if exhausted is None else (exhausted - d0).days,
        "exhaustion_date": exhausted,
        "exhaustion_earliest": day(q_lo), "exhaustion_latest": day(q_hi),
        "horizon_days": horizon_days,
        "method": f"Theil-Sen growth of the last {WINDOW_DAYS} days' additions, level from the "
                  f"latest snapshot, minus scheduled and retention deletions; "
                  f"{round(INTERVAL * 100)}% interval from {RESAMPLES:,} bootstrap paths of "
                  "whole days",
        "notes": _notes(capacity, full, q_hi, horizon_days),
    }])


def _videos(wh: Warehouse) -> pd.DataFrame:
    v = videos(wh, history=True).rename(columns={"ready_to_stream_at": "ready"})
    listed = v["missing_since"].isna()
    v.loc[v["ready"].notna() & (v["state"] != "ready"), "ready"] = pd.NaT
    v["reserved"] = listed & (v["state"] == "pendingupload") & v["max_duration_seconds"].notna()
    v["listed"] = listed
    return v


def _known_releases(v: pd.DataFrame, t0: pd.Timestamp, ends: pd.DatetimeIndex) -> np.ndarray:
    """Minutes released by the end of each day: scheduled deletions and pending reservations."""
    stored = v[v["listed"] & (v["state"] == "ready") & v["scheduled_deletion"].notna()
               & (v["scheduled_deletion"] > t0)]
    res = v[v["reserved"] & v["upload_expiry"].notna() & (v["upload_expiry"] > t0)]
    when = np.concatenate([stored["scheduled_deletion"].to_numpy("datetime64[ns]"),
                           res["upload_expiry"].to_numpy("datetime64[ns]")])
    minutes = np.concatenate([stored["seconds"].to_numpy(float) / 60,
                              res["max_duration_seconds"].to_numpy(float) / 60])
    order = np.argsort(when)
    cum = np.concatenate([[0.0], np.cumsum(minutes[order])])
    idx = np.searchsorted(when[order], ends.tz_convert(None).to_numpy("datetime64[ns]"),
                          side="right")
    return cum[idx]


def _retained(daily: np.ndarray, weight: np.ndarray, retention: np.ndarray) -> np.ndarray:
    """Projected additions still stored at each day's end, per path (paths x days x groups in).

    Day j's additions (first day scaled by its remaining fraction) are deleted `retention`
    days later: still stored at day k when k - j < retention.
    """
    flow = daily * weight[None, :, None]
    cum = np.cumsum(flow, axis=1)
    out = cum.sum(axis=2)
    n = flow.shape[1]
    for g, r in enumerate(retention):
        if np.isfinite(r) and r < n:
            lag = int(r)
            out[:, lag:] -= cum[:, :n - lag, g]
    return out


def _first_reach(paths: np.ndarray, capacity: float | None) -> np.ndarray:
    """Index of the first day each path reaches capacity (inf when it never does)."""
    if capacity is None:
        return np.full(len(paths), np.inf)
    hit = paths >= capacity
    return np.where(hit.any(axis=1), hit.argmax(axis=1), np.inf)


def _theil_sen(y: np.ndarray) -> float:
    """Median of the pairwise slopes of y against its index."""
    if len(y) < 2:
        return 0.0
    i, j = np.triu_indices(len(y), 1)
    return float(np.median((y[j] - y[i]) / (j - i)))


def _notes(capacity: float | None, full: float, latest: float, horizon: int) -> str:
    if capacity is None:
        return "the snapshot has no storage limit: no exhaustion date"
    if not np.isfinite(full):
        return f"capacity is not reached within {horizon} days at the projected growth"
    if not np.isfinite(latest):
        return f"the interval's late end is beyond the {horizon}-day horizon"
    return ""
