"""The queries and DataFrame shaping behind the viewers and bandwidth notebooks.

Every function reads the warehouse through `Warehouse.query` (a read-only connection opened
and closed per query), takes plain dates, and returns a DataFrame or a dict that a notebook
plots or publishes as it is. Periods are inclusive: `start` and `end` are both reported.

Live or on demand: a minute is *live* when it is a minute of a live recording (a video with
a live input) viewed on the recording's own UTC creation date, or a minute attributed to a
live input itself (its recording is off, so no video exists); every other minute, product
clips included, is *on demand*. A video deleted before the warehouse first listed it has no
known creation date: the first day it was viewed stands in for it (unless that is the first
day of the synced history, when the show may have been earlier).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from ..costs.comparison import RENDITION_MBPS, egress_bytes, rendition_shares
from ..costs.pricebook import PriceBook, load_book
from ..costs.r2_classes import op_class
from ..warehouse import Warehouse
from .errors import ReportError

LIVE, ON_DEMAND = "live", "on demand"
DEFAULT_DAYS = 30  # the default period: the 30 days ending with as_of
DEFAULT_MAX_AGE = 60  # the decay curve's last age, in days
LISTING_SKU = "cf-r2-standard-class-a"  # ListObjectsV2 / ListBuckets are Class A operations
GB = 10**9  # decimal gigabyte, as Cloudflare and the rendition estimate use it

DateLike = date | str | None

# Minutes viewed in [start, end], each row classified live / on demand and tied to its show.
# A uid that is neither a listed video nor a live input was deleted before the first listing:
# its first day of viewing stands in for its creation day, unless that is the history's first.
_VIEWING = f"""
WITH history AS (SELECT min(date) AS first FROM minutes_viewed_daily),
unlisted AS (
    SELECT uid, min(date) AS first FROM minutes_viewed_daily
    WHERE uid NOT IN (SELECT uid FROM videos) AND uid NOT IN (SELECT uid FROM live_inputs)
    GROUP BY uid
),
viewing AS (
    SELECT m.date, m.uid, m.country, m.creator, m.minutes_viewed AS minutes,
           coalesce(v.live_input_uid, li.uid) AS live_input_uid,
           CASE WHEN li.uid IS NOT NULL THEN '{LIVE}'
                WHEN v.uid IS NOT NULL AND v.live_input_uid IS NOT NULL
                     AND m.date = CAST(v.created AS DATE) THEN '{LIVE}'
                WHEN u.uid IS NOT NULL AND m.date = u.first AND u.first > h.first
                THEN '{LIVE}'
                ELSE '{ON_DEMAND}' END AS mode
    FROM minutes_viewed_daily m
    LEFT JOIN videos v ON v.uid = m.uid
    LEFT JOIN live_inputs li ON li.uid = m.uid AND v.uid IS NULL
    LEFT JOIN unlisted u ON u.uid = m.uid
    CROSS JOIN history h
    WHERE m.date BETWEEN $start AND $end
)
"""


# -- periods ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    """The days a report covers (inclusive) and the day it is as of.

    >>> p = Period(date(2026, 6, 1), date(2026, 6, 30), date(2026, 6, 30)); p.days
    30
    """

    start: date
    end: date
    as_of: date

    @property
    def days(self) -> int:
        """Number of days in the period."""
        return (self.end - self.start).days + 1

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d} .. {self.end:%Y-%m-%d} ({self.days} days, as of " \
               f"{self.as_of:%Y-%m-%d})"

    def as_dict(self) -> dict[str, str]:
        """ISO dates, for a summary."""
        return {"period_start": self.start.isoformat(), "period_end": self.end.isoformat(),
                "as_of": self.as_of.isoformat()}


def to_date(value: DateLike) -> date | None:
    """A date from a date, a datetime or an ISO string (None stays None).

    >>> to_date("2026-06-30"), to_date(None)
    (datetime.date(2026, 6, 30), None)
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ReportError(f"not a date (YYYY-MM-DD): {value!r}") from None


