"""The GraphQL zone scope (reference 8.1) over the account's `SimulatedZone`.

`viewer { zones(filter: {zoneTag}) { settings httpRequestsAdaptiveGroups httpRequests1dGroups } }`.
The adaptive dataset samples: each (hour, host, path, country, cache status, status) row with
`n` requests gets a sample interval `k` (1 below 200 requests, 5 below 1,000, 20 above); the
served `count` is `k * Binomial(n, 1/k)` (drawn once per hour from the zone's seed), bytes and
visits scale with it, and `avg { sampleInterval }` is the mean interval of the sampled rows, as
Cloudflare reports it. The daily rollup is exact. Limits (`maxDuration`, `notOlderThan`,
`maxPageSize`) follow the zone's plan (`SimulatedZone.plan`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .zone import SimulatedZone

if TYPE_CHECKING:
    from .graphql_api import GraphQLEndpoint

ZONE_ANALYTICS_READ = "zone:analytics:read"
MAX_ZONES = 10
ADAPTIVE = "httpRequestsAdaptiveGroups"
DAILY = "httpRequests1dGroups"
_DIMENSIONS = {"date": "_day", "datetimeHour": "_ts", "datetime": "_ts",
               "clientRequestHTTPHost": "clientRequestHTTPHost",
               "clientRequestPath": "clientRequestPath", "cacheStatus": "cacheStatus",
               "edgeResponseStatus": "edgeResponseStatus",
               "clientCountryName": "clientCountryName", "requestSource": "requestSource"}
_ADAPTIVE_FIELDS = [f"dimensions_{d}" for d in _DIMENSIONS if d != "datetime"] + [
    "count", "avg_sampleInterval", "sum_edgeResponseBytes", "sum_visits"]
_DAILY_FIELDS = ["dimensions_date", "sum_requests", "sum_cachedRequests", "sum_bytes",
                 "sum_cachedBytes", "sum_pageViews", "sum_threats", "sum_countryMap",
                 "uniq_uniques"]


def bind(schema: Any) -> None:
    """Set the zone scope's resolvers on the built schema."""
    schema.type_map["viewer"].fields["zones"].resolve = _resolve_zones
    zone: Any = schema.type_map["zone"]
    zone.fields["zoneTag"].resolve = lambda z, _info: z.zone_id
    zone.fields["settings"].resolve = lambda z, _info: dataset_settings(z)
    zone.fields[ADAPTIVE].resolve = _adaptive
    zone.fields[DAILY].resolve = _daily


def dataset_settings(zone: SimulatedZone) -> dict[str, dict[str, Any]]:
    """The `settings` node of the zone's plan."""
    out = {}
    for name, fields in ((ADAPTIVE, _ADAPTIVE_FIELDS), (DAILY, _DAILY_FIELDS)):
        limits = zone.settings()[name]
        out[name] = {"enabled": True, "availableFields": fields,
                     "maxNumberOfFields": len(fields), **limits}
    return out


def _failure(message: str, code: str, status: int = 400) -> Exception:
    from .graphql_api import _QueryFailure

    return _QueryFailure(message, code, status)


def _resolve_zones(_viewer: Any, info: Any, filter: dict) -> list[SimulatedZone]:
    endpoint: GraphQLEndpoint = info.context
    if ZONE_ANALYTICS_READ not in endpoint.permissions:
        raise _failure("not authorized for that zone (Zone Analytics Read)", "authz", 403)
    tags = list(filter.get("zoneTag_in") or []) + ([filter["zoneTag"]]
                                                   if filter.get("zoneTag") else [])
    if not tags:
        raise _failure("zones filter must set zoneTag or zoneTag_in", "bad_request")
    if len(tags) > MAX_ZONES:
        raise _failure(f"at most {MAX_ZONES} zones per query", "bad_request")
    zone = endpoint.account.zone
    if any(t != zone.zone_id for t in tags):
        raise _failure("not authorized for that zone", "authz", 200)
    return [zone]


