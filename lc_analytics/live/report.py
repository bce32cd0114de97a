"""The post-show report's figures (notebooks/show.ipynb) and the sessions view across shows.

`show_report(wh, live_input_uid, day)`: the broadcast of that input on that UTC day (the
longest, if it went live more than once): its timeline of connects, drops and errors, the
sampled concurrent viewers (peak, average, time to peak) beside the minutes viewed in each
minute (GraphQL `datetime`, when synced), live minutes by country (from those per-minute
rows when the sync has them for the show, else the daily rows of the show's day), the
on-demand minutes of its recording since, and what it cost: the engine's allocation rows of
its recording (Stream delivery and storage) and of the input's own live playback on the day,
over every month from the show to `as_of`, and per viewer-minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from .. import readmodel
from ..costs.allocate import allocate_month
from ..costs.engine import month_bounds
from ..errors import NotSyncedError, UsageError
from ..money import format_usd
from ..warehouse import Warehouse

__all__ = ["ShowReport", "busiest_show", "errors_by_code", "sessions_overview", "show_report",
           "show_run"]


@dataclass
class ShowReport:
    """One broadcast: headline numbers and the tables behind the report's charts."""

    headline: dict[str, Any]
    timeline: pd.DataFrame  # at, event_type, error_code, error_message, minute (from start)
    viewers: pd.DataFrame  # at, viewers (NaN: a gap), status, minute
    countries: pd.DataFrame  # country, minutes (live, on the show's day)
    on_demand: pd.DataFrame  # date, minutes (the recording after the show's day, not the show)
    cost: pd.DataFrame  # sku_id, service, cost (Decimal)
    per_minute: pd.DataFrame  # minute, viewers (sampled mean), samples, minutes_viewed, offset


def _session(wh: Warehouse, live_input_uid: str, day: date,
             start: str | None = None) -> pd.Series:
    """The input's broadcast on `day`: the one that started at `start` (UTC "HH:MM",
    "HH:MM:SS" or a full timestamp) when given, else the longest."""
    s = readmodel.live_sessions(wh)
    mine = s[(s["live_input_uid"] == live_input_uid) & (s["start"].dt.date == day)]
    if mine.empty:
        known = s.loc[s["start"].dt.date == day, "live_input_uid"].unique().tolist()
        raise UsageError(f"no broadcast of live input {live_input_uid} on {day} in the "
                         f"warehouse (inputs live that day: {', '.join(known) or 'none'}); "
                         "sync after the show, with the receiver running")
    if start is not None:
        lo, width = _start_window(start, day)
        hit = mine[(mine["start"] >= lo) & (mine["start"] < lo + width)]
        if hit.empty:
            starts = ", ".join(f"{t:%H:%M:%S}" for t in mine["start"])
            raise UsageError(f"--start {start}: no broadcast of live input {live_input_uid} "
                             f"started then on {day} (its broadcasts that day started at "
                             f"{starts} UTC)")
        mine = hit
    return mine.loc[mine["duration_seconds"].fillna(0).idxmax()]


def _start_window(start: str, day: date) -> tuple[pd.Timestamp, pd.Timedelta]:
    """A session start as given and the precision it was given to.

    >>> _start_window("19:04", date(2026, 6, 30))
    (Timestamp('2026-06-30 19:04:00+0000', tz='UTC'), Timedelta('0 days 00:01:00'))
    """
    text = str(start).strip()
    try:
        at = pd.Timestamp(text) if "T" in text or "-" in text \
            else pd.Timestamp(f"{day.isoformat()}T{text}")
    except ValueError:
        raise UsageError(f"--start must be a UTC time HH:MM[:SS] or a timestamp "
                         f"(got {start!r})") from None
    at = at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
    clock = text.split("T")[-1]
    if "." in clock:
        return at, pd.Timedelta(microseconds=1)
    return at, pd.Timedelta(seconds=1) if clock.count(":") >= 2 else pd.Timedelta(minutes=1)


def _broadcast(wh: Warehouse, live_input_uid: str | None, day: date | str | None,
               as_of: date | str | None, start: str | None,
               ) -> tuple[date, date, str, Any]:
    """(as_of, day, input, session) a post-show report is about: the input's broadcast of
    `day` (the one at `start`, else its longest), or the day's busiest; session None when
    there was no broadcast that day."""
    as_of = date.fromisoformat(str(as_of)) if as_of else readmodel.synced_through(wh)
    if as_of is None:
        raise NotSyncedError("nothing synced yet: run `lc-analytics sync` first")
    day = date.fromisoformat(str(day)) if day else as_of
    if live_input_uid is None:
        pick = busiest_show(wh, day)
        if pick is None:
            return as_of, day, "", None
        live_input_uid = pick[0]
    return as_of, day, live_input_uid, _session(wh, live_input_uid, day, start)