def data_through(wh: Warehouse) -> date:
    """The last complete day of viewing data: the minutes-viewed watermark, else the last day
    with minutes, else yesterday (UTC).

    >>> data_through(Warehouse("data/demo.duckdb", read_only=True))   # doctest: +SKIP
    datetime.date(2026, 6, 30)
    """
    mark = wh.get_watermark("minutes_viewed")
    if mark is not None:
        return mark
    last = wh.query("SELECT max(date) AS d FROM minutes_viewed_daily")["d"].iloc[0]
    if last is not None and not pd.isna(last):
        return pd.Timestamp(last).date()
    return datetime.now(UTC).date() - timedelta(days=1)


def resolve_period(wh: Warehouse, period_start: DateLike = None, period_end: DateLike = None,
                   as_of: DateLike = None, *, days: int = DEFAULT_DAYS) -> Period:
    """The report's period from the notebook parameters (each may be None).

    as_of defaults to `data_through(wh)`, clipped to period_end when one is given; the
    period ends at period_end (never after as_of) and starts `days` - 1 days earlier unless
    period_start is given.

    >>> resolve_period(wh, None, None, "2026-06-30")                 # doctest: +SKIP
    Period(start=datetime.date(2026, 6, 1), end=datetime.date(2026, 6, 30), ...)
    """
    start, end, when = to_date(period_start), to_date(period_end), to_date(as_of)
    if when is None:
        when = data_through(wh)
        if end is not None:
            when = min(when, end)
    end = when if end is None else min(end, when)
    if start is None:
        start = end - timedelta(days=days - 1)
    if start > end:
        raise ReportError(f"the period starts after it ends: {start} > {end} (as of {when})")
    return Period(start, end, when)


def _q(wh: Warehouse, sql: str, start: date, end: date, **params: Any) -> pd.DataFrame:
    return wh.query(_VIEWING + sql, {"start": start, "end": end, **params})


def _dates(df: pd.DataFrame, col: str = "date") -> pd.DataFrame:
    if len(df):
        df[col] = pd.to_datetime(df[col]).dt.date
    return df


# -- viewers ---------------------------------------------------------------------------------

def minutes_by_day(wh: Warehouse, start: date, end: date) -> pd.DataFrame:
    """Minutes viewed per day and mode: columns date, mode ('live' | 'on demand'), minutes.

    Every day of the period appears for both modes (0 when nothing was viewed).

    >>> minutes_by_day(wh, date(2026, 6, 1), date(2026, 6, 30))       # doctest: +SKIP
    """
    got = _q(wh, "SELECT date, mode, sum(minutes) AS minutes FROM viewing GROUP BY ALL",
             start, end)
    days = pd.date_range(start, end, freq="D").date
    grid = pd.MultiIndex.from_product([days, [LIVE, ON_DEMAND]], names=["date", "mode"])
    got = _dates(got).set_index(["date", "mode"])["minutes"]
    return got.reindex(grid, fill_value=0.0).astype(float).reset_index()


def minutes_by_country(wh: Warehouse, start: date, end: date) -> pd.DataFrame:
    """Minutes per viewer country, largest first: country, live, on demand, minutes, share.

    >>> minutes_by_country(wh, date(2026, 6, 1), date(2026, 6, 30)).head(3)  # doctest: +SKIP
    """
    df = _q(wh, "SELECT country, mode, sum(minutes) AS minutes FROM viewing GROUP BY ALL",
            start, end)
    return _by_mode(df, ["country"])


def minutes_by_broadcaster(wh: Warehouse, start: date, end: date) -> pd.DataFrame:
    """Minutes per broadcaster (creator), largest first: creator, live, on demand, minutes,
    share. An empty creator is shown as '(none)'.

    >>> minutes_by_broadcaster(wh, date(2026, 6, 1), date(2026, 6, 30))  # doctest: +SKIP
    """
    df = _q(wh, "SELECT CASE WHEN creator = '' THEN '(none)' ELSE creator END AS creator, "
                "mode, sum(minutes) AS minutes FROM viewing GROUP BY ALL", start, end)
    return _by_mode(df, ["creator"])


