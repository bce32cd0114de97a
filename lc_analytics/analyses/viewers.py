"""Viewers: minutes viewed per day, country, broadcaster and show, live or on demand, the
most-watched recordings, and how recordings are watched as they age.

Every function reads the read model's `viewing` (one definition of live and on demand: see
`lc_analytics.readmodel.viewing`), takes plain dates and returns a DataFrame or a dict that a
notebook plots or publishes as it is. Periods are inclusive.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from .. import readmodel
from ..readmodel import LIVE, ON_DEMAND
from ..warehouse import Warehouse
from .periods import Period
from .shows import show_summary

__all__ = ["DEFAULT_MAX_AGE", "LIVE", "ON_DEMAND", "minutes_by_age", "minutes_by_broadcaster",
           "minutes_by_country", "minutes_by_day", "minutes_by_show", "on_demand_percentiles",
           "on_demand_within", "top_recordings", "viewers_headline"]

DEFAULT_MAX_AGE = 60  # the decay curve's last age, in days


def minutes_by_day(wh: Warehouse, start: date, end: date) -> pd.DataFrame:
    """Minutes viewed per day and mode: columns date, mode ('live' | 'on demand'), minutes.

    Every day of the period appears for both modes (0 when nothing was viewed).

    >>> minutes_by_day(wh, date(2026, 6, 1), date(2026, 6, 30))       # doctest: +SKIP
    """
    got = _viewing(wh, start, end).groupby(["date", "mode"])["minutes"].sum()
    days = pd.date_range(start, end, freq="D").date
    grid = pd.MultiIndex.from_product([days, [LIVE, ON_DEMAND]], names=["date", "mode"])
    return got.reindex(grid, fill_value=0.0).astype(float).reset_index()


def minutes_by_country(wh: Warehouse, start: date, end: date) -> pd.DataFrame:
    """Minutes per viewer country, largest first: country, live, on demand, minutes, share.

    >>> minutes_by_country(wh, date(2026, 6, 1), date(2026, 6, 30)).head(3)  # doctest: +SKIP
    """
    df = _viewing(wh, start, end, by_country=True)
    return _by_mode(df.groupby(["country", "mode"], as_index=False)["minutes"].sum(),
                    ["country"])


def minutes_by_broadcaster(wh: Warehouse, start: date, end: date) -> pd.DataFrame:
    """Minutes per broadcaster (creator), largest first: creator, live, on demand, minutes,
    share. An empty creator is shown as '(none)'.

    >>> minutes_by_broadcaster(wh, date(2026, 6, 1), date(2026, 6, 30))  # doctest: +SKIP
    """
    df = _viewing(wh, start, end)
    df["creator"] = df["creator"].fillna("").replace("", "(none)")
    return _by_mode(df.groupby(["creator", "mode"], as_index=False)["minutes"].sum(),
                    ["creator"])


def minutes_by_show(wh: Warehouse, start: date, end: date) -> pd.DataFrame:
    """Minutes per show (live input), largest first: live_input_uid, show (its name), creator,
    recordings (watched in the period), live, on demand, minutes, share.

    Product clips and other uploads have no live input and are left out.

    >>> minutes_by_show(wh, date(2026, 6, 1), date(2026, 6, 30))       # doctest: +SKIP
    """
    vw = _viewing(wh, start, end)
    vw = vw[vw["live_input_uid"].notna()].copy()
    names = _input_names(wh)
    vw["show"] = [names.get(li) or li for li in vw["live_input_uid"]]
    vw["creator"] = vw.groupby("live_input_uid")["creator"].transform("first")
    recordings = vw[vw["uid"] != vw["live_input_uid"]].groupby("live_input_uid")["uid"].nunique()
    df = vw.groupby(["live_input_uid", "show", "creator", "mode"], as_index=False)["minutes"].sum()
    out = _by_mode(df, ["live_input_uid", "show", "creator"])
    out.insert(3, "recordings", out["live_input_uid"].map(recordings).fillna(0).astype(int))
    return out


def top_recordings(wh: Warehouse, start: date, end: date, n: int = 10) -> pd.DataFrame:
    """The `n` most-watched live recordings of the period: uid, name, show, creator, created,
    duration_minutes (to 0.1), live, on demand, minutes.

    >>> top_recordings(wh, date(2026, 6, 1), date(2026, 6, 30), n=5)   # doctest: +SKIP
    """
    vw = _viewing(wh, start, end)
    df = vw[vw["kind"] == "recording"].groupby(["uid", "mode"], as_index=False)["minutes"].sum()
    wide = _by_mode(df, ["uid"]).head(n)
    meta = readmodel.videos(wh, history=True)
    meta = meta[meta["uid"].isin(wide["uid"])]
    names = _input_names(wh)
    meta = pd.DataFrame({"uid": meta["uid"], "name": meta["name"],
                         "show": [names.get(li) or li for li in meta["live_input_uid"]],
                         "creator": meta["creator"], "created": meta["created"],
                         "duration_minutes": meta["duration_seconds"] / 60})
    out = wide.drop(columns="share").merge(meta, on="uid", how="left")
    out["duration_minutes"] = out["duration_minutes"].astype(float).round(1)
    cols = ["uid", "name", "show", "creator", "created", "duration_minutes", LIVE, ON_DEMAND,
            "minutes"]
    return out[cols].reset_index(drop=True)


def _viewing(wh: Warehouse, start: date, end: date, by_country: bool = False) -> pd.DataFrame:
    return readmodel.viewing(wh, start, end, by_country=by_country)


def _input_names(wh: Warehouse) -> dict[str, str]:
    """Live input uid -> its name (every input ever listed)."""
    inputs = readmodel.live_inputs(wh, history=True)
    return {u: n for u, n in zip(inputs["uid"], inputs["name"], strict=True) if n}


def _by_mode(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Long (keys, mode, minutes) to wide (keys, live, on demand, minutes, share), largest
    first, ties broken by the keys."""
    if not len(df):
        return pd.DataFrame(columns=[*keys, LIVE, ON_DEMAND, "minutes", "share"])
    wide = df.pivot_table(index=keys, columns="mode", values="minutes", aggfunc="sum",
                          fill_value=0.0, dropna=False)
    wide = wide.reindex(columns=[LIVE, ON_DEMAND], fill_value=0.0).astype(float)
    wide.columns.name = None
    wide["minutes"] = wide[LIVE] + wide[ON_DEMAND]
    total = wide["minutes"].sum()
    wide["share"] = wide["minutes"] / total if total else 0.0
    wide = wide[wide["minutes"] > 0].reset_index()
    return wide.sort_values(["minutes", *keys], ascending=[False] + [True] * len(keys),
                            ignore_index=True)