def show_run(wh: Warehouse, live_input_uid: str | None = None, day: date | str | None = None,
             start: str | None = None, as_of: date | str | None = None,
             ) -> tuple[dict[str, str], str | None]:
    """The post-show report's notebook parameters and its folder key, for one broadcast:
    `live_input`, `date` and `start` (the session's exact start, so the notebook reports that
    one), and the key `<live input>-<start, YYYYMMDDTHHMMSSZ>` that names its folder: unique
    per broadcast (two shows of an input on one day included), the same on every run. Without
    an input, the busiest broadcast of `day`; (the given parameters, None) if there was none.

    >>> show_run(wh, "f6e8...", "2026-06-30")[1]     # doctest: +SKIP
    'f6e8...-20260630T190012Z'
    """
    as_of, day, live_input_uid, s = _broadcast(wh, live_input_uid, day, as_of, start)
    if s is None:
        return {"date": day.isoformat()}, None
    at = s["start"]
    return ({"live_input": live_input_uid, "date": day.isoformat(), "start": at.isoformat()},
            f"{live_input_uid}-{at:%Y%m%dT%H%M%SZ}")


def show_report(wh: Warehouse, live_input_uid: str | None = None, day: date | str | None = None,
                as_of: date | str | None = None, *, priced: bool = True,
                start: str | None = None) -> ShowReport:
    """The post-show report of `live_input_uid`'s broadcast on `day`, as of `as_of` (default:
    the last fully synced day): the one that started at `start` (UTC "HH:MM[:SS]" or a
    timestamp), else its longest that day. Without an input: the busiest broadcast of `day`
    (default: `as_of`); an empty report when there was none. `priced=False` skips the cost
    (the engine allocates whole months: the slow part).

    >>> show_report(wh, "f6e8...", "2026-06-30").headline["peak_viewers"]  # doctest: +SKIP
    """
    as_of, day, live_input_uid, s = _broadcast(wh, live_input_uid, day, as_of, start)
    if s is None:
        return _empty(day, as_of)
    end = s["end"] if not pd.isna(s["end"]) else pd.Timestamp.max.tz_localize("UTC")
    ev = readmodel.live_events(wh, live_input_uid)
    timeline = ev[(ev["at"] >= s["start"]) & (ev["at"] <= end)
                  & ev["event_type"].str.startswith("live_input.")].reset_index(drop=True)
    timeline["minute"] = (timeline["at"] - s["start"]).dt.total_seconds() / 60
    samples = readmodel.viewer_samples(wh, live_input_uid)
    samples = samples[(samples["at"] >= s["start"]) & (samples["at"] <= end)].reset_index(
        drop=True)
    samples["minute"] = (samples["at"] - s["start"]).dt.total_seconds() / 60
    uids = [u for u in (s["recording_uid"], live_input_uid) if isinstance(u, str)]
    views = readmodel.viewing(wh, day, as_of, by_country=True)
    views = views[views["uid"].isin(uids)]
    last = s["end"] if not pd.isna(s["end"]) else samples["at"].max()  # still live: so far
    per_minute, countries, on_demand = _per_minute(wh, s, live_input_uid, last, views, day)
    cost = _cost(wh, uids, day, as_of) if priced else _empty(day, as_of).cost
    head = _headline(s, live_input_uid, countries, on_demand, cost, as_of)
    head["live_minutes_from"] = "per-minute" if per_minute["minutes_viewed"].notna().any() \
        else "daily"
    return ShowReport(head, timeline, samples, countries, on_demand, cost, per_minute)


def _per_minute(wh: Warehouse, s: pd.Series, uid: str, last: pd.Timestamp,
                views: pd.DataFrame, day: date) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The show's minutes up to `last` (sampled viewers beside minutes viewed), its live
    minutes by country and its recording's on-demand minutes per day after (`views`: the
    daily rows of its uids from `day`), split by the show's span (`readmodel.show_split`)."""
    if pd.isna(last):
        last = s["start"]
    per_minute = readmodel.minutes_beside_samples(wh, uid, s["start"], last)
    per_minute["offset"] = (per_minute["minute"] - s["start"].floor("min")).dt.total_seconds() \
        / 60
    rec = s["recording_uid"] if isinstance(s["recording_uid"], str) else None
    live, on_demand = readmodel.show_split(wh, uid, rec, day, s["start"], last, views)
    countries = live.groupby("country", as_index=False)["minutes"].sum().sort_values(
        ["minutes", "country"], ascending=[False, True], ignore_index=True)
    return per_minute, countries, on_demand


