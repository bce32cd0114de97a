"""Live shows as the broadcasters' encoders and viewers saw them: sessions, live-input events
and a per-minute concurrency curve per show.

Derived from the simulated shows (`simulator._shows`) and their live minutes viewed; every new
random number comes from a generator seeded from (seed, show), so the account's draws and
ground truth stay as they were. Per show:

- the curve: concurrent viewers per minute of the show (minute k covers
  [start floored to the minute + k min, + 1 min)); it sums to the show's live minutes viewed
  exactly (largest-remainder apportionment of a ramp-plateau-decline shape);
- the events: `live_input.connected` at the start, `live_input.disconnected` at the end, and
  in between the drops of a flaky encoder (disconnected, then connected again seconds later)
  and errors (`live_input.errored` with a code).

Planted (each with a healthy look-alike): `encoder_drops`, a broadcaster whose encoder drops
and reconnects several times in every show (look-alike: one that reconnects once in a few
shows); `quota_failure`, the first show that starts once the planted storage exhaustion has
arrived fails with ERR_STORAGE_QUOTA_EXHAUSTED seconds after connecting and records nothing
(look-alike: a show that reports ERR_GOP_OUT_OF_RANGE once and goes on to its end).
The base simulation still lists that show's recording (and its on-demand views), so the live
truth names that recording too; its curve is empty (nobody watched 8 seconds) and so are its
live minutes viewed: the account leaves them out of the daily truth (`_derive_views`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .simulator import Planted

if TYPE_CHECKING:
    from .account import SimulatedAccount

MINUTE = pd.Timedelta(minutes=1)
FLAKY_DROPS = (3, 6)  # drops per show of the planted flaky encoder: [low, high)
DROP_GAP_SECONDS = (4, 40)  # a dropped encoder is back this many seconds later
QUOTA_FAIL_AFTER_SECONDS = 8  # the quota-exhausted show errors this long after connecting
QUOTA_CODE = "ERR_STORAGE_QUOTA_EXHAUSTED"
GOP_CODE = "ERR_GOP_OUT_OF_RANGE"
ERROR_MESSAGES = {
    QUOTA_CODE: "Storage quota exhausted: the account's prepaid storage is full.",
    GOP_CODE: "Keyframe interval out of range: it must be at most 8 seconds.",
}
PLANTED_KINDS = ("encoder_drops", "quota_failure")


@dataclass(frozen=True)
class Roles:
    """Which broadcasters and shows play the planted parts (row numbers in the draws)."""

    flaky: int  # broadcaster row whose encoder drops several times per show
    steady: int  # look-alike: one reconnect in a few shows
    gop_show: int  # look-alike: one ERR_GOP_OUT_OF_RANGE, then the show goes on


def _cached(account: SimulatedAccount, key: str, build: Any) -> Any:
    """`build()` once per derived state of the account (an edit or a clock move renews it)."""
    state = account._state()
    if key not in state:
        state[key] = build()
    return state[key]


def roles(account: SimulatedAccount) -> Roles:
    """The planted parts: the first two ordinary broadcasters and the look-alike show.

    >>> from datetime import date
    >>> from lc_analytics.sandbox import SimulatedAccount
    >>> r = roles(SimulatedAccount.build("small", seed=7, end=date(2026, 6, 30)))
    >>> r.flaky != r.steady
    True
    """
    return _cached(account, "live_roles", lambda: _roles(account))


def _roles(account: SimulatedAccount) -> Roles:
    bc = account.draws.broadcasters
    normal = bc.index[bc["archetype"] == "normal"].tolist()
    flaky, steady = (normal + [0, 1])[:2] if len(normal) < 2 else normal[:2]
    shows = account.draws.shows
    # ten days before the build's clock (not the moving clock: the parts never change)
    mid = pd.Timestamp(account.start + timedelta(days=account.days - 10), tz="UTC")
    others = shows.index[(shows["b"] != flaky) & (shows["b"] != steady)
                         & (shows["start"] >= mid)]
    gop = int(shows.loc[others, "start"].idxmin()) if len(others) else int(shows.index[-1])
    return Roles(int(flaky), int(steady), gop)


def quota_show(account: SimulatedAccount) -> int | None:
    """The row of the show that fails for storage quota: the first to start after the day
    stored minutes reach the prepaid capacity (None if that never happens in the horizon)."""
    return _cached(account, "live_quota_show", lambda: _quota_show(account))


def _quota_show(account: SimulatedAccount) -> int | None:
    ex = account.exhaustion_date()
    if ex is None:
        return None
    full = pd.Timestamp(ex + timedelta(days=1), tz="UTC")
    shows = account.draws.shows
    later = shows[shows["start"] >= full]
    return int(later["start"].idxmin()) if len(later) else None


def planted(account: SimulatedAccount) -> list[Planted]:
    """The live-show plants and their healthy look-alikes."""
    r = roles(account)
    li = account.draws.live_inputs["uid"]
    shows = account.draws.shows
    out = [
        Planted("encoder_drops", li.iloc[r.flaky], False,
                f"the encoder drops and reconnects {FLAKY_DROPS[0]}-{FLAKY_DROPS[1] - 1} times "
                "in every show"),
        Planted("encoder_drops", li.iloc[r.steady], True,
                "the encoder reconnects once in about one show in five"),
        Planted("quota_failure", shows["uid"].iloc[r.gop_show], True,
                f"{GOP_CODE} once, then the show goes on to its end"),
    ]
    q = quota_show(account)
    if q is not None:
        out.append(Planted("quota_failure", shows["uid"].iloc[q], False,
                           f"{QUOTA_CODE} {QUOTA_FAIL_AFTER_SECONDS} s after connecting, on "
                           "the first show after the prepaid storage ran out"))
    return out


# --- per show -----------------------------------------------------------------------------
def _rng(account: SimulatedAccount, row: int, part: int) -> np.random.Generator:
    """The generator of show `row`'s curve (part 0) or events (part 1)."""
    return np.random.default_rng([account.seed, 14, row, part])