# -- how recordings are watched as they age --------------------------------------------------

def minutes_by_age(wh: Warehouse, as_of: date, max_age: int = DEFAULT_MAX_AGE) -> pd.DataFrame:
    """The decay curve: minutes viewed per live recording by its age in days (0 = the show's
    own day, i.e. live), over all the warehouse's history through `as_of`.

    Columns: age_days, recordings (how many could be observed at that age: the day
    created + age falls between the first synced day of viewing data and as_of), minutes
    (their total), mean, p50, p90 (per recording, zeros included), share (mean / mean at
    age 0).

    >>> minutes_by_age(wh, date(2026, 6, 30), max_age=30)              # doctest: +SKIP
    """
    recs, views, first = _recordings_by_age(wh, as_of, max_age)
    ages = np.arange(max_age + 1)
    cols = ["age_days", "recordings", "minutes", "mean", "p50", "p90", "share"]
    if first is None or pd.isna(first) or not len(recs):
        return pd.DataFrame({c: ages if c == "age_days" else 0 for c in cols})
    grid = np.zeros((len(recs), len(ages)))
    row = pd.Series(np.arange(len(recs)), index=recs["uid"])
    if len(views):
        grid[row[views["uid"]].to_numpy(), views["age_days"].to_numpy(dtype=int)] = \
            views["minutes"].to_numpy(dtype=float)
    created = pd.to_datetime(recs["created"]).to_numpy(dtype="datetime64[D]")
    day = created[:, None] + ages[None, :].astype("timedelta64[D]")
    seen = (day >= np.datetime64(pd.Timestamp(first).date(), "D")) & \
        (day <= np.datetime64(as_of, "D"))
    masked = np.where(seen, grid, np.nan)
    n = seen.sum(axis=0)
    with np.errstate(all="ignore"):
        mean = np.where(n > 0, np.nansum(masked, axis=0) / np.maximum(n, 1), np.nan)
        p50 = _nanpercentile(masked, 50, n)
        p90 = _nanpercentile(masked, 90, n)
    out = pd.DataFrame({"age_days": ages, "recordings": n.astype(int),
                        "minutes": np.nansum(masked, axis=0), "mean": mean, "p50": p50,
                        "p90": p90})
    out["share"] = out["mean"] / out["mean"].iloc[0] if out["mean"].iloc[0] else np.nan
    return out


def _recordings_by_age(wh: Warehouse, as_of: date, max_age: int,
                       ) -> tuple[pd.DataFrame, pd.DataFrame, Any]:
    """The ready live recordings created by `as_of` (uid, created day, by uid), their minutes
    per age 0..max_age through `as_of` (uid, age_days, minutes) and the first viewed day."""
    viewed = readmodel.viewing(wh, None, as_of)
    first = viewed["date"].min() if len(viewed) else None
    vids = readmodel.videos(wh, history=True)
    created = pd.to_datetime(vids["created"], utc=True).dt.date
    keep = vids["live_input_uid"].notna() & (vids["state"] == "ready") & (created <= as_of)
    recs = pd.DataFrame({"uid": vids.loc[keep, "uid"], "created": created[keep]}).sort_values(
        "uid", ignore_index=True)
    v = viewed[viewed["uid"].isin(recs["uid"]) & (viewed["kind"] == "recording")]
    v = v[(v["age_days"] >= 0) & (v["age_days"] <= max_age)]
    views = v.groupby(["uid", "age_days"], as_index=False)["minutes"].sum()
    return recs, views, first


