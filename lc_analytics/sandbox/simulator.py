"""Generate a seeded, deterministic live-commerce account: broadcasters, shows, views, R2.

Everything is drawn once, vectorised with numpy, over the visible period plus a future
stretch that the clock reveals as it advances. Settings that a plan can change (retention,
recording mode) are applied *after* the random draws, so re-simulating with new settings
changes only what those settings govern and never re-rolls the dice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date

import numpy as np
import pandas as pd

from .presets import Preset

UTC = UTC
DAY = pd.Timedelta(days=1)

# Audience countries, split by typical last-mile bandwidth (used by the planted bitrate case).
HIGH_BW = ["US", "GB", "DE", "JP", "KR", "NL", "FR", "CA"]
LOW_BW = ["IN", "ID", "NG", "PH", "PK", "BD", "KE", "EG"]
#: The low-bandwidth country at the edge (around 20 Mbps mobile): never most of a planted
#: low-bandwidth audience, so the plant does not hang on where the edge is drawn.
BORDERLINE_LOW_BW = "PH"

RESOLUTIONS = {  # ingest ladder the simulator draws from: (width, height, kbps)
    "1080p": (1920, 1080, 6000),
    "720p": (1280, 720, 4500),
    "480p": (854, 480, 2400),
}

BUCKETS = {
    "exports": "lc-recording-exports",
    "thumbnails": "lc-thumbnails",
    "products": "lc-product-images",
    "reports": "lc-report-exports",
}


MULTIPART_CHUNK = 100 * 1024 * 1024


@dataclass(frozen=True)
class Planted:
    """A situation the simulator put in the account on purpose, for analyses to find."""

    kind: str
    target: str  # a live input uid, broadcaster id, bucket/prefix or "account"
    healthy: bool  # True for look-alikes that must NOT be flagged
    detail: str


def _hex_ids(rng: np.random.Generator, n: int, nbytes: int = 16) -> np.ndarray:
    raw = rng.bytes(n * nbytes)
    return np.array([raw[i * nbytes:(i + 1) * nbytes].hex() for i in range(n)], dtype=object)


def _day_floor(ts: pd.Series | pd.DatetimeIndex) -> pd.Series:
    return pd.Series(ts).dt.floor("D")


def _etag(keys: pd.Series) -> np.ndarray:
    return np.array([hashlib.md5(k.encode()).hexdigest() for k in keys], dtype=object)


@dataclass
class Draws:
    """Everything random about an account, drawn once from the seed."""

    broadcasters: pd.DataFrame
    live_inputs: pd.DataFrame
    shows: pd.DataFrame
    clips: pd.DataFrame
    abandoned: pd.DataFrame
    views: Views  # potential views (before deletions are applied)
    objects: pd.DataFrame
    reads: pd.DataFrame  # object-level GetObject counts per day (potential)
    bucket_ops: pd.DataFrame  # bucket-level operations per day
    lifecycle: pd.DataFrame
    planted: list[Planted]


def draw(preset: Preset, seed: int, start: date, horizon_end: date, now: date) -> Draws:
    """Draw every random quantity of an account over [start, horizon_end].

    `now` (the initial clock, a midnight) only places a few direct uploads that are still
    pending when the account is first observed.
    """
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start, tz=UTC)
    n_days = (horizon_end - start).days + 1
    bc, planted = _broadcasters(rng, preset, t0)
    li = _live_inputs(rng, bc, t0)
    shows = _shows(rng, bc, li, t0, n_days)
    clips, abandoned = _clips(rng, bc, preset, t0, n_days, pd.Timestamp(now, tz=UTC))
    views = _views(rng, bc, li, shows, clips, pd.Timestamp(horizon_end, tz=UTC))
    objects, reads, bucket_ops, lifecycle, r2_planted = _r2(
        rng, bc, li, shows, preset, t0, pd.Timestamp(horizon_end, tz=UTC),
        archive_rng=np.random.default_rng([seed, 2]),
    )
    return Draws(bc, li, shows, clips, abandoned, views, objects, reads, bucket_ops,
                 lifecycle, planted + r2_planted)


# --- broadcasters and live inputs ----------------------------------------------------------

ARCHETYPES = [
    # (archetype, planted kind or None, healthy)
    ("never_watched", "unwatched_recordings", False),
    ("watched_lookalike", "unwatched_recordings", True),
    ("overprovisioned", "overprovisioned_ingest", False),
    ("high_bitrate_lookalike", "overprovisioned_ingest", True),
    ("recording_off", None, True),
]


def _broadcasters(rng: np.random.Generator, preset: Preset, t0: pd.Timestamp):
    n = preset.broadcasters
    ids = [f"b{i:04d}" for i in range(n)]
    archetype = np.array(["normal"] * n, dtype=object)
    for i, (name, _, _) in enumerate(ARCHETYPES[: min(n, len(ARCHETYPES))]):
        archetype[i] = name
    popularity = rng.lognormal(mean=3.2, sigma=0.7, size=n)  # average live viewers
    low_share = rng.uniform(0.05, 0.45, size=n)
    low_share[archetype == "overprovisioned"] = 0.85
    low_share[archetype == "high_bitrate_lookalike"] = 0.05
    popularity[archetype == "watched_lookalike"] = 6.0  # small live audience...
    rhythm = np.where(rng.random(n) < 0.4, "daily", "weekly").astype(object)
    rhythm[archetype == "never_watched"] = "daily"
    rhythm[archetype == "overprovisioned"] = "daily"
    rhythm[archetype == "high_bitrate_lookalike"] = "daily"
    weekdays = [tuple(sorted(rng.choice(7, size=rng.integers(1, 4), replace=False).tolist()))
                for _ in range(n)]
    show_hour = rng.integers(17, 22, size=n)
    names = [f"{_SHOP_NAMES[i % len(_SHOP_NAMES)]} {i}" for i in range(n)]
    bc = pd.DataFrame({
        "broadcaster_id": ids,
        "name": names,
        "creator": [f"creator-{i:04d}" for i in range(n)],
        "archetype": archetype,
        "popularity": popularity,
        "low_bw_share": low_share,
        "rhythm": rhythm,
        "weekdays": weekdays,
        "show_hour": show_hour,
    })
    planted: list[Planted] = []
    return bc, planted


_SHOP_NAMES = ["Glow Beauty", "Trail Gear", "Kitchen Live", "Sneaker Drop", "Home Nest",
               "Tech Deals", "Kids Corner", "Pet Parade", "Style Studio", "Garden Hour"]


def _live_inputs(rng: np.random.Generator, bc: pd.DataFrame, t0: pd.Timestamp) -> pd.DataFrame:
    n = len(bc)
    res_choice = rng.choice(["1080p", "720p", "480p"], p=[0.45, 0.4, 0.15], size=n)
    arche = bc["archetype"].to_numpy()
    res_choice[arche == "overprovisioned"] = "1080p"
    res_choice[arche == "high_bitrate_lookalike"] = "1080p"
    width = np.array([RESOLUTIONS[r][0] for r in res_choice])
    height = np.array([RESOLUTIONS[r][1] for r in res_choice])
    kbps = np.array([RESOLUTIONS[r][2] for r in res_choice], dtype=float)
    kbps = np.round(kbps * rng.uniform(0.85, 1.15, size=n), -2)
    kbps[arche == "overprovisioned"] = 12000.0
    kbps[arche == "high_bitrate_lookalike"] = 8000.0
    gop = rng.choice([2, 4, 6], size=n).astype(float)
    retention = rng.choice([np.nan, np.nan, np.nan, 30, 60, 90, 365], size=n)
    retention[arche == "never_watched"] = np.nan
    retention[arche == "watched_lookalike"] = np.nan
    recording = np.where(arche == "recording_off", "off", "automatic").astype(object)
    created = t0 - pd.to_timedelta(rng.integers(30, 400, size=n), unit="D") \
        + pd.to_timedelta(rng.integers(0, 86400, size=n), unit="s")
    return pd.DataFrame({
        "uid": _hex_ids(rng, n),
        "broadcaster_id": bc["broadcaster_id"],
        "creator": bc["creator"],
        "name": bc["name"] + " live",
        "created": created,
        "modified": created,
        "enabled": True,
        "recording_mode": recording,
        "delete_recording_after_days": pd.array(retention, dtype="Int64"),
        "retention_set_at": created,
        "width": width,
        "height": height,
        "bitrate_kbps": kbps.astype(int),
        "gop_seconds": gop,
        "status": None,
    })


def _shows(rng, bc, li, t0, n_days) -> pd.DataFrame:
    day_idx = np.arange(n_days)
    weekday0 = t0.weekday()
    rows = []
    for i, b in bc.iterrows():
        if b["rhythm"] == "daily":
            mask = rng.random(n_days) < 0.9
        else:
            wd = (weekday0 + day_idx) % 7
            mask = np.isin(wd, b["weekdays"]) & (rng.random(n_days) < 0.95)
        days = day_idx[mask]
        rows.append(pd.DataFrame({"b": i, "day": days}))
    s = pd.concat(rows, ignore_index=True)
    n = len(s)
    hour = bc["show_hour"].to_numpy()[s["b"]]
    offset = hour * 3600 + rng.integers(0, 45 * 60, size=n)
    start = t0 + pd.to_timedelta(s["day"] * 86400 + offset, unit="s")
    duration = np.clip(rng.lognormal(np.log(60 * 60), 0.35, size=n), 15 * 60, 4 * 3600)
    duration = np.round(duration + rng.random(n), 3)  # fractional seconds, as Stream reports
    li_row = s["b"].to_numpy()  # one live input per broadcaster
    errored = rng.random(n) < 0.02
    ready_delay = rng.integers(60, 300, size=n)
    kbps = li["bitrate_kbps"].to_numpy()[li_row] * rng.uniform(0.95, 1.05, size=n)
    size = np.round(duration * kbps * 1000 / 8).astype(np.int64)
    return pd.DataFrame({
        "b": s["b"],
        "live_input_uid": li["uid"].to_numpy()[li_row],
        "start": start,
        "end": start + pd.to_timedelta(duration, unit="s"),
        "duration": duration,
        "size": size,
        "errored": errored,
        "ready_at": start + pd.to_timedelta(duration + ready_delay, unit="s"),
        "uid": _hex_ids(rng, n),
        "recorded": li["recording_mode"].to_numpy()[li_row] == "automatic",
    })


def _clips(rng, bc, preset, t0, n_days, now):
    n_b = len(bc)
    per_b = rng.poisson(preset.clips_per_week * n_days / 7, size=n_b)
    b = np.repeat(np.arange(n_b), per_b)
    n = len(b)
    created = t0 + pd.to_timedelta(rng.integers(0, n_days * 86400, size=n), unit="s")
    upload_secs = rng.integers(60, 1200, size=n)
    duration = np.round(rng.uniform(20, 180, size=n) + rng.random(n), 3)
    clips = pd.DataFrame({
        "b": b,
        "uid": _hex_ids(rng, n),
        "created": created,
        "uploaded": created + pd.to_timedelta(upload_secs, unit="s"),
        "ready_at": created + pd.to_timedelta(upload_secs + rng.integers(30, 120, size=n),
                                              unit="s"),
        "duration": duration,
        "size": np.round(duration * 4_800_000 / 8 * rng.uniform(0.9, 1.1, size=n)).astype(
            np.int64),
        "max_duration_seconds": 600,
        "deleted_manually": np.where(
            rng.random(n) < 0.05,
            created + pd.to_timedelta(rng.integers(2, 60, size=n), unit="D"),
            pd.NaT,
        ),
        "od_level": rng.lognormal(np.log(8), 0.8, size=n),
        "od_tau": rng.uniform(60, 200, size=n),
    })
    n_ab = max(1, n // 10)
    ab_created = t0 + pd.to_timedelta(rng.integers(0, n_days * 86400, size=n_ab), unit="s")
    # Three uploads started in the last hours before `now` are still pending at first sight.
    ab_created = ab_created.append(now - pd.to_timedelta([2, 3, 5], unit="h"))
    n_ab += 3
    abandoned = pd.DataFrame({
        "b": rng.integers(0, n_b, size=n_ab),
        "uid": _hex_ids(rng, n_ab),
        "created": ab_created,
        "expiry": ab_created + pd.Timedelta(hours=6),
        "max_duration_seconds": 3600,
    })
    return clips, abandoned


# --- viewing --------------------------------------------------------------------------------

CHUNK_ROWS = 2_000_000  # potential rows generated, drawn and reduced at a time


@dataclass
class Views:
    """Minutes viewed per (video, day, country), before deletions are applied, held compactly.

    Rows are codes into small per-video arrays, so three years of a large account fit in
    memory; `frame(first, last)` expands only the days asked for.
    """

    uids: np.ndarray  # video uid per video code (shows, then clips)
    li: np.ndarray  # live input uid per video code ("" for clips)
    b: np.ndarray  # broadcaster row per video code
    creator: np.ndarray  # creator per broadcaster row
    vidx: np.ndarray  # per row: video code
    is_live: np.ndarray
    day: np.ndarray  # per row: days since 1970-01-01 (int32)
    country: np.ndarray  # per row: index into HIGH_BW + LOW_BW
    minutes: np.ndarray
    _by_day: bool = False  # rows are sorted by day (stable): ranges are slices
    _rank: np.ndarray | None = field(default=None, repr=False)
    _rank_li: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.vidx)

    def select(self, first: pd.Timestamp | None = None,
               last: pd.Timestamp | None = None) -> np.ndarray | slice:
        """Which rows have a day in [first, last] (both optional): a slice when the rows are
        in day order (as `_views` leaves them after `sort_by_day`), else a mask."""
        lo = _epoch_day(first) if first is not None else None
        hi = _epoch_day(last) if last is not None else None
        if self._by_day:
            start = 0 if lo is None else int(np.searchsorted(self.day, lo, side="left"))
            stop = len(self.day) if hi is None else int(np.searchsorted(self.day, hi,
                                                                        side="right"))
            return slice(start, max(start, stop))
        sel = np.ones(len(self.day), dtype=bool)
        if lo is not None:
            sel &= self.day >= lo
        if hi is not None:
            sel &= self.day <= hi
        return sel

    def uid_rank(self, li_uids: np.ndarray) -> np.ndarray:
        """Sort rank of each video uid (codes 0..n-1) and then each of `li_uids` (codes n..),
        among all of them: ordering by it orders by the uid text. Cached (the uids are fixed)."""
        if self._rank is None or self._rank_li is None or \
                not np.array_equal(self._rank_li, li_uids):
            text = np.concatenate([self.uids, li_uids]).astype(str)
            rank = np.empty(len(text), dtype=np.int64)
            rank[np.argsort(text, kind="stable")] = np.arange(len(text))
            self._rank, self._rank_li = rank, np.asarray(li_uids)
        return self._rank

    def frame(self, first: pd.Timestamp | None = None,
              last: pd.Timestamp | None = None) -> pd.DataFrame:
        """The rows whose day is in [first, last] (both optional), as a frame."""
        sel = self.select(first, last)
        vidx = self.vidx[sel]
        b = self.b[vidx]

        def text(values: np.ndarray) -> pd.Series:  # kept as objects: no Arrow copy per row
            return pd.Series(values, dtype=object)

        return pd.DataFrame({
            "vid": text(self.uids[vidx]),
            "li": text(self.li[vidx]),
            "is_live": self.is_live[sel],
            "b": b,
            "day": pd.to_datetime(self.day[sel].astype("datetime64[D]").astype("datetime64[us]"),
                                  utc=True),
            "country": text(np.asarray(HIGH_BW + LOW_BW, dtype=object)[self.country[sel]]),
            "minutes": self.minutes[sel].astype(np.int64),
            "creator": text(self.creator[b]),
        })


def _views(rng, bc, li, shows, clips, horizon_end) -> Views:
    """Potential minutes viewed per (video, day, country); deletions are applied later.

    The random numbers are drawn in the same calls and order as one whole-history frame
    would need (Poisson over live, on-demand then clip rows; multinomials per broadcaster),
    but the rows are generated and reduced a bounded chunk at a time.
    """
    arche = bc["archetype"].to_numpy()
    pop = bc["popularity"].to_numpy()
    n_shows = len(shows)
    s_b = shows["b"].to_numpy()
    show_day = _days(shows["start"])
    live_lambda = pop[s_b] * shows["duration"].to_numpy() / 60 * 0.35
    watchable = ~shows["errored"].to_numpy()
    # On demand: a heavy-tailed mix of decay curves (most fade in days, a few sell for months).
    rec_rows = np.flatnonzero(shows["recorded"].to_numpy() & watchable)
    r_b = s_b[rec_rows]
    n = len(rec_rows)
    long_tail = rng.random(n) < 0.12
    tau = np.where(long_tail, rng.uniform(30, 150, size=n), rng.lognormal(np.log(1.5), 0.4, n))
    level = pop[r_b] * shows["duration"].to_numpy()[rec_rows] / 60 * 0.08 \
        * np.where(long_tail, 0.15, 1.0)
    level[arche[r_b] == "never_watched"] = 0.0
    lk = arche[r_b] == "watched_lookalike"
    tau[lk] = rng.uniform(60, 150, size=lk.sum())
    level[lk] = rng.uniform(25, 45, size=lk.sum())
    horizon = np.datetime64(horizon_end.tz_convert(None).date(), "D")
    # Poisson draws over potential rows, in the order live, on demand, clips.
    kept: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def draw_rows(vidx, day, lam, is_live) -> None:
        ok = day <= horizon
        vidx, day, lam = vidx[ok], day[ok], lam[ok]
        total = rng.poisson(lam)
        keep = total > 0
        kept.append((vidx[keep].astype(np.int32), day[keep].astype(np.int64).astype(np.int32),
                     np.full(int(keep.sum()), is_live), total[keep].astype(np.int32)))

    draw_rows(np.arange(n_shows), show_day, live_lambda, True)
    for src, age, lam in _decay_chunks(show_day[rec_rows], level, tau, horizon, first_age=1):
        draw_rows(rec_rows[src], show_day[rec_rows][src] + age, lam, False)
    clip_day = _days(clips["ready_at"])
    for src, age, lam in _decay_chunks(clip_day, clips["od_level"].to_numpy(),
                                       clips["od_tau"].to_numpy(), horizon, first_age=0):
        draw_rows(n_shows + src, clip_day[src] + age, lam, False)
    vidx = np.concatenate([k[0] for k in kept])
    day = np.concatenate([k[1] for k in kept])
    is_live = np.concatenate([k[2] for k in kept])
    total = np.concatenate([k[3] for k in kept])
    kept.clear()
    # Total minutes per (video, day), then split over the broadcaster's country mix.
    mixes = _country_mixes(rng, bc)
    video_b = np.concatenate([s_b, clips["b"].to_numpy()]).astype(np.int32)
    row_b = video_b[vidx]
    order = np.argsort(row_b, kind="stable")
    bounds = np.searchsorted(row_b[order], np.arange(len(bc) + 1))
    rows, cols, counts = [], [], []
    borderline = (HIGH_BW + LOW_BW).index(BORDERLINE_LOW_BW)
    low = np.arange(len(HIGH_BW), len(HIGH_BW) + len(LOW_BW))
    for b_i in range(len(bc)):
        idx = order[bounds[b_i]:bounds[b_i + 1]]
        for lo in range(0, len(idx), CHUNK_ROWS // 4):
            part = idx[lo:lo + CHUNK_ROWS // 4]
            mat = rng.multinomial(total[part].astype(np.int64), mixes[b_i])
            if arche[b_i] == "overprovisioned":
                # the planted audience is clearly low-bandwidth: the borderline country takes
                # the smallest low-bandwidth share (a relabelling: no draw changes)
                least = low[np.argmin(mixes[b_i][low])]
                mat[:, [borderline, least]] = mat[:, [least, borderline]]
            r, c = np.nonzero(mat)
            rows.append(part[r].astype(np.int32))
            cols.append(c.astype(np.int8))
            counts.append(mat[r, c].astype(np.int32))
    row = np.concatenate(rows)
    return Views(
        uids=np.concatenate([shows["uid"].to_numpy(), clips["uid"].to_numpy()]),
        li=np.concatenate([shows["live_input_uid"].to_numpy(),
                           np.full(len(clips), "", dtype=object)]),
        b=video_b, creator=bc["creator"].to_numpy(),
        vidx=vidx[row], is_live=is_live[row], day=day[row],
        country=np.concatenate(cols), minutes=np.concatenate(counts),
    )


def _epoch_day(ts: pd.Timestamp) -> int:
    """Days from 1970-01-01 to the UTC day of `ts`."""
    return int(np.datetime64(ts.tz_convert(None).date(), "D").astype(np.int64))


def _days(ts: pd.Series) -> np.ndarray:
    """The UTC calendar day of each timestamp, as datetime64[D]."""
    return ts.dt.tz_convert(None).to_numpy().astype("datetime64[D]")


def _decay_chunks(day0, level, tau, horizon, first_age=1):
    """(source, age, expected minutes) for each day a decay curve is above the floor,
    a bounded number of rows at a time, in source order."""
    floor = 0.03  # stop generating where the expected minutes per day drop below this
    with np.errstate(divide="ignore"):
        max_age = np.where(level > floor, np.ceil(tau * np.log(level / floor)), 0)
    span = (horizon - day0).astype(np.int64)
    max_age = np.minimum(max_age, np.maximum(span, 0)).astype(int)
    counts = np.maximum(max_age - first_age + 1, 0)
    for lo, hi in _spans(counts, CHUNK_ROWS):
        c = counts[lo:hi]
        rep = np.repeat(np.arange(lo, hi), c)
        starts = np.repeat(np.cumsum(c) - c, c)
        age = np.arange(len(rep)) - starts + first_age
        yield rep, age, level[rep] * np.exp(-age / tau[rep])


def _spans(counts: np.ndarray, chunk_rows: int):
    """Consecutive [lo, hi) ranges of sources whose rows add up to about `chunk_rows`."""
    ends = np.cumsum(counts)
    lo = 0
    while lo < len(counts):
        base = ends[lo - 1] if lo else 0
        hi = max(int(np.searchsorted(ends, base + chunk_rows, side="right")), lo + 1)
        yield lo, hi
        lo = hi


def _country_mixes(rng, bc) -> np.ndarray:
    n_h, n_l = len(HIGH_BW), len(LOW_BW)
    mixes = np.empty((len(bc), n_h + n_l))
    for i, share in enumerate(bc["low_bw_share"].to_numpy()):
        hi = rng.dirichlet(np.ones(n_h) * 0.8) * (1 - share)
        lo = rng.dirichlet(np.ones(n_l) * 0.8) * share
        mixes[i] = np.concatenate([hi, lo])
    return mixes


# --- R2 --------------------------------------------------------------------------------------

#: The recordings archive (planted: an IA rule that pays off): objects, sizes, reads a day.
ARCHIVE_OBJECTS = 300
ARCHIVE_SIZE = (2_000_000_000, 5_000_000_000)
ARCHIVE_READS_PER_DAY = 0.4  # across the archive: a handful a month, at every age


def _r2(rng: np.random.Generator, bc: pd.DataFrame, li: pd.DataFrame, shows: pd.DataFrame,
        preset: Preset, t0: pd.Timestamp, horizon_end: pd.Timestamp,
        archive_rng: np.random.Generator | None = None,
        ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, list[Planted]]:
    planted: list[Planted] = []
    ok = shows[shows["recorded"] & ~shows["errored"]].reset_index(drop=True)
    # MP4 exports: most broadcasters export recordings; bytes follow the ingest bitrate.
    exports_by_b = rng.random(len(bc)) < 0.7
    exports_by_b[bc["archetype"].isin(["overprovisioned", "high_bitrate_lookalike"])] = True
    ex = ok[exports_by_b[ok["b"].to_numpy()]].reset_index(drop=True)
    ex_created = ex["ready_at"] + pd.to_timedelta(rng.integers(600, 3600, size=len(ex)), "s")
    exports = pd.DataFrame({
        "bucket": BUCKETS["exports"],
        "key": "exports/" + ex["live_input_uid"] + "/" + ex["uid"] + ".mp4",
        "size": (ex["size"].to_numpy() * 0.92).astype(np.int64),
        "created": ex_created,
        "read_level": 3.0, "read_tau": 3.0, "read_until_age": 100_000,
        "read_floor": 0.02,  # the odd late download, also after the move to IA
    })
    # Storyboard sprite sheets, one per recording, for scrubbing previews (planted: never
    # read after their first week; big enough that keeping them costs real money) ...
    th_created = ok["ready_at"] + pd.Timedelta(seconds=30)
    thumbs = pd.DataFrame({
        "bucket": BUCKETS["thumbnails"],
        "key": "shows/" + ok["uid"] + "/storyboard.jpg",
        "size": rng.integers(8_000_000, 25_000_000, size=len(ok)),
        "created": th_created,
        "read_level": 40.0, "read_tau": 2.0, "read_until_age": 6,
    })
    # ... and channel avatars, read every day (healthy look-alike in the same bucket).
    avatars = pd.DataFrame({
        "bucket": BUCKETS["thumbnails"],
        "key": "channels/" + bc["broadcaster_id"] + "/avatar.jpg",
        "size": rng.integers(40_000, 120_000, size=len(bc)),
        "created": t0 - pd.to_timedelta(rng.integers(30, 400, size=len(bc)), "D"),
        "read_level": 30.0, "read_tau": np.inf, "read_until_age": 100_000,
    })
    n_p = preset.products
    products = pd.DataFrame({
        "bucket": BUCKETS["products"],
        "key": [f"products/sku-{i // 3:05d}/{i % 3}.jpg" for i in range(n_p)],
        "size": rng.integers(300_000, 2_000_000, size=n_p),
        "created": t0 + pd.to_timedelta(
            rng.integers(-365 * 86400, (horizon_end - t0).days * 86400, size=n_p), "s"),
        "read_level": rng.lognormal(np.log(6), 0.7, size=n_p), "read_tau": np.inf,
        "read_until_age": 100_000,
    })
    report_days = pd.date_range(t0, horizon_end, freq="D")
    names = ["orders", "viewers", "payouts"]
    rep_day = np.repeat(report_days, len(names))
    reports = pd.DataFrame({
        "bucket": BUCKETS["reports"],
        "key": [f"reports/{d:%Y-%m-%d}/{n}.csv" for d, n in
                zip(rep_day, names * len(report_days), strict=True)],
        "size": rng.integers(1_000_000, 20_000_000, size=len(rep_day)),
        "created": rep_day + pd.to_timedelta(rng.integers(3600, 7200, size=len(rep_day)), "s"),
        "read_level": 2.0, "read_tau": 1.0, "read_until_age": 1,
    })
    objects = pd.concat([exports, thumbs, avatars, products, reports], ignore_index=True)
    objects = objects[objects["created"] <= horizon_end + DAY].reset_index(drop=True)
    objects["etag"] = _etag(objects["key"])
    objects["metadata_size"] = objects["key"].str.len().astype(np.int64) + 64

    lifecycle = pd.DataFrame([
        {"bucket": BUCKETS["exports"], "rule_id": "exports-to-ia", "prefix": "exports/",
         "transition_days": 90, "transition_class": "STANDARD_IA", "expire_days": None},
        {"bucket": BUCKETS["reports"], "rule_id": "expire-reports", "prefix": "reports/",
         "transition_days": None, "transition_class": None, "expire_days": 60},
    ])
    reads = _object_reads(rng, objects, t0, horizon_end)
    bucket_ops = _bucket_ops(rng, objects, t0, horizon_end)
    if archive_rng is not None:  # its own generator: every other draw stays as it was
        objects, reads, archived = _archive(archive_rng, objects, reads, t0, horizon_end)
        lifecycle = pd.concat([lifecycle, pd.DataFrame([archived])], ignore_index=True)
        planted.append(Planted(
            "costly_lifecycle_rule", f"{BUCKETS['exports']}/exports/", False,
            "exports move to Infrequent Access after 90 days: each month's transitions bill a "
            "whole million IA Class A operations, more than the IA storage of the exports "
            "saves"))
        planted.append(Planted(
            "costly_lifecycle_rule", f"{BUCKETS['exports']}/archive/", True,
            f"a ~{ARCHIVE_OBJECTS * sum(ARCHIVE_SIZE) // 2 // 10**12} TB archive moved to "
            "Infrequent Access long ago and read a few times a month: its IA rule saves more "
            "than its IA reads and retrieval cost"))
    planted.append(Planted(
        "cold_prefix", f"{BUCKETS['thumbnails']}/shows/", False,
        "show storyboard sprites are read only in their first 7 days, then never again"))
    planted.append(Planted(
        "cold_prefix", f"{BUCKETS['thumbnails']}/channels/", True,
        "channel avatars in the same bucket are read every day"))
    planted.append(Planted(
        "cold_prefix", f"{BUCKETS['products']}/products/", True,
        "product images are read every day for their whole life"))
    return objects, reads, bucket_ops, lifecycle, planted


def _archive(rng, objects, reads, t0, horizon_end):
    """Old recordings kept in `archive/` of the exports bucket, all moved to IA long ago (no
    transition in the simulated period) and read now and then at every age."""
    n = ARCHIVE_OBJECTS
    archive = pd.DataFrame({
        "bucket": BUCKETS["exports"],
        "key": [f"archive/{i:04d}.mp4" for i in range(n)],
        "size": rng.integers(*ARCHIVE_SIZE, size=n),
        "created": t0 - pd.to_timedelta(rng.integers(400, 700, size=n), "D")
        - pd.to_timedelta(rng.integers(0, 86400, size=n), "s"),
        "read_level": 0.0, "read_tau": np.inf, "read_until_age": 100_000,
        "read_floor": ARCHIVE_READS_PER_DAY / n,
    })
    archive["etag"] = _etag(archive["key"])
    archive["metadata_size"] = archive["key"].str.len().astype(np.int64) + 64
    more = _object_reads(rng, archive, t0, horizon_end)
    more["obj"] += len(objects)
    rule = {"bucket": BUCKETS["exports"], "rule_id": "archive-to-ia", "prefix": "archive/",
            "transition_days": 30, "transition_class": "STANDARD_IA", "expire_days": np.nan}
    return (pd.concat([objects, archive], ignore_index=True),
            pd.concat([reads, more], ignore_index=True), rule)


def _object_reads(rng, objects, t0, horizon_end) -> pd.DataFrame:
    """GetObject successes per object per day, from the period start (t0) on."""
    c_day = objects["created"].dt.floor("D")
    first = np.maximum((t0 - c_day).dt.days, 0)
    last = np.minimum((horizon_end - c_day).dt.days.to_numpy(),
                      objects["read_until_age"].to_numpy())
    first = first.to_numpy()
    counts = np.maximum(last - first + 1, 0)
    read_level = objects["read_level"].to_numpy()
    read_floor = objects["read_floor"].fillna(0.0).to_numpy()
    read_tau = objects["read_tau"].to_numpy()
    objs, ages, reqs = [], [], []
    for lo, hi in _spans(counts, CHUNK_ROWS):
        c = counts[lo:hi]
        rep = np.repeat(np.arange(lo, hi), c)
        starts = np.repeat(np.cumsum(c) - c, c)
        age = np.arange(len(rep)) - starts + first[rep]
        lam = read_level[rep] * np.exp(-age / read_tau[rep]) + read_floor[rep]
        n = rng.poisson(lam)
        keep = n > 0
        objs.append(rep[keep])
        ages.append(age[keep])
        reqs.append(n[keep].astype(np.int64))
    rep = np.concatenate(objs) if objs else np.zeros(0, dtype=np.int64)
    age = np.concatenate(ages) if ages else np.zeros(0, dtype=np.int64)
    return pd.DataFrame({
        "obj": rep,
        "day": pd.DatetimeIndex(c_day.to_numpy()[rep]) + pd.to_timedelta(age, "D"),
        "requests": np.concatenate(reqs) if reqs else np.zeros(0, dtype=np.int64),
    })


def _bucket_ops(rng, objects, t0, horizon_end) -> pd.DataFrame:
    """Bucket-level requests per day: listings, failed reads (404, 500) and requests refused
    for authentication (401) or authorization (403), which R2 does not bill."""
    days = pd.date_range(t0, horizon_end, freq="D")
    n = len(days)
    rows = []

    def add(bucket: str, action: str, status: str, code: int, rate: float) -> None:
        rows.append(pd.DataFrame({"bucket": bucket, "day": days, "action_type": action,
                                  "action_status": status, "response_status_code": code,
                                  "requests": rng.poisson(rate, size=n)}))

    for bucket in BUCKETS.values():
        add(bucket, "ListObjectsV2", "success", 200, 24)
        add(bucket, "GetObject", "userError", 404, 2.0)
        add(bucket, "GetObject", "internalError", 500, 0.05)
    # drawn after the rows above so that adding them left every earlier draw unchanged
    for bucket in BUCKETS.values():
        add(bucket, "GetObject", "userError", 401, 1.5)  # expired presigned URLs
        add(bucket, "PutObject", "userError", 403, 0.5)  # a token without write access
    ops = pd.concat(rows, ignore_index=True)
    return ops[ops["requests"] > 0].reset_index(drop=True)