def _check(zone: SimulatedZone, name: str, flt: dict, limit: int,
           now: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    from .graphql_api import _duration, _time_range

    limits = zone.settings()[name]
    if not 0 < limit <= limits["maxPageSize"]:
        raise _failure(f"limit must be positive number and not greater than "
                       f"{limits['maxPageSize']}", "quota")
    lo, hi = _time_range(_day_keys(flt), now)
    older, longest = (pd.Timedelta(seconds=limits[k]) for k in ("notOlderThan", "maxDuration"))
    if lo < now - older:
        raise _failure(f"cannot request data older than {_duration(older)}", "quota")
    if hi - lo > longest:
        raise _failure("query time range is too large: time range can't be wider than "
                       f"{_duration(longest)}", "quota")
    return lo, hi


def _day_keys(flt: dict) -> dict:
    """The filter with `datetimeHour_*` read as `datetime_*` (for the time range)."""
    return {k.replace("datetimeHour", "datetime"): v for k, v in flt.items()}


# --- adaptive groups -------------------------------------------------------------------
def _interval(n: np.ndarray) -> np.ndarray:
    return np.where(n < 200, 1, np.where(n < 1_000, 5, 20))


def adaptive_frame(zone: SimulatedZone, now: pd.Timestamp, lo: pd.Timestamp,
                   hi: pd.Timestamp) -> pd.DataFrame:
    """The sampled rows the dataset serves for the hours in [lo, hi) (each hour's sample is
    drawn from its own seed, so any window shows the same numbers for it)."""
    truth = zone.hourly(now, lo.floor("h"), hi)
    n = truth["requests"].to_numpy()
    k = _interval(n)
    sampled = np.zeros(len(truth), dtype=np.int64)
    hours = truth["hour"].to_numpy()
    bounds = np.flatnonzero(np.r_[True, hours[1:] != hours[:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        index = int(np.searchsorted(zone.hours, truth["hour"].iloc[a]))
        rng = np.random.default_rng([zone.seed, 0x5A3, zone.index, index])
        sampled[a:b] = rng.binomial(n[a:b], 1.0 / k[a:b])
    count = sampled * k
    per_request = truth["bytes"].to_numpy() // np.maximum(n, 1)
    visits = ((truth["path"] == "/") & (truth["status"] == 200)).to_numpy()
    frame = pd.DataFrame({
        "_ts": truth["hour"], "_day": truth["hour"].dt.floor("D"),
        "clientRequestHTTPHost": truth["host"], "clientRequestPath": truth["path"],
        "cacheStatus": truth["cache_status"], "edgeResponseStatus": truth["status"],
        "clientCountryName": truth["country"], "requestSource": "eyeball",
        "count": count, "sum_edgeResponseBytes": count * per_request,
        "sum_visits": np.where(visits, count, 0), "_sampled": sampled})
    return frame[frame["count"] > 0].reset_index(drop=True)


def _frame(endpoint: GraphQLEndpoint, zone: SimulatedZone, lo: pd.Timestamp,
           hi: pd.Timestamp) -> pd.DataFrame:
    """The window's sampled rows (the last window asked is kept: pages re-ask it)."""
    key = (endpoint.account.now, len(zone.rules_history), zone.plan, lo, hi)
    cached = endpoint.zone_frames.get(zone.zone_id)
    if cached is None or cached[0] != key:
        cached = endpoint.zone_frames[zone.zone_id] = (
            key, adaptive_frame(zone, endpoint.account.now, lo, hi))
    return cached[1]


def _adaptive(zone: SimulatedZone, info: Any, limit: int, filter: dict | None = None,
              orderBy: list[str] | None = None) -> Any:
    from .graphql_api import _mask, _requested, _Rows

    endpoint: GraphQLEndpoint = info.context
    flt = filter or {}
    lo, hi = _check(zone, ADAPTIVE, flt, limit, endpoint.account.now)
    rows = _frame(endpoint, zone, lo, hi)
    rows = rows[_mask(rows.assign(datetimeHour=rows["_ts"]), flt)] if flt else rows
    requested = _requested(info)
    dims = [d for d in _DIMENSIONS if d in requested.get("dimensions", ())]
    keys = list(dict.fromkeys(_DIMENSIONS[d] for d in dims))
    groups = rows.groupby(keys, sort=True) if keys else rows.assign(_all=0).groupby("_all")
    out = groups[["count", "sum_edgeResponseBytes", "sum_visits", "_sampled"]].sum()
    out = out.reset_index(drop=not keys)
    out = _order(out, orderBy or [], keys).head(limit)
    columns: dict[str, Any] = {"count": out["count"].tolist()}
    columns["avg"] = {"sampleInterval": (out["count"] / out["_sampled"].clip(lower=1))
                      .round(6).tolist()}
    columns["sum"] = {"edgeResponseBytes": out["sum_edgeResponseBytes"].tolist(),
                      "visits": out["sum_visits"].tolist()}
    columns["dimensions"] = {d: _values(out, d) for d in dims}
    return _Rows(columns, len(out))


def _order(frame: pd.DataFrame, order_by: list[str], keys: list[str]) -> pd.DataFrame:
    by, ascending = [], []
    for item in order_by:
        name, _, direction = item.rpartition("_")
        col = "count" if name == "count" else _DIMENSIONS.get(name, name)
        if col != "count" and col not in keys:
            raise _failure(f"cannot order by {name}: it is not one of the requested "
                           "dimensions", "bad_request")
        by.append(col)
        ascending.append(direction == "ASC")
    if not by or frame.empty:
        return frame
    return frame.sort_values(by, ascending=ascending, kind="stable")


def _values(frame: pd.DataFrame, dimension: str) -> list:
    if dimension == "date":
        return frame["_day"].dt.strftime("%Y-%m-%d").tolist()
    if dimension in ("datetimeHour", "datetime"):
        return frame["_ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ").tolist()
    return frame[_DIMENSIONS[dimension]].tolist()


# --- daily rollup ----------------------------------------------------------------------
def _daily(zone: SimulatedZone, info: Any, limit: int, filter: dict | None = None,
           orderBy: list[str] | None = None) -> Any:
    from .graphql_api import _Rows

    endpoint: GraphQLEndpoint = info.context
    now = endpoint.account.now
    lo, hi = _check(zone, DAILY, filter or {}, limit, now)
    days = zone.daily(now)
    stamps = pd.to_datetime(days["date"]).dt.tz_localize("UTC")
    days = days[((stamps >= lo) & (stamps < hi)).to_numpy()]
    if orderBy and orderBy[0] == "date_DESC":
        days = days.iloc[::-1]
    days = days.head(limit)
    countries = zone.daily_countries(now)
    countries = countries[countries["date"].isin(set(days["date"]))]
    by_day = {d: [{"clientCountryName": c, "requests": r, "bytes": b} for c, r, b in zip(
        g["country"], g["requests"].tolist(), g["bytes"].tolist(), strict=True)]
        for d, g in countries.groupby("date")}
    columns = {
        "dimensions": {"date": [d.isoformat() for d in days["date"]]},
        "sum": {"requests": days["requests"].tolist(),
                "cachedRequests": days["cached_requests"].tolist(),
                "bytes": days["bytes"].tolist(), "cachedBytes": days["cached_bytes"].tolist(),
                "pageViews": days["page_views"].tolist(), "threats": days["threats"].tolist(),
                "countryMap": [by_day.get(d, []) for d in days["date"]]},
        "uniq": {"uniques": days["uniques"].tolist()}}
    return _Rows(columns, len(days))
