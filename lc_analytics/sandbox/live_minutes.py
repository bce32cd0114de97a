"""Minutes viewed by the minute: what `streamMinutesViewedAdaptiveGroups` answers when a
query groups by `datetime` (issue 14).

The daily rows stay the ground truth. A query that selects the `datetime` dimension sees them
re-stamped for its window only: each live show's minutes of each country are spread over the
minutes of the show's concurrency curve (`live_shows`), and everything else (on-demand
viewing, and the live rows of a show whose day rows are short) stays at its day's last minute
(23:59: a recording's on-demand minutes of the day after its show never share a minute with
the show's own minutes after midnight). The split is exact in integers: per show, the minute
rows of one country sum to that country's live minutes on the daily rows, and the rows of one
minute sum to the curve's concurrent viewers in that minute; so summed over a day the minute
rows equal the day's rows. A show that runs past midnight has its later minutes on the next
day, in the minute rows and in the daily rows alike (`live_days`); minutes of a day the API
does not report yet (today) are not served.

[UNVERIFIED] The reference (section 2.1) documents the `datetime` dimension but not its
resolution; the emulator stamps rows at the minute (third-party code uses `datetimeMinute`
for minute buckets). Clients should floor `datetime` to the minute and sum.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from . import live_shows as L

if TYPE_CHECKING:
    from .account import SimulatedAccount

DAY = pd.Timedelta(days=1)
LAST_MINUTE = pd.Timedelta(hours=23, minutes=59)  # where rows that are not a show's sit
COLUMNS = ["_ts", "uid", "clientCountryName", "creator", "sum_minutesViewed"]


def split(viewers: np.ndarray, countries: np.ndarray) -> np.ndarray:
    """A (minutes x countries) matrix of integers whose rows sum to `viewers` and whose
    columns sum to `countries` (equal totals): each minute takes its viewers from what each
    country has left, in proportion (largest remainder, in integers: exact).

    >>> split(np.array([1, 3, 2]), np.array([4, 2])).tolist()
    [[1, 0], [2, 1], [1, 1]]
    """
    left = countries.astype(np.int64).copy()
    out = np.zeros((len(viewers), len(left)), dtype=np.int64)
    if int(viewers.sum()) != int(left.sum()):
        raise ValueError("viewers and countries must have the same total")
    order_key = np.arange(len(left))
    for k, v in enumerate(viewers.astype(np.int64)):
        if v == 0:
            continue
        num = left * int(v)
        total = int(left.sum())
        base, rem = num // total, num % total
        extra = int(v - base.sum())
        base[np.lexsort((order_key, -rem))[:extra]] += 1
        out[k] = base
        left -= base
    return out


def minute_frame(account: SimulatedAccount, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.DataFrame:
    """The dataset's frame for a `datetime`-grouped query over [lo, hi]: the day rows of the
    days the window touches (only those: a large account's history is never expanded), with
    the live shows that touch it spread over their minutes."""
    first = lo.floor("D") - DAY  # a show of the day before may run into the window
    left = _day_rows(account, first, hi.floor("D") + DAY)  # ... and one may run past it
    memo: dict = {}  # each day's live view rows, selected once for all its shows
    parts = [_show_rows(account, row, left, memo) for row in _shows(account, first, hi)]
    rest = pd.DataFrame([(k[0] + LAST_MINUTE, k[1], k[2], v[1], v[0])
                         for k, v in left.items() if v[0]], columns=COLUMNS)
    frames = [f for f in (rest, *parts) if len(f)]
    if not frames:
        return pd.DataFrame(columns=COLUMNS).astype({"sum_minutesViewed": np.int64})
    out = pd.concat(frames, ignore_index=True)
    out["_ts"] = pd.to_datetime(out["_ts"], utc=True)
    out["sum_minutesViewed"] = out["sum_minutesViewed"].astype(np.int64)
    return out


def _day_rows(account: SimulatedAccount, first: pd.Timestamp, hi: pd.Timestamp) -> dict:
    """{(day, uid, country): [minutes, creator]} of the days in [first, hi] the API reports."""
    last = min(hi, account.now).tz_convert("UTC").date()
    mv = account.minutes_viewed_between(first.date(), last)
    codes, days = pd.factorize(mv["date"])
    day = list(days)  # one Timestamp per day, not one per row
    return {(day[k], u, c): [m, cr] for k, u, c, cr, m in zip(
        codes.tolist(), mv["uid"].tolist(), mv["country"].tolist(), mv["creator"].tolist(),
        mv["minutes_viewed"].astype(np.int64).tolist(), strict=True)}


def _shows(account: SimulatedAccount, first: pd.Timestamp, hi: pd.Timestamp) -> np.ndarray:
    """Rows of the shows that start in [first, hi] on a day the API already reports."""
    shows = account.draws.shows
    start = shows["start"]
    today = account.now.floor("D")
    ok = (start >= first) & (start <= hi) & (start.dt.floor("D") < today)
    return np.flatnonzero(ok.to_numpy())


def _show_rows(account: SimulatedAccount, row: int, left: dict,
               memo: dict | None = None) -> pd.DataFrame:
    """Show `row`'s minute rows of the days the API reports; its minutes are taken out of the
    day rows in `left`, day by day (a show whose day rows are missing or short, e.g. a
    recording deleted that day, or a failed show with no viewers, stays there)."""
    show = account.draws.shows.iloc[row]
    uid = show["uid"] if bool(account._state()["shows"]["recorded"].iloc[row]) \
        else show["live_input_uid"]
    countries, minutes = live_countries(account, row, memo)
    _, first, viewers = L._show(account, row)
    if not len(countries) or int(viewers.sum()) != int(minutes.sum()):
        return pd.DataFrame(columns=COLUMNS)
    grid = split(viewers, minutes)
    stamps = first + pd.to_timedelta(np.arange(len(viewers)), unit="min")
    days = stamps.floor("D")
    reported = np.asarray(days < account.now.floor("D"))
    take: dict[tuple, int] = {}
    for day in days[reported].unique():
        per_country = grid[np.asarray(days == day)].sum(axis=0)
        take.update({(day, uid, c): int(m)
                     for c, m in zip(countries, per_country, strict=True) if m})
    if not take or any(k not in left or left[k][0] < m for k, m in take.items()):
        return pd.DataFrame(columns=COLUMNS)
    creator = left[next(iter(take))][1]
    for k, m in take.items():
        left[k][0] -= m
    k_idx, c_idx = np.nonzero(grid * reported[:, None])
    return pd.DataFrame({
        "_ts": first + pd.to_timedelta(k_idx, unit="min"),
        "uid": uid, "clientCountryName": countries[c_idx], "creator": creator,
        "sum_minutesViewed": grid[k_idx, c_idx]})


def live_countries(account: SimulatedAccount, row: int,
                   memo: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(countries, live minutes) of show `row`, from the drawn views of its day(s); `memo`
    keeps each day's live rows for the other shows of that day."""
    from .simulator import HIGH_BW, LOW_BW

    day = account.draws.shows["start"].iloc[row].floor("D")
    memo = {} if memo is None else memo
    if day not in memo:
        v = account.draws.views
        sel = v.select(day, day + DAY)  # a show running past midnight has minutes on both days
        live = v.is_live[sel]
        memo[day] = (v.vidx[sel][live], v.country[sel][live].astype(np.int64),
                     v.minutes[sel][live])
    vidx, country, mins = memo[day]
    mine = vidx == row
    minutes = np.bincount(country[mine], weights=mins[mine],
                          minlength=len(HIGH_BW) + len(LOW_BW)).astype(np.int64)
    keep = np.flatnonzero(minutes)
    return np.asarray(HIGH_BW + LOW_BW, dtype=object)[keep], minutes[keep]


def truth(account: SimulatedAccount, first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
    """Ground truth for tests: the minute rows of the live shows that started in [first, last]
    (minute, uid, country, minutes_viewed), and nothing else."""
    left = _day_rows(account, first.floor("D"), last.floor("D") + DAY)
    memo: dict = {}
    parts = [p for p in (_show_rows(account, row, left, memo)
                         for row in _shows(account, first, last)) if len(p)]
    if not parts:
        return pd.DataFrame(columns=["minute", "uid", "country", "minutes_viewed"])
    out = pd.concat(parts, ignore_index=True)
    return pd.DataFrame({"minute": out["_ts"], "uid": out["uid"],
                         "country": out["clientCountryName"],
                         "minutes_viewed": out["sum_minutesViewed"].astype(np.int64)})
