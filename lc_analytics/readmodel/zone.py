"""Zone (CDN) traffic and cache rules as synced: the one place that reads the zone tables.

- `zone_daily`: the exact daily rollup per zone (requests, cached requests, bytes, cached
  bytes, page views, threats, uniques), and `zone_daily_countries` its countries;
- `zone_hourly`: the sampled hourly groups (host x path prefix x extension x cache status x
  status class x country), estimates with their variance, plus `hit` (the cache status
  counts as served from cache, reference 8.1 via `facts.is_cache_hit`);
- `zone_cache_rules`: the cache rules listed (or every rule ever listed, `history=True`);
- `zone_limits`: what each zone's plan allowed at the last sync.

Days are `datetime.date`, hours pandas UTC timestamps.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from .. import facts
from ..warehouse import Warehouse


def _days(df: pd.DataFrame) -> pd.DataFrame:
    if "date" in df and len(df):
        df["date"] = pd.to_datetime(df["date"]).dt.date
    return df


def _where(zone_id: str | None, first: date | None, last: date | None,
           col: str = "date") -> tuple[str, list]:
    parts: list[str] = []
    params: list[Any] = []
    if zone_id is not None:
        parts.append("zone_id = ?")
        params.append(zone_id)
    if first is not None:
        parts.append(f"CAST({col} AS DATE) >= ?")
        params.append(first)
    if last is not None:
        parts.append(f"CAST({col} AS DATE) <= ?")
        params.append(last)
    return ("WHERE " + " AND ".join(parts)) if parts else "", params


def zone_ids(wh: Warehouse) -> list[str]:
    """The zones the warehouse holds traffic of.

    >>> zone_ids(Warehouse("data/demo.duckdb", read_only=True))     # doctest: +SKIP
    """
    return wh.query("SELECT DISTINCT zone_id FROM zone_traffic_daily UNION "
                    "SELECT DISTINCT zone_id FROM zone_traffic_hourly ORDER BY 1")[
        "zone_id"].tolist()


def zone_daily(wh: Warehouse, zone_id: str | None = None, first: date | None = None,
               last: date | None = None) -> pd.DataFrame:
    """The daily rollup: zone_id, date, requests, cached_requests, bytes, cached_bytes,
    page_views, threats, uniques (exact), days `first`..`last` inclusive.

    >>> zone_daily(Warehouse("data/demo.duckdb", read_only=True))   # doctest: +SKIP
    """
    where, params = _where(zone_id, first, last)
    return _days(wh.query(f"SELECT * FROM zone_traffic_daily {where} ORDER BY zone_id, date",
                          params))


def zone_daily_countries(wh: Warehouse, zone_id: str | None = None, first: date | None = None,
                         last: date | None = None) -> pd.DataFrame:
    """zone_id, date, country, requests, bytes (the daily rollup's countries, exact).

    >>> zone_daily_countries(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    where, params = _where(zone_id, first, last)
    return _days(wh.query("SELECT * FROM zone_traffic_daily_countries "
                          f"{where} ORDER BY zone_id, date, country", params))


def zone_hourly(wh: Warehouse, zone_id: str | None = None, first: date | None = None,
                last: date | None = None) -> pd.DataFrame:
    """The sampled hourly groups with `date` and `hit` added: zone_id, hour, date, host,
    path_prefix, extension, cache_status, hit, status_class, country, requests, bytes,
    sample_interval, requests_variance.

    >>> zone_hourly(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    where, params = _where(zone_id, first, last, "hour")
    df = wh.query(f"SELECT * FROM zone_traffic_hourly {where} ORDER BY zone_id, hour, host, "
                  "path_prefix, extension, cache_status, status_class, country", params)
    df.insert(2, "date", df["hour"].dt.date if len(df) else pd.Series(dtype=object))
    df["hit"] = df["cache_status"].map(facts.is_cache_hit).astype(bool)
    return df


def zone_cache_rules(wh: Warehouse, zone_id: str | None = None, *,
                     history: bool = False) -> pd.DataFrame:
    """The cache rules listed (missing_since NULL), or every rule ever listed.

    >>> zone_cache_rules(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    parts, params = [], []
    if zone_id is not None:
        parts.append("zone_id = ?")
        params.append(zone_id)
    if not history:
        parts.append("missing_since IS NULL")
    where = ("WHERE " + " AND ".join(parts)) if parts else ""
    return wh.query(f"SELECT * FROM zone_cache_rules {where} ORDER BY zone_id, first_seen, "
                    "rule_id", params)


def zone_limits(wh: Warehouse) -> pd.DataFrame:
    """Each zone's dataset limits as its plan gave them at the last sync, with the oldest
    instant they let the sync read.

    >>> zone_limits(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    return wh.query("SELECT * FROM zone_dataset_limits ORDER BY zone_id, dataset")


__all__ = ["zone_cache_rules", "zone_daily", "zone_daily_countries", "zone_hourly",
           "zone_ids", "zone_limits"]
