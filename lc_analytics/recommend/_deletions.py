"""Minutes freed by scheduled deletions, per day: one array per action list (the Stream
recommenders price thousands of `video.schedule_deletion` actions)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .model import Action


def scheduled(v: pd.DataFrame, actions: Iterable[Action],
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Of each `video.schedule_deletion` of a video in `v` (indexed by uid), in order: the
    proposed deletion, the video's current one (NaT if none), as naive UTC datetime64, and
    its minutes."""
    sched = [(a.resource, a.proposed["scheduledDeletion"]) for a in actions
             if a.kind == "video.schedule_deletion"]
    if v.index.is_unique:  # one lookup for every action (not `in` and `loc` per uid)
        at = v.index.get_indexer([uid for uid, _ in sched])
        mine = [s for s, i in zip(sched, at, strict=True) if i >= 0]
        rows = v.iloc[at[at >= 0]]
    else:
        mine = [s for s in sched if s[0] in v.index]
        rows = v.loc[[uid for uid, _ in mine]]
    if not mine:
        empty = np.array([], "datetime64[ns]")
        return empty, empty, np.zeros(0)
    new = _utc_seconds([when for _, when in mine])
    old = pd.to_datetime(rows["scheduled_deletion"], utc=True).dt.tz_convert(None).to_numpy()
    return new, old, rows["minutes"].to_numpy(float)


def _utc_seconds(text: list[str]) -> np.ndarray:
    """RFC 3339 UTC times as naive datetime64: numpy parses the "YYYY-MM-DDTHH:MM:SSZ" a plan
    proposes (the bulk of them) in C; any other form goes through pandas.

    >>> _utc_seconds(["2026-07-01T00:00:01Z"])
    array(['2026-07-01T00:00:01'], dtype='datetime64[s]')
    """
    if all(len(t) == 20 and t[10] == "T" and t[19] == "Z" for t in text):
        return np.array([t[:19] for t in text], dtype="datetime64[s]")
    return pd.to_datetime(text, utc=True).tz_convert(None).to_numpy()


def running_sum(rows: np.ndarray, n: int) -> np.ndarray:
    """The rows added up one after another (the order a loop of `+=` adds them in, so the
    floats are the same), or zeros."""
    return np.cumsum(rows, axis=0)[-1] if len(rows) else np.zeros(n)


def deletions_freed(rec: pd.DataFrame, actions: Iterable[Action], ends: np.ndarray,
                    ) -> np.ndarray:
    """Minutes the `video.schedule_deletion` actions free by each of `ends` (naive UTC):
    a recording counts once its proposed deletion has passed, unless its current scheduled
    deletion had already removed it. `rec`: recordings indexed by uid."""
    new, old, minutes = scheduled(rec, actions)
    gone = (ends[None, :] >= new[:, None]) & ~(ends[None, :] >= old[:, None])  # NaT: False
    return running_sum(gone * minutes[:, None], len(ends))