def live_minutes(account: SimulatedAccount) -> np.ndarray:
    """Live minutes viewed per show (row order of the draws), from the drawn views."""
    return _cached(account, "live_minutes", lambda: _live_minutes(account))


def _live_minutes(account: SimulatedAccount) -> np.ndarray:
    v = account.draws.views
    n = len(account.draws.shows)
    live = v.is_live & (v.vidx < n)
    return np.bincount(v.vidx[live], weights=v.minutes[live], minlength=n).astype(np.int64)


def apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Split `total` into integers proportional to `weights` (largest remainder, ties to the
    earlier position); the parts sum to `total` exactly.

    >>> apportion(10, np.array([1.0, 1.0, 1.0])).tolist()
    [4, 3, 3]
    """
    if total == 0 or weights.sum() <= 0:
        return np.zeros(len(weights), dtype=np.int64)
    share = weights / weights.sum() * total
    base = np.floor(share).astype(np.int64)
    left = int(total - base.sum())
    order = np.lexsort((np.arange(len(share)), -(share - base)))
    base[order[:left]] += 1
    return base


def minutes_of(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """The minute buckets a show touches: from its start floored to the minute, every minute
    that begins before its end."""
    first = start.floor("min")
    n = int(np.ceil((end - first) / MINUTE))
    return pd.date_range(first, periods=max(n, 1), freq="min")


def _viewers(account: SimulatedAccount, row: int, n: int, total: int) -> np.ndarray:
    """The apportioned curve of show `row` over its `n` minutes."""
    return seeded_viewers(account.seed, row, n, total)


def seeded_viewers(seed: int, row: int, n: int, total: int) -> np.ndarray:
    """`_viewers` from the account's seed alone (the draws are re-stamped with it before the
    account exists: `live_days`)."""
    rng = np.random.default_rng([seed, 14, row, 0])  # = _rng(account, row, 0)
    x = (np.arange(n) + 0.5) / n
    ramp = np.minimum(1.0, x / rng.uniform(0.1, 0.3))
    decline = np.minimum(1.0, (1.0 - x) / rng.uniform(0.05, 0.2))
    shape = np.clip(ramp * decline * (1 + 0.15 * rng.standard_normal(n)), 0.02, None)
    return apportion(total, shape)


def curve(account: SimulatedAccount, row: int, total: int | None = None) -> pd.DataFrame:
    """Concurrent viewers per minute of show `row`: columns minute, viewers."""
    show = account.draws.shows.iloc[row]
    minutes = minutes_of(show["start"], show["end"])
    if total is None:
        total = int(live_minutes(account)[row])
    return pd.DataFrame({"minute": minutes,
                         "viewers": _viewers(account, row, len(minutes), total)})


def show_events(account: SimulatedAccount, row: int, r: Roles | None = None,
                quota: int | None = -1) -> pd.DataFrame:
    """Live-input events of show `row`, in time order: at, event_type, code."""
    r = r or roles(account)
    quota = quota_show(account) if quota == -1 else quota
    show = account.draws.shows.iloc[row]
    return _frame(_events(account, row, int(show["b"]), show["start"], show["end"], r, quota))


def _events(account: SimulatedAccount, row: int, b: int, start: pd.Timestamp,
            end: pd.Timestamp, r: Roles, quota: int | None) -> list[tuple]:
    """(at, event_type, code) of one show, in time order."""
    rng = _rng(account, row, 1)
    events: list[tuple[pd.Timestamp, str, str | None]] = [
        (start, "live_input.connected", None)]
    if row == quota:
        fail = start + pd.Timedelta(seconds=QUOTA_FAIL_AFTER_SECONDS)
        return events + [(fail, "live_input.errored", QUOTA_CODE),
                         (fail, "live_input.disconnected", None)]
    n_drops = 0
    if b == r.flaky:
        n_drops = int(rng.integers(*FLAKY_DROPS))
    elif b == r.steady:
        n_drops = int(rng.random() < 0.2)
    span = (end - start).total_seconds()
    cuts = np.sort(rng.uniform(0.1, 0.9, size=n_drops)) * span
    back = start
    for cut in cuts:
        gap = float(rng.uniform(*DROP_GAP_SECONDS))
        down = max(start + pd.Timedelta(seconds=round(float(cut), 3)),
                   back + pd.Timedelta(seconds=1))  # never before the last reconnect
        back = down + pd.Timedelta(seconds=round(gap, 3))
        events.append((down, "live_input.disconnected", None))
        events.append((back, "live_input.connected", None))
    if row == r.gop_show:
        events.append((start + pd.Timedelta(seconds=round(span / 3, 3)), "live_input.errored",
                       GOP_CODE))
    events.append((end, "live_input.disconnected", None))
    return sorted(events, key=lambda e: e[0])


def _frame(events: list) -> pd.DataFrame:
    return pd.DataFrame(events, columns=["at", "event_type", "code"])


# --- the whole account --------------------------------------------------------------------
def truth(account: SimulatedAccount) -> dict[str, pd.DataFrame]:
    """Live ground truth as of the account's clock, for every show that has started.

    `sessions`: live_input_uid, show_uid, start, end (NaT while live), reconnects, errors
    (codes joined by ","), recording_uid (None when nothing was recorded), live_minutes,
    peak_viewers. `events`: live_input_uid, show_uid, at, event_type, code (only events at or
    before the clock). `curve`: show_uid, live_input_uid, minute, viewers (minutes begun).
    """
    shows = account._state()["shows"]
    now = account.now
    r, quota = roles(account), quota_show(account)
    totals = live_minutes(account)
    sessions: list[dict] = []
    events: list[tuple] = []
    curves: list[tuple] = []
    for row in np.flatnonzero((shows["start"] <= now).to_numpy()):
        show = shows.iloc[row]
        li, uid, start, end = show["live_input_uid"], show["uid"], show["start"], show["end"]
        ev = [e for e in _events(account, int(row), int(show["b"]), start, end, r, quota)
              if e[0] <= now]
        events.extend((li, uid, *e) for e in ev)
        failed = int(row) == quota
        first = start.floor("min")
        n = max(int(np.ceil((end - first) / MINUTE)), 1)
        viewers = _viewers(account, int(row), n, 0 if failed else int(totals[row]))
        seen = min(n, int((now - first) // MINUTE) + 1)
        curves.append((li, uid, first, viewers[:seen]))
        codes = [e[2] for e in ev if e[1] == "live_input.errored"]
        sessions.append({
            "live_input_uid": li, "show_uid": uid, "start": start,
            "end": ev[-1][0] if failed or end <= now else pd.NaT,
            "reconnects": sum(e[1] == "live_input.connected" for e in ev) - 1,
            "errors": ",".join(codes),
            "recording_uid": uid if bool(show["recorded"]) else None,
            "live_minutes": int(viewers[:seen].sum()),
            "peak_viewers": int(viewers[:seen].max()) if seen else 0,
        })
    return {"sessions": pd.DataFrame(sessions),
            "events": pd.DataFrame(events, columns=["live_input_uid", "show_uid", "at",
                                                    "event_type", "code"]),
            "curve": _curve_frame(curves)}


def _curve_frame(curves: list[tuple]) -> pd.DataFrame:
    sizes = np.array([len(c[3]) for c in curves], dtype=np.int64)
    firsts = np.array([c[2].value for c in curves], dtype=np.int64)
    offsets = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    minute = np.repeat(firsts, sizes) + offsets * 60_000_000_000
    return pd.DataFrame({
        "show_uid": np.repeat(np.array([c[1] for c in curves], dtype=object), sizes),
        "live_input_uid": np.repeat(np.array([c[0] for c in curves], dtype=object), sizes),
        "minute": pd.to_datetime(minute, utc=True),
        "viewers": np.concatenate([c[3] for c in curves]) if curves else np.zeros(0, np.int64),
    })


def _show(account: SimulatedAccount, row: int) -> tuple[list[tuple], pd.Timestamp, np.ndarray]:
    """Show `row`'s events, first minute and curve, built once per derived state."""
    def build() -> tuple[list[tuple], pd.Timestamp, np.ndarray]:
        show = account.draws.shows.iloc[row]
        quota = quota_show(account)
        ev = _events(account, row, int(show["b"]), show["start"], show["end"], roles(account),
                     quota)
        first = show["start"].floor("min")
        n = max(int(np.ceil((show["end"] - first) / MINUTE)), 1)
        total = 0 if row == quota else int(live_minutes(account)[row])
        return ev, first, _viewers(account, row, n, total)
    return _cached(account, f"live_show_{row}", build)