def minutes_by_show(wh: Warehouse, start: date, end: date) -> pd.DataFrame:
    """Minutes per show (live input), largest first: live_input_uid, show (its name), creator,
    recordings (watched in the period), live, on demand, minutes, share.

    Product clips and other uploads have no live input and are left out.

    >>> minutes_by_show(wh, date(2026, 6, 1), date(2026, 6, 30))       # doctest: +SKIP
    """
    df = _q(wh, """
        SELECT vw.live_input_uid, coalesce(li.name, vw.live_input_uid) AS show,
               any_value(vw.creator) AS creator, vw.mode,
               count(DISTINCT vw.uid) FILTER (WHERE vw.uid <> vw.live_input_uid) AS recordings,
               sum(vw.minutes) AS minutes
        FROM viewing vw LEFT JOIN live_inputs li ON li.uid = vw.live_input_uid
        WHERE vw.live_input_uid IS NOT NULL GROUP BY vw.live_input_uid, li.name, vw.mode""",
            start, end)
    recordings = df.groupby("live_input_uid")["recordings"].max()
    out = _by_mode(df, ["live_input_uid", "show", "creator"])
    out.insert(3, "recordings", out["live_input_uid"].map(recordings).fillna(0).astype(int))
    return out


def top_recordings(wh: Warehouse, start: date, end: date, n: int = 10) -> pd.DataFrame:
    """The `n` most-watched live recordings of the period: uid, name, show, creator, created,
    duration_minutes (to 0.1), live, on demand, minutes.

    >>> top_recordings(wh, date(2026, 6, 1), date(2026, 6, 30), n=5)   # doctest: +SKIP
    """
    df = _q(wh, """
        SELECT vw.uid, vw.mode, sum(vw.minutes) AS minutes
        FROM viewing vw JOIN videos v ON v.uid = vw.uid
        WHERE v.live_input_uid IS NOT NULL GROUP BY ALL""", start, end)
    wide = _by_mode(df, ["uid"]).head(n)
    meta = wh.query("""
        SELECT v.uid, v.name, coalesce(li.name, v.live_input_uid) AS show, v.creator,
               v.created, v.duration_seconds / 60 AS duration_minutes
        FROM videos v LEFT JOIN live_inputs li ON li.uid = v.live_input_uid
        WHERE v.uid IN (SELECT unnest($uids))""", {"uids": list(wide["uid"])})
    out = wide.drop(columns="share").merge(meta, on="uid", how="left")
    out["duration_minutes"] = out["duration_minutes"].astype(float).round(1)
    cols = ["uid", "name", "show", "creator", "created", "duration_minutes", LIVE, ON_DEMAND,
            "minutes"]
    return out[cols].reset_index(drop=True)


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
    first = wh.query("SELECT min(date) AS d FROM minutes_viewed_daily")["d"].iloc[0]
    recs = wh.query("""
        SELECT uid, CAST(created AS DATE) AS created FROM videos
        WHERE live_input_uid IS NOT NULL AND state = 'ready' AND CAST(created AS DATE) <= $as_of
        ORDER BY uid""", {"as_of": as_of})
    views = wh.query("""
        SELECT m.uid, datediff('day', CAST(v.created AS DATE), m.date) AS age_days,
               sum(m.minutes_viewed) AS minutes
        FROM minutes_viewed_daily m JOIN videos v ON v.uid = m.uid
        WHERE v.live_input_uid IS NOT NULL AND v.state = 'ready' AND m.date <= $as_of
          AND m.date >= CAST(v.created AS DATE)
          AND datediff('day', CAST(v.created AS DATE), m.date) <= $max_age
        GROUP BY ALL""", {"as_of": as_of, "max_age": max_age})
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


# -- post-show summary ----------------------------------------------------------------------

