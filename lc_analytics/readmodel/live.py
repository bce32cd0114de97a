"""Live shows: sessions derived from the live-input events, and the sampled concurrent viewers.

A session runs from a `live_input.connected` to the `live_input.disconnected` after which
the encoder stays away longer than `REJOIN` (a drop and a reconnect within it are one show,
counted in `reconnects`); errors (`live_input.errored`) belong to the session they fall in.
Its recording is the live input's video created within the session (the recording starts
when the encoder connects), or the one a `video.ready` webhook names. Viewer samples are
polls of `/views`; a gap (a failed poll) is NULL, never a zero, and peaks ignore it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

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
    """Polled live viewer counts: live_input_uid, at, viewers (NaN for a gap), status."""
    where, params = ("WHERE live_input_uid = ?", [live_input_uid]) if live_input_uid else ("", [])
    df = wh.query("SELECT live_input_uid, sampled_at AS \"at\", viewers, status "
                  f"FROM live_viewer_samples {where} ORDER BY live_input_uid, sampled_at",
                  params)
    df["at"] = pd.to_datetime(df["at"], utc=True)
    df["viewers"] = pd.to_numeric(df["viewers"]).astype(float)
    return df


def live_sessions(wh: Warehouse, rejoin: timedelta = REJOIN) -> pd.DataFrame:
    """One row per broadcast: live_input_uid, start, end (NaT while live), duration_seconds,
    reconnects, errors (codes, comma-separated), error_count, recording_uid, and from the
    samples peak_viewers, avg_viewers, time_to_peak_seconds, samples, gaps.

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
                                              "time_to_peak_seconds", "samples", "gaps")}
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
        stats["gaps"].append(int((g["status"] == "gap").sum()))
    return sessions.assign(**stats)


def sessions_between(wh: Warehouse, first: datetime, last: datetime) -> pd.DataFrame:
    """The sessions that started in [first, last] (UTC timestamps)."""
    s = live_sessions(wh)
    return s[(s["start"] >= pd.Timestamp(first)) & (s["start"] <= pd.Timestamp(last))]
