"""The post-show summary of one live recording: its live and on-demand minutes, countries,
and how it compares with the same live input's previous shows (read from the read model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from .. import readmodel
from ..errors import ReportError
from ..readmodel import LIVE, ON_DEMAND
from ..warehouse import Warehouse

__all__ = ["ShowSummary", "latest_recording", "show_summary"]


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


def _recordings(wh: Warehouse) -> pd.DataFrame:
    """Every ready live recording ever listed, with its created day and show name."""
    vids = readmodel.videos(wh, history=True)
    vids = vids[vids["live_input_uid"].notna() & (vids["state"] == "ready")].copy()
    inputs = readmodel.live_inputs(wh, history=True)
    names = {u: n for u, n in zip(inputs["uid"], inputs["name"], strict=True) if n}
    vids["show"] = [names.get(li) or li for li in vids["live_input_uid"]]
    vids["day"] = pd.to_datetime(vids["created"], utc=True).dt.date
    return vids


def latest_recording(wh: Warehouse, as_of: date) -> str | None:
    """The uid of the last live recording created on or before `as_of` (ready ones only).

    >>> latest_recording(wh, date(2026, 6, 30))                        # doctest: +SKIP
    '5c1e...'
    """
    recs = _recordings(wh)
    recs = recs[recs["day"] <= as_of].sort_values(["created", "uid"], ascending=[False, True])
    return None if recs.empty else str(recs["uid"].iloc[0])


def show_summary(wh: Warehouse, show_uid: str | None, as_of: date,
                 previous: int = 10) -> ShowSummary:
    """The post-show summary of recording `show_uid` (None: `latest_recording`) as of `as_of`.

    Headline: uid, name, show, live_input_uid, creator, started_at, duration_minutes,
    live_minutes (viewed while the show ran: a show past midnight UTC counts its minutes
    after it too, from the per-minute rows when synced), on_demand_minutes (the rest, through
    as_of), total_minutes, average_live_viewers (live minutes / duration: the mean
    concurrent audience if everyone watched live), countries, top_country,
    previous_median_live_minutes (of the same live input's last `previous` recordings) and
    vs_previous_median (ratio, None without previous shows).

    >>> show_summary(wh, None, date(2026, 6, 30)).headline["live_minutes"]  # doctest: +SKIP
    """
    uid = show_uid or latest_recording(wh, as_of)
    if uid is None:
        raise ReportError("no live recording in the warehouse yet: nothing to summarise")
    m = _video(wh, uid)
    day = m["day"]
    views = readmodel.viewing(wh, day, as_of, by_country=True)
    views = views.loc[views["uid"] == uid, ["date", "uid", "country", "minutes"]]
    daily = _by_span(wh, m, views)
    if len(daily):
        daily["age_days"] = [(d - day).days for d in daily["date"]]
    else:
        daily = pd.DataFrame(columns=["date", "mode", "minutes", "age_days"])
    countries = views.groupby("country", as_index=False)["minutes"].sum().sort_values(
        ["minutes", "country"], ascending=[False, True], ignore_index=True)
    prev = _previous_shows(wh, m, previous)
    return ShowSummary(_headline(m, daily, countries, prev, as_of), daily, countries, prev)


def _by_span(wh: Warehouse, m: pd.Series, views: pd.DataFrame) -> pd.DataFrame:
    """The recording's minutes per date and mode: live while its show ran (created ..
    created + duration: past midnight UTC too, from the per-minute rows when synced), on
    demand after (`readmodel.show_split`, as the post-show report counts a show)."""
    li = m["live_input_uid"]
    if li is None or pd.isna(li):  # not a live recording: its first day stands for its show
        views = views.assign(mode=np.where(views["date"] == m["day"], LIVE, ON_DEMAND))
        return views.groupby(["date", "mode"], as_index=False)["minutes"].sum()
    end = readmodel.recording_ends(wh, [m["uid"]])[m["uid"]]
    last = pd.Timestamp(end) - pd.Timedelta(microseconds=1)  # its end minute is on demand
    live, od = readmodel.show_split(wh, li, m["uid"], m["day"], m["created"], last, views)
    live = live.groupby("date", as_index=False)["minutes"].sum().assign(mode=LIVE)
    both = pd.concat([live, od.assign(mode=ON_DEMAND)], ignore_index=True)
    return both[["date", "mode", "minutes"]].sort_values(["date", "mode"], ignore_index=True)


def _video(wh: Warehouse, uid: str) -> pd.Series:
    """The video's uid, name, live_input_uid, show, creator, created, day, duration_minutes."""
    vids = readmodel.videos(wh, history=True)
    vids = vids[vids["uid"] == uid]
    if vids.empty:
        raise ReportError(f"show_uid {uid!r} is not a video in the warehouse", show_uid=uid)
    m = vids.iloc[0].copy()
    inputs = readmodel.live_inputs(wh, history=True)
    names = {u: n for u, n in zip(inputs["uid"], inputs["name"], strict=True) if n}
    li = m["live_input_uid"]
    m["show"] = None if li is None or pd.isna(li) else (names.get(li) or li)
    m["day"] = pd.Timestamp(m["created"]).date()
    duration = m["duration_seconds"]
    m["duration_minutes"] = 0.0 if duration is None or pd.isna(duration) else duration / 60
    return m


def _previous_shows(wh: Warehouse, m: pd.Series, n: int) -> pd.DataFrame:
    """The same live input's last `n` ready recordings before `m`: uid, name, created,
    live_minutes (viewed while each show ran, from the per-minute rows when synced, as
    `show_summary` counts `m`; else on its own UTC day)."""
    recs = _recordings(wh)
    recs = recs[(recs["live_input_uid"] == m["live_input_uid"])
                & (recs["created"] < m["created"])]
    recs = recs.sort_values("created", ascending=False).head(n)
    viewed = readmodel.viewing(wh)
    live = viewed[viewed["uid"].isin(recs["uid"]) & (viewed["age_days"] == 0)]
    minutes = live.groupby("uid")["minutes"].sum()
    per = readmodel.live_minutes(wh, m["live_input_uid"]) if len(recs) else None
    if per is not None and len(per):
        ends = readmodel.recording_ends(wh, recs["uid"].tolist())
        per = per[per["uid"].isin(recs["uid"])]
        per = per[per["minute"] < pd.to_datetime(per["uid"].map(ends), utc=True)]
        minutes = per.groupby("uid")["minutes_viewed"].sum().astype(float).combine_first(
            minutes)
    return pd.DataFrame({"uid": recs["uid"], "name": recs["name"], "created": recs["created"],
                         "live_minutes": [float(minutes.get(u, 0.0)) for u in recs["uid"]]},
                        ).reset_index(drop=True)


def _headline(m: pd.Series, daily: pd.DataFrame, countries: pd.DataFrame,
              prev: pd.DataFrame, as_of: date) -> dict[str, Any]:
    live = float(daily.loc[daily["mode"] == LIVE, "minutes"].sum())
    on_demand = float(daily.loc[daily["mode"] == ON_DEMAND, "minutes"].sum())
    duration = float(m["duration_minutes"])
    median = float(prev["live_minutes"].median()) if len(prev) else None
    return {
        "uid": m["uid"], "name": m["name"], "show": m["show"],
        "live_input_uid": m["live_input_uid"], "creator": m["creator"],
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