def _empty(day: date, as_of: date) -> ShowReport:
    """The report of a day without any received broadcast."""
    head = {"live_input_uid": None, "start": None, "day": day.isoformat(), "peak_viewers": None,
            "live_minutes": 0.0, "cost_usd": format_usd(Decimal(0)), "as_of": as_of.isoformat()}
    return ShowReport(
        head, pd.DataFrame(columns=["at", "event_type", "error_code", "error_message", "minute"]),
        pd.DataFrame(columns=["at", "viewers", "status", "minute"]),
        pd.DataFrame(columns=["country", "minutes"]), pd.DataFrame(columns=["date", "minutes"]),
        pd.DataFrame(columns=["sku_id", "service", "cost"]),
        pd.DataFrame(columns=["minute", "viewers", "samples", "minutes_viewed", "offset"]))


def _cost(wh: Warehouse, uids: list[str], day: date, as_of: date) -> pd.DataFrame:
    """The engine's allocation rows of the recording (and the input's own playback on the
    show's day), every month from the show's to as_of's, summed per SKU."""
    rows = []
    first, _ = month_bounds(day)
    while first <= as_of:
        alloc = allocate_month(wh, first, through=as_of + timedelta(days=1)).rows
        mine = alloc[alloc["resource_id"].isin(uids)]
        rows.append(mine[["sku_id", "service", "cost"]])
        first = month_bounds(first)[1]
    if not rows:
        return pd.DataFrame({"sku_id": [], "service": [], "cost": []})
    df = pd.concat(rows, ignore_index=True)
    return df.groupby(["sku_id", "service"], as_index=False)["cost"].agg(
        lambda c: sum(c, Decimal(0)))


def _headline(s: pd.Series, uid: str, countries: pd.DataFrame, on_demand: pd.DataFrame,
              cost: pd.DataFrame, as_of: date) -> dict[str, Any]:
    live_minutes = float(countries["minutes"].sum())
    od = float(on_demand["minutes"].sum())
    total = sum(cost["cost"], Decimal(0))
    watched = Decimal(str(live_minutes + od))
    per = (total / watched) if watched else None
    ttp = s["time_to_peak_seconds"]
    return {
        "live_input_uid": uid, "start": s["start"].isoformat(),
        "end": None if pd.isna(s["end"]) else s["end"].isoformat(),
        "duration_minutes": None if pd.isna(s["duration_seconds"])
        else round(s["duration_seconds"] / 60, 1),
        "reconnects": int(s["reconnects"]), "errors": s["errors"] or "",
        "recording_uid": s["recording_uid"] if isinstance(s["recording_uid"], str) else None,
        "peak_viewers": None if pd.isna(s["peak_viewers"]) else int(s["peak_viewers"]),
        "avg_viewers": None if pd.isna(s["avg_viewers"]) else round(float(s["avg_viewers"]), 1),
        "time_to_peak_minutes": None if pd.isna(ttp) else round(ttp / 60, 1),
        "samples": int(s["samples"]), "gaps": int(s["gaps"]), "hidden": int(s["hidden"]),
        "live_minutes": live_minutes, "on_demand_minutes": od,
        "top_country": countries["country"].iloc[0] if len(countries) else None,
        "cost": str(total), "cost_usd": format_usd(total),
        "cost_per_viewer_minute": None if per is None else str(per),
        "as_of": as_of.isoformat(),
    }


def sessions_overview(wh: Warehouse, first: date, last: date) -> pd.DataFrame:
    """Every broadcast that started in [first, last]: input, start, duration (minutes), peak
    viewers, drops (reconnects), errors."""
    s = readmodel.live_sessions(wh)
    days = s["start"].dt.date
    s = s[(days >= first) & (days <= last)]
    return pd.DataFrame({
        "live_input_uid": s["live_input_uid"], "start": s["start"],
        "duration_minutes": (s["duration_seconds"] / 60).round(1),
        "peak_viewers": s["peak_viewers"], "drops": s["reconnects"], "errors": s["errors"],
    }).reset_index(drop=True)


def errors_by_code(wh: Warehouse, first: date, last: date) -> pd.DataFrame:
    """Live-input errors per code in [first, last]: error_code, errors, inputs."""
    ev = readmodel.live_events(wh)
    ev = ev[(ev["event_type"] == "live_input.errored") & (ev["at"].dt.date >= first)
            & (ev["at"].dt.date <= last)]
    return ev.groupby("error_code", as_index=False).agg(
        errors=("at", "size"), inputs=("live_input_uid", "nunique")).sort_values(
        ["errors", "error_code"], ascending=[False, True], ignore_index=True)


def busiest_show(wh: Warehouse, day: date) -> tuple[str, date] | None:
    """(live input, day) of the broadcast with the most live minutes that started on `day`
    (by peak viewers when nothing was sampled), or None."""
    s = readmodel.live_sessions(wh)
    s = s[s["start"].dt.date == day]
    if s.empty:
        return None
    live = readmodel.viewing(wh, day, day)
    minutes = live[live["age_days"] == 0].groupby("live_input_uid")["minutes"].sum()
    score = s["live_input_uid"].map(minutes).fillna(0) * 1e6 + s["peak_viewers"].fillna(0)
    return str(s.loc[score.idxmax(), "live_input_uid"]), day