def _nanpercentile(masked: np.ndarray, q: float, n: np.ndarray) -> np.ndarray:
    out = np.full(masked.shape[1], np.nan)
    cols = n > 0
    if cols.any():
        out[cols] = np.nanpercentile(masked[:, cols], q, axis=0)
    return out


def on_demand_percentiles(curve: pd.DataFrame, qs: tuple[float, ...] = (0.5, 0.9),
                          ) -> dict[str, int | None]:
    """The age (days) by which a share of a recording's on-demand minutes is watched.

    Read from the mean curve of `minutes_by_age` from age 1 on (age 0 is live), so it covers
    the minutes watched within the curve's `max_age` days. Keys 'p50', 'p90'; None when
    there is no on-demand viewing.

    >>> on_demand_percentiles(minutes_by_age(wh, date(2026, 6, 30)))   # doctest: +SKIP
    {'p50': 21, 'p90': 52}
    """
    od = curve[curve["age_days"] >= 1].fillna({"mean": 0.0})
    total = float(od["mean"].sum())
    out: dict[str, int | None] = {}
    for q in qs:
        key = f"p{round(q * 100):d}"
        if total <= 0:
            out[key] = None
            continue
        cum = od["mean"].cumsum().to_numpy() / total
        out[key] = int(od["age_days"].to_numpy()[np.searchsorted(cum, q - 1e-12)])
    return out


def on_demand_within(curve: pd.DataFrame, days: tuple[int, ...] = (7, 30),
                     ) -> dict[str, float | None]:
    """The share of on-demand minutes (ages 1 .. the curve's max_age) watched within `days`.

    What a retention of that many days would have kept. Keys 'within_7d', 'within_30d'.

    >>> on_demand_within(minutes_by_age(wh, date(2026, 6, 30)))        # doctest: +SKIP
    {'within_7d': 0.43, 'within_30d': 0.68}
    """
    od = curve[curve["age_days"] >= 1].fillna({"mean": 0.0})
    total = float(od["mean"].sum())
    return {f"within_{d}d": round(float(od.loc[od["age_days"] <= d, "mean"].sum()) / total, 4)
            if total > 0 else None for d in days}


def viewers_headline(wh: Warehouse, period: Period, show_uid: str | None = None,
                     max_age: int = DEFAULT_MAX_AGE) -> dict[str, Any]:
    """The viewers report's headline numbers (what its summary.json holds).

    >>> viewers_headline(wh, resolve_period(wh))["minutes_viewed"]     # doctest: +SKIP
    """
    daily = minutes_by_day(wh, period.start, period.end)
    countries = minutes_by_country(wh, period.start, period.end)
    broadcasters = minutes_by_broadcaster(wh, period.start, period.end)
    shows = minutes_by_show(wh, period.start, period.end)
    curve = minutes_by_age(wh, period.as_of, max_age)
    pct, within = on_demand_percentiles(curve), on_demand_within(curve)
    show = show_summary(wh, show_uid, period.as_of).headline
    live = float(daily.loc[daily["mode"] == LIVE, "minutes"].sum())
    on_demand = float(daily.loc[daily["mode"] == ON_DEMAND, "minutes"].sum())
    total = live + on_demand
    return {
        **period.as_dict(),
        "minutes_viewed": total,
        "live_minutes": live,
        "on_demand_minutes": on_demand,
        "live_share": round(live / total, 4) if total else None,
        "countries": int(len(countries)),
        "top_country": None if countries.empty else str(countries["country"].iloc[0]),
        "top_country_share": None if countries.empty else round(float(
            countries["share"].iloc[0]), 4),
        "broadcasters": int(len(broadcasters)),
        "top_broadcaster": None if broadcasters.empty else str(broadcasters["creator"].iloc[0]),
        "shows": int(len(shows)),
        "top_show": None if shows.empty else str(shows["show"].iloc[0]),
        "decay_max_age_days": max_age,
        "live_day_minutes_per_recording": round(float(curve["mean"].iloc[0]), 2),
        "on_demand_days_p50": pct["p50"],
        "on_demand_days_p90": pct["p90"],
        "on_demand_share_7d": within["within_7d"],
        "on_demand_share_30d": within["within_30d"],
        "show_uid": show["uid"],
        "show_live_minutes": show["live_minutes"],
        "show_on_demand_minutes": show["on_demand_minutes"],
    }