@dataclass
class ShowSummary:
    """One recording's post-show numbers: headline dict, minutes per day, per country, and the
    same live input's previous shows."""

    headline: dict[str, Any]
    daily: pd.DataFrame = field(repr=False)
    countries: pd.DataFrame = field(repr=False)
    previous: pd.DataFrame = field(repr=False)

    def _repr_markdown_(self) -> str:
        h = self.headline
        rows = [
            ("Show", f"{h['name']} ({h['show']})"),
            ("Broadcaster", h["creator"]),
            ("Started (UTC)", h["started_at"]),
            ("Duration", f"{h['duration_minutes']:,.0f} min"),
            ("Live minutes viewed", f"{h['live_minutes']:,.0f}"),
            ("Average live audience", f"{h['average_live_viewers']:,.1f} viewers"),
            ("On-demand minutes since", f"{h['on_demand_minutes']:,.0f} (through {h['as_of']})"),
            ("Countries", f"{h['countries']} (top: {h['top_country']})"),
            ("Live minutes vs the show's previous median",
             "n/a" if h["vs_previous_median"] is None else f"{h['vs_previous_median']:.2f}x"),
        ]
        return "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)


def latest_recording(wh: Warehouse, as_of: date) -> str | None:
    """The uid of the last live recording created on or before `as_of` (ready ones only).

    >>> latest_recording(wh, date(2026, 6, 30))                        # doctest: +SKIP
    '5c1e...'
    """
    df = wh.query("""
        SELECT uid FROM videos WHERE live_input_uid IS NOT NULL AND state = 'ready'
          AND CAST(created AS DATE) <= $as_of ORDER BY created DESC, uid LIMIT 1""",
                  {"as_of": as_of})
    return None if df.empty else str(df["uid"].iloc[0])


def show_summary(wh: Warehouse, show_uid: str | None, as_of: date,
                 previous: int = 10) -> ShowSummary:
    """The post-show summary of recording `show_uid` (None: `latest_recording`) as of `as_of`.

    Headline: uid, name, show, live_input_uid, creator, started_at, duration_minutes,
    live_minutes (viewed on the show's own UTC day), on_demand_minutes (after it, through
    as_of), total_minutes, average_live_viewers (live minutes / duration: the mean
    concurrent audience if everyone watched live), countries, top_country,
    previous_median_live_minutes (of the same live input's last `previous` recordings) and
    vs_previous_median (ratio, None without previous shows).

    >>> show_summary(wh, None, date(2026, 6, 30)).headline["live_minutes"]  # doctest: +SKIP
    """
    uid = show_uid or latest_recording(wh, as_of)
    if uid is None:
        raise ReportError("no live recording in the warehouse yet: nothing to summarise")
    meta = wh.query("""
        SELECT v.uid, v.name, v.live_input_uid, coalesce(li.name, v.live_input_uid) AS show,
               v.creator, v.created, CAST(v.created AS DATE) AS day,
               coalesce(v.duration_seconds, 0) / 60 AS duration_minutes
        FROM videos v LEFT JOIN live_inputs li ON li.uid = v.live_input_uid
        WHERE v.uid = $uid""", {"uid": uid})
    if meta.empty:
        raise ReportError(f"show_uid {uid!r} is not a video in the warehouse", show_uid=uid)
    m = meta.iloc[0]
    day = pd.Timestamp(m["day"]).date()
    views = wh.query("""
        SELECT date, country, sum(minutes_viewed) AS minutes FROM minutes_viewed_daily
        WHERE uid = $uid AND date >= $day AND date <= $as_of GROUP BY ALL""",
                     {"uid": uid, "day": day, "as_of": as_of})
    views = _dates(views)
    views["mode"] = np.where(views["date"] == day, LIVE, ON_DEMAND)
    daily = views.groupby(["date", "mode"], as_index=False)["minutes"].sum()
    if len(daily):
        daily["age_days"] = [(d - day).days for d in daily["date"]]
    else:
        daily = pd.DataFrame(columns=["date", "mode", "minutes", "age_days"])
    countries = views.groupby("country", as_index=False)["minutes"].sum().sort_values(
        ["minutes", "country"], ascending=[False, True], ignore_index=True)
    prev = wh.query("""
        SELECT v.uid, v.name, v.created, coalesce(sum(mv.minutes_viewed), 0) AS live_minutes
        FROM videos v LEFT JOIN minutes_viewed_daily mv
          ON mv.uid = v.uid AND mv.date = CAST(v.created AS DATE)
        WHERE v.live_input_uid = $li AND v.state = 'ready' AND v.created < $created
        GROUP BY ALL ORDER BY v.created DESC LIMIT $n""",
                    {"li": m["live_input_uid"], "created": m["created"], "n": previous})
    live = float(daily.loc[daily["mode"] == LIVE, "minutes"].sum())
    on_demand = float(daily.loc[daily["mode"] == ON_DEMAND, "minutes"].sum())
    duration = float(m["duration_minutes"])
    median = float(prev["live_minutes"].median()) if len(prev) else None
    headline = {
        "uid": uid, "name": m["name"], "show": m["show"], "live_input_uid": m["live_input_uid"],
        "creator": m["creator"],
        "started_at": pd.Timestamp(m["created"]).strftime("%Y-%m-%d %H:%M"),
        "duration_minutes": round(duration, 2), "live_minutes": live,
        "on_demand_minutes": on_demand, "total_minutes": live + on_demand,
        "average_live_viewers": round(live / duration, 2) if duration else 0.0,
        "countries": int(len(countries)),
        "top_country": None if countries.empty else str(countries["country"].iloc[0]),
        "previous_median_live_minutes": median,
        "vs_previous_median": round(live / median, 3) if median else None,
        "as_of": as_of.isoformat(),
    }
    return ShowSummary(headline, daily, countries, prev)


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


