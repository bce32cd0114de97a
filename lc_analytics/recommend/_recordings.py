"""The recordings the Stream recommenders reason about (read through the read model),
their viewing by age, and the scheduled deletions they propose (never earlier than the
API accepts: `facts.MIN_SCHEDULED_DELETION_DAYS` after upload, and after the clock)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from .. import readmodel as rm
from ..warehouse import Warehouse
from ._common import DAY, MIN_LEAD_DAYS, MIN_SCHEDULED_DELETION_DAYS, clock
from .model import Action


def live_inputs(wh: Warehouse) -> pd.DataFrame:
    """Live inputs still listed, with their current recording settings."""
    return rm.live_inputs(wh)[["uid", "name", "enabled", "recording_mode",
                               "delete_recording_after_days", "created"]]


def recordings(wh: Warehouse, as_of: date) -> pd.DataFrame:
    """Every playable recording of a live input ever listed, with what it stores now.

    Columns: uid, live_input_uid, creator, created, uploaded, ready, scheduled_deletion,
    seconds (duration rounded up), minutes, size_bytes, width, height, duration_seconds,
    stored (still listed at the clock and not yet past its scheduled deletion).
    """
    v = rm.videos(wh, history=True)
    v = v[v["live_input_uid"].notna() & (v["state"] == "ready") & v["duration_seconds"].notna()
          & v["ready_to_stream_at"].notna()]
    v = v.assign(creator=v["creator"].fillna(""), ready=v["ready_to_stream_at"])[
        ["uid", "live_input_uid", "creator", "created", "uploaded", "ready",
         "scheduled_deletion", "seconds", "duration_seconds", "size_bytes", "width", "height",
         "missing_since"]]
    now = clock(as_of)
    v = v[v["ready"] < now].copy()
    v["minutes"] = v["seconds"].astype(float) / 60
    v["stored"] = v["missing_since"].isna() & ~(v["scheduled_deletion"] <= now)
    return v.reset_index(drop=True)


def views_by_age(wh: Warehouse, as_of: date, lookback_days: int) -> pd.DataFrame:
    """Minutes viewed of live-input recordings per day, live input, creator and the
    recording's age that day (the read model's viewing of kind 'recording', summed in
    DuckDB by `readmodel.viewing_totals`: a row per recording and country never reaches
    pandas).

    Age = view date - the recording's created date (0 = the live show day; 1 and more =
    on demand). Only days in (as_of - lookback_days, as_of]; only recordings the warehouse
    has listed (views of recordings deleted before the first sync cannot be attributed).
    Columns: date, live_input_uid, creator (the video's, '' if none), age, minutes.
    """
    lo = as_of - timedelta(days=lookback_days - 1)
    v = rm.viewing_totals(wh, lo, as_of, ["date", "live_input_uid", "video_creator",
                                           "age_days"], kinds=["recording"])
    return pd.DataFrame({"date": v["date"], "live_input_uid": v["live_input_uid"],
                         "creator": v["video_creator"], "age": v["age_days"].astype(int),
                         "minutes": v["minutes"]}).reset_index(drop=True)


def earliest_deletion(videos: pd.DataFrame, as_of: date) -> pd.Series:
    """The earliest scheduledDeletion the API accepts and the plan allows, per video:
    30 days after upload (`uploaded`, else `created`) and at least a day after the clock."""
    base = videos["uploaded"].where(videos["uploaded"].notna(), videos["created"])
    floor = clock(as_of) + MIN_LEAD_DAYS * DAY
    return (base + MIN_SCHEDULED_DELETION_DAYS * DAY).clip(lower=floor)


def rfc3339(ts: pd.Timestamp, exact: bool = False) -> str:
    """A UTC timestamp as RFC 3339 text: rounded up to the second (what a plan proposes), or
    `exact` to the microsecond (what a plan records as the current value, so it compares
    equal to what the API returns)."""
    ts = pd.Timestamp(ts).tz_convert("UTC")
    if exact:
        return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return ts.ceil("s").strftime("%Y-%m-%dT%H:%M:%SZ")


def schedule_actions(videos: pd.DataFrame, when: pd.Series, rec_id: str,
                     why: str) -> list[Action]:
    """One `video.schedule_deletion` per video whose proposed time is earlier than the one it
    holds (or it holds none); `when` must already respect `earliest_deletion`."""
    # as UTC columns (through `to_numpy()` a tz-aware column is one Timestamp object a value)
    when = pd.to_datetime(pd.Series(when), utc=True).reset_index(drop=True)
    current = pd.to_datetime(videos["scheduled_deletion"], utc=True).reset_index(drop=True)
    keep = (~(current.notna() & (current <= when))).to_numpy(bool)
    proposed = _rfc3339s(when[keep])
    held = _rfc3339s(current[keep], exact=True)
    return [Action(id=f"video.schedule_deletion:{uid}", kind="video.schedule_deletion",
                   resource=uid, current={"scheduledDeletion": cur},
                   proposed={"scheduledDeletion": new}, why=why, recommendation_id=rec_id)
            for uid, cur, new in zip(videos["uid"].to_numpy()[keep], held, proposed,
                                     strict=True)]


def _rfc3339s(ts: pd.Series, exact: bool = False) -> list[str | None]:
    """`rfc3339` of each timestamp (None for NaT), formatted as one column."""
    ts = ts.dt.tz_convert("UTC")
    if not exact:
        ts = ts.dt.ceil("s")
    # numpy formats the column in C (strftime per value took ~1 s for 100k deletions); the
    # same text: %f is the microseconds, truncated, as `datetime_as_string`'s "us"
    naive = ts.dt.tz_localize(None).to_numpy()
    text = np.char.add(np.datetime_as_string(naive, unit="us" if exact else "s"), "Z")
    out = text.astype(object)
    out[np.isnat(naive)] = None
    return out.tolist()


def retention_value(value: Any) -> int | None:
    """deleteRecordingAfterDays as the API shows it (None when unset)."""
    return None if value is None or pd.isna(value) else int(value)


def deletion_span(sched: Sequence[Action]) -> dict[str, Any]:
    """How many deletions a recommendation schedules, and its first and last date."""
    when = [a.proposed["scheduledDeletion"] for a in sched]
    return {"count": len(sched), "first": min(when, default=None),
            "last": max(when, default=None)}
