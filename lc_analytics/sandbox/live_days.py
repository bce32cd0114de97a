"""Live minutes of a show that runs past midnight (UTC), on the days they were watched.

The simulator draws a show's live minutes viewed as one row per country on the day the show
starts. Cloudflare aggregates `streamMinutesViewedAdaptiveGroups` by the time of the viewing
(reference section 2.1: the `date` and `datetime` dimensions are the viewing's; nothing
attributes viewing to the day a video or a stream began), so a show running from 23:10 to
00:40 has the minutes watched after midnight on the next day's rows. `split_at_midnight`
re-stamps the drawn rows that way, once, before the account derives anything: each such show
keeps its total and its country totals; its concurrency curve (`live_shows`, which depends
only on the seed, the show and its total) is split over the countries exactly as the
per-minute rows are (`live_minutes.split`), and each day gets the minutes of its minutes.
No random number is drawn: every other row, and every show that ends by midnight, stays
bit-identical.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .live_minutes import split
from .live_shows import MINUTE, seeded_viewers
from .simulator import Draws

DAY_NS = 86_400 * 10**9


def crossing_rows(shows: pd.DataFrame) -> np.ndarray:
    """Rows of the shows whose last minute bucket begins on a later UTC day than their start."""
    first = shows["start"].dt.floor("min")
    n = np.maximum(np.ceil((shows["end"] - first) / MINUTE).astype(np.int64), 1)
    last = first + pd.to_timedelta(n - 1, unit="min")
    return np.flatnonzero((last.dt.floor("D") > shows["start"].dt.floor("D")).to_numpy())


def split_at_midnight(draws: Draws, seed: int) -> None:
    """Move the live minutes a crossing show's viewers watched after midnight to the rows of
    the day(s) they were watched (in place on `draws.views`)."""
    shows, v = draws.shows, draws.views
    rows = crossing_rows(shows)
    if not len(rows):
        return
    live = np.flatnonzero(v.is_live & np.isin(v.vidx, rows))
    new: list[tuple[int, int, int, int]] = []  # (vidx, day, country, minutes)
    for row in rows:
        mine = live[v.vidx[live] == row]
        if not len(mine):
            continue
        # countries in code order, as `live_minutes.live_countries` lists them
        per_code = np.bincount(v.country[mine].astype(np.int64), weights=v.minutes[mine])
        codes = np.flatnonzero(per_code)
        minutes = per_code[codes].astype(np.int64)
        start, end = shows["start"].iloc[row], shows["end"].iloc[row]
        first = start.floor("min")
        n = max(int(np.ceil((end - first) / MINUTE)), 1)
        grid = split(seeded_viewers(seed, int(row), n, int(minutes.sum())), minutes)
        stamps = first.value + np.arange(n, dtype=np.int64) * 60 * 10**9
        days = stamps // DAY_NS
        for d in np.unique(days):
            per_country = grid[days == d].sum(axis=0)
            new += [(int(row), int(d), int(c), int(m))
                    for c, m in zip(codes, per_country, strict=True) if m]
    keep = np.ones(len(v.vidx), dtype=bool)
    keep[live] = False
    add = np.array(new, dtype=np.int64).reshape(-1, 4)
    draws.views = replace(
        v, vidx=np.concatenate([v.vidx[keep], add[:, 0].astype(v.vidx.dtype)]),
        is_live=np.concatenate([v.is_live[keep], np.ones(len(add), dtype=v.is_live.dtype)]),
        day=np.concatenate([v.day[keep], add[:, 1].astype(v.day.dtype)]),
        country=np.concatenate([v.country[keep], add[:, 2].astype(v.country.dtype)]),
        minutes=np.concatenate([v.minutes[keep], add[:, 3].astype(v.minutes.dtype)]),
        _by_day=False, _rank=v._rank, _rank_li=v._rank_li)