def _live_row(account: SimulatedAccount, live_input_uid: str, at: pd.Timestamp) -> int | None:
    """The show of `live_input_uid` whose encoder is connected at `at`, if any."""
    shows = account.draws.shows
    on = np.flatnonzero((shows["live_input_uid"].to_numpy() == live_input_uid)
                        & (shows["start"] <= at).to_numpy() & (at < shows["end"]).to_numpy())
    if not len(on):
        return None
    row = int(on[0])
    before = [e for e in _show(account, row)[0] if e[0] <= at]
    if not before or before[-1][1] != "live_input.connected":
        return None
    return row


def viewers_at(account: SimulatedAccount, live_input_uid: str, at: pd.Timestamp) -> int:
    """What `/views` answers for a live input at `at`: the current minute's concurrent viewers
    while its encoder is connected (0 when it is not, or during a drop)."""
    row = _live_row(account, live_input_uid, at)
    if row is None:
        return 0
    _, first, viewers = _show(account, row)
    k = int((at.floor("min") - first) // MINUTE)
    return int(viewers[k]) if 0 <= k < len(viewers) else 0


def connected_inputs(account: SimulatedAccount, at: pd.Timestamp) -> set[str]:
    """Live inputs whose encoder is connected at `at` (what their `status` says)."""
    shows = account.draws.shows
    on = shows[(shows["start"] <= at) & (at < shows["end"])]
    return {li for li in on["live_input_uid"] if _live_row(account, li, at) is not None}