# -- bandwidth -------------------------------------------------------------------------------

def rendition_mix(mix: Mapping[str, float | str | Decimal] | None = None,
                  minutes: float | None = None) -> pd.DataFrame:
    """The assumed rendition mix: rendition, mbps, share, and (with `minutes`) estimated gb.

    Default (lc_analytics.costs.comparison): Cloudflare's recommended encodes 1080p 8 Mbps
    30%, 720p 4.8 Mbps 40%, 480p 2.4 Mbps 20%, 360p 1 Mbps 10%, i.e. 4.9 Mbps on average.

    >>> print(rendition_mix(minutes=1000).to_string(index=False))
    rendition  mbps  share    gb
        1080p   8.0    0.3 18.00
         720p   4.8    0.4 14.40
         480p   2.4    0.2  3.60
         360p   1.0    0.1  0.75
    """
    shares = _mix(mix)
    df = pd.DataFrame({"rendition": list(shares),
                       "mbps": [float(RENDITION_MBPS[r]) for r in shares],
                       "share": [float(s) for s in shares.values()]})
    if minutes is not None:
        m = Decimal(str(minutes))
        df["gb"] = [float(egress_bytes(m * s, RENDITION_MBPS[r]) / GB)
                    for r, s in shares.items()]
    return df


def delivered_mbps(mix: Mapping[str, float | str | Decimal] | None = None) -> Decimal:
    """The mix-weighted bitrate in Mbps.

    >>> delivered_mbps()
    Decimal('4.900')
    """
    return sum((s * RENDITION_MBPS[r] for r, s in _mix(mix).items()), Decimal(0))


def _mix(mix: Mapping[str, float | str | Decimal] | None) -> dict[str, Decimal]:
    """The validated mix (costs.comparison's rule), as a report parameter error."""
    try:
        return rendition_shares(mix)[0]
    except ValueError as exc:
        raise ReportError(f"rendition mix: {exc}") from exc


def delivery_by_day(wh: Warehouse, start: date, end: date,
                    mix: Mapping[str, float | str | Decimal] | None = None) -> pd.DataFrame:
    """Minutes delivered per day and the estimated GB at the mix's bitrate: date, minutes, gb.

    GB = minutes x 60 s x Mbps x 10^6 / 8 / 10^9 (decimal GB). Stream bills minutes, not
    bytes: the GB is an estimate, for comparing with per-GB delivery.

    >>> delivery_by_day(wh, date(2026, 6, 1), date(2026, 6, 30))       # doctest: +SKIP
    """
    mbps = delivered_mbps(mix)
    got = _dates(wh.query("SELECT date, sum(minutes_viewed) AS minutes FROM minutes_viewed_daily"
                          " WHERE date BETWEEN $s AND $e GROUP BY date",
                          {"s": start, "e": end}))
    days = pd.Index(pd.date_range(start, end, freq="D").date, name="date")
    out = got.set_index("date")["minutes"].reindex(days, fill_value=0.0).astype(float)
    out = out.reset_index()
    out["gb"] = out["minutes"] * 60 * float(mbps) * 1e6 / 8 / GB
    return out


