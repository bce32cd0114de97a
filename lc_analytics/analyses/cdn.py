"""CDN analyses over the read model's zone tables: traffic by host, path prefix and country,
cache hit ratio by requests and by bytes per prefix over time, origin offload, error rates by
status class, and whether a cache rule (the seed's `/static/*`) is in force and working.

Hit statuses follow reference 8.1 (`facts.is_cache_hit`). Hourly figures are estimates from
sampled groups; `requests_stderr` is the standard error the sampling reports.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from ..readmodel.zone import zone_cache_rules, zone_daily, zone_daily_countries, zone_hourly
from ..warehouse import Warehouse

__all__ = ["HIT_RATIO_WORKING", "cache_hit_ratio", "covering_rules", "error_rates",
           "origin_offload", "rule_status", "traffic_by", "traffic_by_country", "zone_headline"]

#: a rule "works" when the prefix it covers serves at least this share of requests from cache
HIT_RATIO_WORKING = 0.8
_STARTS = re.compile(r'starts_with\(\s*http\.request\.uri\.path\s*,\s*"([^"]*)"\s*\)?')
_HOST = re.compile(r'http\.host\s+(?:eq|==)\s+"([^"]*)"')


def _clause_covers(clause: str, host: str, prefix: str) -> bool:
    terms = [t for t in re.split(r"\s+and\s+", clause) if t.strip()]
    ok = bool(terms)
    for term in terms:
        starts, hosts = _STARTS.search(term), _HOST.search(term)
        if starts:
            ok &= prefix.startswith(starts.group(1))
        elif hosts:
            ok &= host == hosts.group(1)
        else:
            return False  # a condition this reading does not understand: not counted
    return ok


def covering_rules(rules: pd.DataFrame, host: str, prefix: str) -> pd.DataFrame:
    """The enabled caching rules (`cache` true) whose expression covers every path under
    `prefix` on `host` (`starts_with(http.request.uri.path, ...)`, `http.host eq`, joined by
    `and` / `or`; other conditions are not read as covering).

    >>> r = pd.DataFrame({"expression": ['starts_with(http.request.uri.path, "/static/")'],
    ...                   "enabled": [True], "cache": [True]})
    >>> len(covering_rules(r, "www.x", "/static/")), len(covering_rules(r, "www.x", "/a/"))
    (1, 0)
    """
    if rules.empty:
        return rules
    live = rules[rules["enabled"].astype(bool) & rules["cache"].fillna(False).astype(bool)]
    hit = [any(_clause_covers(c.strip(" ()"), host, prefix)
               for c in re.split(r"\s+or\s+", str(e))) for e in live["expression"]]
    return live[np.asarray(hit, dtype=bool)] if len(live) else live


def traffic_by(wh: Warehouse, by: str | list[str] = "host", first: date | None = None,
               last: date | None = None) -> pd.DataFrame:
    """Estimated requests and bytes (with the requests' standard error) by `by` (host,
    path_prefix, extension, country, ...), from the hourly groups.

    >>> traffic_by(Warehouse("data/demo.duckdb", read_only=True), "path_prefix")  # doctest: +SKIP
    """
    keys = [by] if isinstance(by, str) else list(by)
    h = zone_hourly(wh, first=first, last=last)
    out = h.groupby(keys, as_index=False)[["requests", "bytes", "requests_variance"]].sum()
    out["requests_stderr"] = np.sqrt(out.pop("requests_variance"))
    return out.sort_values("bytes", ascending=False, kind="stable").reset_index(drop=True)


def traffic_by_country(wh: Warehouse, first: date | None = None,
                       last: date | None = None) -> pd.DataFrame:
    """Exact requests and bytes per client country (the daily rollup's countries).

    >>> traffic_by_country(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    c = zone_daily_countries(wh, first=first, last=last)
    out = c.groupby("country", as_index=False)[["requests", "bytes"]].sum()
    out["share"] = out["bytes"] / out["bytes"].sum() if len(out) else []
    return out.sort_values("bytes", ascending=False, kind="stable").reset_index(drop=True)


def cache_hit_ratio(wh: Warehouse, by: str | list[str] = "path_prefix", freq: str | None = "D",
                    first: date | None = None, last: date | None = None) -> pd.DataFrame:
    """Hit ratio by requests and by bytes per `by` (and per period `freq`: "D", "h" or None
    for the whole span), from the hourly groups.

    >>> cache_hit_ratio(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    h = zone_hourly(wh, first=first, last=last)
    keys = ([by] if isinstance(by, str) else list(by))
    h = h.assign(hit_requests=h["requests"].where(h["hit"], 0),
                 hit_bytes=h["bytes"].where(h["hit"], 0))
    if freq is not None:
        h["period"] = h["hour"].dt.floor(freq)
        keys = ["period", *keys]
    out = h.groupby(keys, as_index=False)[["requests", "bytes", "hit_requests",
                                           "hit_bytes"]].sum()
    out["hit_ratio_requests"] = out["hit_requests"] / out["requests"].where(out["requests"] > 0)
    out["hit_ratio_bytes"] = out["hit_bytes"] / out["bytes"].where(out["bytes"] > 0)
    return out


def origin_offload(wh: Warehouse, first: date | None = None,
                   last: date | None = None) -> pd.DataFrame:
    """Per day (exact, from the daily rollup): bytes served, bytes served from cache, bytes
    the origin served, and the offload share (cached bytes / bytes).

    >>> origin_offload(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    d = zone_daily(wh, first=first, last=last)
    out = d.groupby("date", as_index=False)[["requests", "cached_requests", "bytes",
                                             "cached_bytes"]].sum()
    out["origin_bytes"] = out["bytes"] - out["cached_bytes"]
    out["offload"] = out["cached_bytes"] / out["bytes"].where(out["bytes"] > 0)
    return out


def error_rates(wh: Warehouse, by: str | list[str] = "host", freq: str | None = "D",
                first: date | None = None, last: date | None = None) -> pd.DataFrame:
    """Share of requests per status class (2xx .. 5xx) by `by` and period.

    >>> error_rates(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    h = zone_hourly(wh, first=first, last=last)
    keys = [by] if isinstance(by, str) else list(by)
    if freq is not None:
        h["period"] = h["hour"].dt.floor(freq)
        keys = ["period", *keys]
    wide = h.pivot_table(index=keys, columns="status_class", values="requests",
                         aggfunc="sum", fill_value=0)
    shares = wide.div(wide.sum(axis=1), axis=0).add_suffix("_share")
    return wide.join(shares).reset_index()


def rule_status(wh: Warehouse, prefix: str = "/static/", host: str | None = None,
                first: date | None = None, last: date | None = None) -> dict[str, Any]:
    """Whether a cache rule covers `prefix` (on `host`, default: the host serving it most)
    and whether it works: the prefix's hit ratio by requests over the hourly span is at
    least `HIT_RATIO_WORKING`.

    >>> rule_status(Warehouse("data/demo.duckdb", read_only=True))["working"]  # doctest: +SKIP
    True
    """
    ratio = cache_hit_ratio(wh, ["host", "path_prefix"], None, first, last)
    mine = ratio[ratio["path_prefix"] == prefix]
    if host is None and len(mine):
        host = str(mine.sort_values("requests").iloc[-1]["host"])
    mine = mine[mine["host"] == host]
    rules = covering_rules(zone_cache_rules(wh), host or "", prefix)
    hit = float(mine["hit_ratio_requests"].iloc[0]) if len(mine) else None
    return {"prefix": prefix, "host": host, "rule_in_force": bool(len(rules)),
            "rule_ids": rules["rule_id"].tolist() if len(rules) else [],
            "expressions": rules["expression"].tolist() if len(rules) else [],
            "hit_ratio_requests": hit,
            "hit_ratio_bytes": float(mine["hit_ratio_bytes"].iloc[0]) if len(mine) else None,
            "working": bool(len(rules)) and hit is not None and hit >= HIT_RATIO_WORKING}


def zone_headline(wh: Warehouse) -> dict[str, Any]:
    """Totals of the daily rollup's last 30 days: requests, bytes, cached share, origin bytes.

    >>> zone_headline(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    d = origin_offload(wh)
    d = d.tail(30)
    total, cached = int(d["bytes"].sum()), int(d["cached_bytes"].sum())
    return {"days": len(d), "first": d["date"].min() if len(d) else None,
            "last": d["date"].max() if len(d) else None,
            "requests": int(d["requests"].sum()), "bytes": total,
            "cached_bytes": cached, "origin_bytes": total - cached,
            "offload": cached / total if total else None}
