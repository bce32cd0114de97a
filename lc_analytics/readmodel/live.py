"""Live shows: sessions derived from the live-input events, and the sampled concurrent viewers.

A session runs from a `live_input.connected` to the `live_input.disconnected` after which
the encoder stays away longer than `REJOIN` (a drop and a reconnect within it are one show,
counted in `reconnects`); errors (`live_input.errored`) belong to the session they fall in.
Its recording is the live input's video created within the session (the recording starts
when the encoder connects), or the one a `video.ready` webhook names. Viewer samples are
polls of `/views`; a gap (a failed poll) is NULL, never a zero, and peaks ignore it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from ..warehouse import Warehouse

REJOIN = timedelta(minutes=5)
_SLACK = timedelta(minutes=1)  # a recording's `created` may trail the connect a little
SESSION_COLUMNS = ["live_input_uid", "start", "end", "duration_seconds", "reconnects",
                   "errors", "error_count", "recording_uid"]


def live_events(wh: Warehouse, live_input_uid: str | None = None) -> pd.DataFrame:
    """Every live-input event and recording webhook, oldest first.

    >>> live_events(Warehouse("data/demo.duckdb", read_only=True))    # doctest: +SKIP
    """
    where, params = ("WHERE live_input_uid = ?", [live_input_uid]) if live_input_uid else ("", [])
    df = wh.query("SELECT live_input_uid, event_at AS \"at\", event_type, error_code, "
                  f"error_message, video_uid, source FROM live_input_events {where} "
                  "ORDER BY live_input_uid, event_at, event_type", params)
    df["at"] = pd.to_datetime(df["at"], utc=True)
    return df


def viewer_samples(wh: Warehouse, live_input_uid: str | None = None) -> pd.DataFrame:
    """Polled live viewer counts: live_input_uid, at, viewers (NaN for a gap), status (ok,
    gap: no answer, hidden: the input hides its count), reason (why there is no number)."""
    where, params = ("WHERE live_input_uid = ?", [live_input_uid]) if live_input_uid else ("", [])
    df = wh.query("SELECT live_input_uid, sampled_at AS \"at\", viewers, status, reason "
                  f"FROM live_viewer_samples {where} ORDER BY live_input_uid, sampled_at",
                  params)
    df["at"] = pd.to_datetime(df["at"], utc=True)
    df["viewers"] = pd.to_numeric(df["viewers"]).astype(float)
    return df


def live_sessions(wh: Warehouse, rejoin: timedelta = REJOIN) -> pd.DataFrame:
    """One row per broadcast: live_input_uid, start, end (NaT while live), duration_seconds,
    reconnects, errors (codes, comma-separated), error_count, recording_uid, and from the
    samples peak_viewers, avg_viewers, time_to_peak_seconds, samples, gaps (polls without a
    number: failed, or hidden), hidden (polls of a count the input hides).

    >>> live_sessions(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    events = live_events(wh)
    rows: list[dict] = []
    for uid, ev in events[events["event_type"].str.startswith("live_input.")].groupby(
            "live_input_uid", sort=True):
        rows += _sessions(uid, ev, rejoin)
    sessions = pd.DataFrame(rows, columns=SESSION_COLUMNS)
    sessions["start"] = pd.to_datetime(sessions["start"], utc=True)
    sessions["end"] = pd.to_datetime(sessions["end"], utc=True)
    sessions["duration_seconds"] = (sessions["end"] - sessions["start"]).dt.total_seconds()
    sessions["recording_uid"] = _recordings(wh, sessions, events)
    return _with_viewers(sessions, viewer_samples(wh)).sort_values(
        ["start", "live_input_uid"]).reset_index(drop=True)


def _sessions(uid: str, ev: pd.DataFrame, rejoin: timedelta) -> list[dict]:
    """Sessions of one live input from its events in time order."""
    out: list[dict] = []
    cur: dict | None = None
    for at, kind, code in zip(ev["at"], ev["event_type"], ev["error_code"], strict=True):
        last = out[-1] if out else None
        if kind == "live_input.connected":
            if cur is not None:
                continue  # a repeated connect (delivered twice, or out of order)
            if last is not None and last["end"] is not None and at - last["end"] <= rejoin:
                cur, last["end"] = last, None  # the encoder is back: the same show
                cur["reconnects"] += 1
            else:
                cur = {"live_input_uid": uid, "start": at, "end": None, "reconnects": 0,
                       "codes": []}
                out.append(cur)
        elif kind == "live_input.disconnected" and cur is not None:
            cur["end"], cur = at, None
        elif kind == "live_input.errored" and isinstance(code, str):
            target = cur or (last if last is not None and last["end"] is not None
                             and at - last["end"] <= rejoin else None)
            if target is not None:
                target["codes"].append(code)
    return [{**{k: v for k, v in s.items() if k != "codes"}, "errors": ",".join(s["codes"]),
             "error_count": len(s["codes"]), "recording_uid": None} for s in out]


def _recordings(wh: Warehouse, sessions: pd.DataFrame, events: pd.DataFrame) -> list:
    """The recording of each session: a video of its input created within it (or named by a
    `video.*` webhook with its `at` after the session's start)."""
    vids = wh.query("SELECT uid, live_input_uid, created FROM videos "
                    "WHERE live_input_uid IS NOT NULL ORDER BY created")
    vids["created"] = pd.to_datetime(vids["created"], utc=True)
    hooks = events[events["event_type"].str.startswith("video.")]
    by_input = {k: g for k, g in vids.groupby("live_input_uid")}
    hooks_by_input = {k: g for k, g in hooks.groupby("live_input_uid")}
    out: list = []
    for s in sessions.itertuples():
        end = s.end if not pd.isna(s.end) else pd.Timestamp.max.tz_localize("UTC")
        v = by_input.get(s.live_input_uid)
        hit = None if v is None else v[(v["created"] >= s.start - _SLACK)
                                       & (v["created"] <= end)]
        if hit is not None and len(hit):
            out.append(hit["uid"].iloc[0])
            continue
        h = hooks_by_input.get(s.live_input_uid)
        named = None if h is None else h[h["at"] >= s.start]
        out.append(named["video_uid"].iloc[0] if named is not None and len(named) else None)
    return out


def _with_viewers(sessions: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    """Peak, average, time to peak, samples and gaps of each session's polls."""
    stats: dict[str, list] = {k: [] for k in ("peak_viewers", "avg_viewers",
                                              "time_to_peak_seconds", "samples", "gaps",
                                              "hidden")}
    by_input = {k: g for k, g in samples.groupby("live_input_uid")}
    for s in sessions.itertuples():
        g = by_input.get(s.live_input_uid)
        end = s.end if not pd.isna(s.end) else pd.Timestamp.max.tz_localize("UTC")
        g = g[(g["at"] >= s.start) & (g["at"] <= end)] if g is not None else samples.iloc[:0]
        ok = g[g["viewers"].notna()]
        peak_at = ok["at"].iloc[int(np.argmax(ok["viewers"].to_numpy()))] if len(ok) else None
        stats["peak_viewers"].append(ok["viewers"].max() if len(ok) else np.nan)
        stats["avg_viewers"].append(ok["viewers"].mean() if len(ok) else np.nan)
        stats["time_to_peak_seconds"].append(
            (peak_at - s.start).total_seconds() if peak_at is not None else np.nan)
        stats["samples"].append(len(ok))
        stats["gaps"].append(int((g["status"] != "ok").sum()))
        stats["hidden"].append(int((g["status"] == "hidden").sum()))
    return sessions.assign(**stats)


def sessions_between(wh: Warehouse, first: datetime, last: datetime) -> pd.DataFrame:
    """The sessions that started in [first, last] (UTC timestamps)."""
    s = live_sessions(wh)
    return s[(s["start"] >= pd.Timestamp(first)) & (s["start"] <= pd.Timestamp(last))]


# --- per-minute live minutes viewed (GraphQL `datetime`) ---------------------------------
def live_viewing_uids(wh: Warehouse, first: date, last: date) -> dict[date, list[str]]:
    """The days in [first, last] with live viewing, each with the uids to read by the minute:
    the live inputs with minutes that day (recording off) and the recordings with minutes on a
    day their show ran (the day it was created, and the next when the show ran past midnight;
    `recording_ends` bounds what of them was live).

    >>> live_viewing_uids(Warehouse("data/demo.duckdb", read_only=True),
    ...                   date(2026, 6, 1), date(2026, 6, 30))               # doctest: +SKIP
    """
    rows = wh.query(
        "SELECT DISTINCT m.date, m.uid FROM minutes_viewed_daily m "
        "LEFT JOIN videos v ON v.uid = m.uid "
        "WHERE m.date BETWEEN ? AND ? AND m.minutes_viewed > 0 AND ("
        " m.uid IN (SELECT uid FROM live_inputs) OR (v.live_input_uid IS NOT NULL"
        " AND m.date >= CAST(v.created AS DATE) AND m.date < v.created"
        " + to_microseconds(CAST(COALESCE(v.duration_seconds, 0) * 1e6 AS BIGINT)))) "
        "ORDER BY m.date, m.uid", [first, last])
    out: dict[date, list[str]] = {}
    for day, uid in zip(rows["date"], rows["uid"], strict=True):
        out.setdefault(pd.Timestamp(day).date(), []).append(uid)
    return out


def recording_ends(wh: Warehouse, uids: list[str]) -> dict[str, datetime]:
    """When each recording's show ended (created + duration): its minutes from then on are
    on-demand viewing, not the show's.

    >>> recording_ends(Warehouse("data/demo.duckdb", read_only=True), [])   # doctest: +SKIP
    """
    if not uids:
        return {}
    rows = wh.query(
        "SELECT uid, created + to_microseconds(CAST(COALESCE(duration_seconds, 0) * 1e6 "
        "AS BIGINT)) AS ended FROM videos WHERE uid IN (SELECT unnest(?)) "
        "AND live_input_uid IS NOT NULL", [uids])
    return {u: pd.Timestamp(t).to_pydatetime() for u, t in
            zip(rows["uid"], rows["ended"], strict=True)}


def live_input_of(wh: Warehouse, uids: list[str]) -> dict[str, str]:
    """The live input of each uid: a live input is its own; a video its `live_input_uid`."""
    if not uids:
        return {}
    vids = wh.query("SELECT uid, live_input_uid FROM videos WHERE uid IN (SELECT unnest(?)) "
                    "AND live_input_uid IS NOT NULL", [uids])
    inputs = wh.query("SELECT uid FROM live_inputs WHERE uid IN (SELECT unnest(?))", [uids])
    out = dict(zip(vids["uid"], vids["live_input_uid"], strict=True))
    out.update({u: u for u in inputs["uid"]})
    return out


def live_minutes(wh: Warehouse, live_input_uid: str | None = None,
                 first: datetime | None = None, last: datetime | None = None) -> pd.DataFrame:
    """Minutes viewed by the minute of live inputs' videos: minute, uid, live_input_uid,
    country, minutes_viewed (minutes in [first, last] when given).

    >>> live_minutes(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    where, params = ["TRUE"], []
    for clause, value in (("live_input_uid = ?", live_input_uid), ("minute >= ?", first),
                          ("minute <= ?", last)):
        if value is not None:
            where.append(clause)
            params.append(value)
    df = wh.query("SELECT minute, uid, live_input_uid, country, minutes_viewed "
                  f"FROM live_minutes_viewed WHERE {' AND '.join(where)} "
                  "ORDER BY minute, uid, country", params)
    df["minute"] = pd.to_datetime(df["minute"], utc=True)
    df["minutes_viewed"] = pd.to_numeric(df["minutes_viewed"]).astype("int64")
    return df


def minutes_beside_samples(wh: Warehouse, live_input_uid: str, start: datetime,
                           end: datetime) -> pd.DataFrame:
    """One row per minute of [start, end]: minute, viewers (the mean of that minute's sampled
    concurrent viewers; NaN when no poll answered), samples, minutes_viewed (GraphQL, all
    countries; NaN when no per-minute minutes are synced for the input in that span).

    Minutes viewed in one minute are about the average concurrent viewers in it: a cross-check
    of the sampling, shown side by side in the post-show report.
    """
    lo, hi = pd.Timestamp(start).floor("min"), pd.Timestamp(end)
    minutes = pd.date_range(lo, hi, freq="min")
    s = viewer_samples(wh, live_input_uid)
    s = s[(s["at"] >= lo) & (s["at"] <= hi)]
    ok = s[s["viewers"].notna()]
    by = ok.groupby(ok["at"].dt.floor("min"))["viewers"]
    m = live_minutes(wh, live_input_uid, lo.to_pydatetime(), hi.to_pydatetime())
    per = m.groupby("minute")["minutes_viewed"].sum()
    out = pd.DataFrame({"minute": minutes})
    out["viewers"] = out["minute"].map(by.mean()).astype(float)
    out["samples"] = out["minute"].map(by.size()).fillna(0).astype("int64")
    mv = out["minute"].map(per).astype(float)
    out["minutes_viewed"] = mv.fillna(0.0) if len(m) else mv
    return out