def r2_operations(wh: Warehouse, start: date, end: date) -> pd.DataFrame:
    """R2 requests per day, bucket, action and status with the action's billing class:
    date, bucket, action_type, action_status, op_class ('A' | 'B' | 'free'), requests.

    >>> r2_operations(wh, date(2026, 6, 1), date(2026, 6, 30))         # doctest: +SKIP
    """
    df = _dates(wh.query("SELECT date, bucket, action_type, action_status, "
                         "sum(requests)::BIGINT AS requests "
                         "FROM r2_operations_daily WHERE date BETWEEN $s AND $e "
                         "GROUP BY ALL ORDER BY date, bucket, action_type, action_status",
                         {"s": start, "e": end}))
    df.insert(4, "op_class", [op_class(a) for a in df["action_type"]])
    df["requests"] = df["requests"].astype("int64")
    return df


def r2_operations_by_bucket(wh: Warehouse, start: date, end: date) -> pd.DataFrame:
    """R2 requests per bucket and billing class in the period: bucket, op_class, requests.

    >>> r2_operations_by_bucket(wh, date(2026, 6, 1), date(2026, 6, 30))  # doctest: +SKIP
    """
    ops = r2_operations(wh, start, end)
    return ops.groupby(["bucket", "op_class"], as_index=False)["requests"].sum()


def r2_operations_by_day(wh: Warehouse, start: date, end: date) -> pd.DataFrame:
    """R2 requests per day and billing class: date, op_class, requests.

    >>> r2_operations_by_day(wh, date(2026, 6, 1), date(2026, 6, 30))  # doctest: +SKIP
    """
    ops = r2_operations(wh, start, end)
    return ops.groupby(["date", "op_class"], as_index=False)["requests"].sum()


def r2_operations_by_action(wh: Warehouse, start: date, end: date) -> pd.DataFrame:
    """R2 requests per bucket, action and status in the period, with the billing class:
    bucket, action_type, action_status, op_class, requests.

    >>> r2_operations_by_action(wh, date(2026, 6, 1), date(2026, 6, 30))  # doctest: +SKIP
    """
    ops = r2_operations(wh, start, end)
    return ops.groupby(["bucket", "action_type", "action_status", "op_class"],
                       as_index=False)["requests"].sum()


def r2_storage_by_day(wh: Warehouse, start: date, end: date) -> pd.DataFrame:
    """Each bucket's peak storage per day (R2's metrics): date, bucket, gb, objects.

    >>> r2_storage_by_day(wh, date(2026, 6, 1), date(2026, 6, 30))     # doctest: +SKIP
    """
    df = _dates(wh.query("SELECT date, bucket, payload_size + metadata_size AS bytes, "
                         "object_count AS objects FROM r2_storage_daily "
                         "WHERE date BETWEEN $s AND $e ORDER BY date, bucket",
                         {"s": start, "e": end}))
    df.insert(2, "gb", df.pop("bytes").astype(float) / GB)
    return df


def r2_storage_by_class(wh: Warehouse) -> pd.DataFrame:
    """The inventory's objects still listed, per bucket and storage class: bucket,
    storage_class, objects, gb (as of the last listing; R2's daily metrics have no class).

    >>> r2_storage_by_class(wh)                                        # doctest: +SKIP
    """
    df = wh.query("""
        SELECT bucket, coalesce(storage_class, 'STANDARD') AS storage_class,
               count(*) AS objects, sum(size_bytes) AS bytes
        FROM r2_objects WHERE missing_since IS NULL GROUP BY ALL ORDER BY bucket, storage_class
    """)
    df["objects"] = df["objects"].astype("int64")
    df.insert(3, "gb", df.pop("bytes").astype(float) / GB)
    return df


def listing_price(on: date, book: PriceBook | None = None) -> Decimal:
    """Dollars per listing call: the Class A price (`cf-r2-standard-class-a`) per request.

    >>> listing_price(date(2026, 6, 30))
    Decimal('0.0000045')
    """
    sku = (book or load_book("cloudflare")).price(LISTING_SKU, on)
    return sku.amount / sku.pricing_block


def listing_calls(wh: Warehouse) -> pd.DataFrame:
    """The R2 listing calls (Class A) each sync run made: run_id, started_at, bucket, calls.

    Per bucket from `r2_listing_calls`; the run's remaining calls (`sync_runs.listing_calls`
    minus the buckets', i.e. ListBuckets) as bucket '(ListBuckets)'.

    >>> listing_calls(wh)                                              # doctest: +SKIP
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


def listing_cost(wh: Warehouse, on: date, book: PriceBook | None = None) -> dict[str, Any]:
    """What the inventory's own listing costs, at the Class A list price on `on` (before R2's
    free allowance of 1 million Class A requests a month).

    Keys: price_per_call, runs, calls_total, cost_total (all recorded runs), calls_last_run,
    cost_last_run, cost_per_month_daily (the last run's calls x 30, for a daily sync);
    money is Decimal.

    >>> listing_cost(wh, date(2026, 6, 30))["cost_last_run"]           # doctest: +SKIP
    Decimal('0.0000225')
    """
    price = listing_price(on, book)
    calls = listing_calls(wh)
    runs = calls.groupby("run_id", sort=False)["calls"].sum() if len(calls) else pd.Series(
        dtype="int64")
    last = int(runs.iloc[-1]) if len(runs) else 0
    total = int(runs.sum()) if len(runs) else 0
    return {"price_per_call": price, "runs": int(len(runs)), "calls_total": total,
            "cost_total": price * total, "calls_last_run": last, "cost_last_run": price * last,
            "cost_per_month_daily": price * last * 30}


def bandwidth_headline(wh: Warehouse, period: Period,
                       mix: Mapping[str, float | str | Decimal] | None = None,
                       ) -> dict[str, Any]:
    """The bandwidth report's headline numbers (what its summary.json holds).

    >>> bandwidth_headline(wh, resolve_period(wh))["minutes_delivered"]  # doctest: +SKIP
    """
    delivery = delivery_by_day(wh, period.start, period.end, mix)
    minutes = float(delivery["minutes"].sum())
    mbps = delivered_mbps(mix)
    ops = r2_operations_by_bucket(wh, period.start, period.end)
    by_class = ops.groupby("op_class")["requests"].sum()
    storage = r2_storage_by_day(wh, period.start, period.end)
    last_day = storage[storage["date"] == storage["date"].max()] if len(storage) else storage
    inventory = r2_storage_by_class(wh)
    listing = listing_cost(wh, period.as_of)
    return {
        **period.as_dict(),
        "minutes_delivered": minutes,
        "delivered_mbps": float(mbps),  # a rate, not money: no dollar display
        "estimated_gb": round(float(egress_bytes(Decimal(str(minutes)), mbps) / GB), 3),
        "r2_class_a_requests": int(by_class.get("A", 0)),
        "r2_class_b_requests": int(by_class.get("B", 0)),
        "r2_free_requests": int(by_class.get("free", 0)),
        "r2_storage_gb_last_day": round(float(last_day["gb"].sum()), 3),
        "r2_storage_last_day": None if last_day.empty else last_day["date"].iloc[0].isoformat(),
        "r2_ia_gb": round(float(inventory.loc[inventory["storage_class"] == "STANDARD_IA",
                                              "gb"].sum()), 3),
        "listing_calls_last_run": listing["calls_last_run"],
        "listing_cost_last_run": listing["cost_last_run"],
        "listing_cost_per_month_daily": listing["cost_per_month_daily"],
        "listing_price_per_call": listing["price_per_call"],
    }
