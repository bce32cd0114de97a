"""The simulated account: the draws plus its settings, a movable clock and the ground truth.

`SimulatedAccount` is what the emulated API serves. Its state is *derived*: random draws
(fixed by the seed) + settings history (retention, recording mode, edits, deletions) +
the clock. Mutations append to the settings history and re-derive lazily, so an edit made
through the API is visible in the next listing and re-simulation never re-rolls the dice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from ..errors import SandboxError
from . import live_days, live_shows
from .cost_anomaly import plant_cost_anomaly
from .op_classes import operation_class
from .presets import Preset, get_preset
from .simulator import HIGH_BW, LOW_BW, MULTIPART_CHUNK, UTC, Draws, Planted, draw
from .zone import SimulatedZone

UNSET: object = object()
#: HTTP responses R2 does not bill (the sandbox's own copy of the rule, reference section 6)
NOT_BILLED_CODES = (401, 403)
MIN_RETENTION_DAYS, MAX_RETENTION_DAYS = 30, 1096


class RuleViolation(SandboxError):
    """A change the real API would refuse (e.g. scheduledDeletion under 30 days)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message, code=code)
        self.code = code


@dataclass
class GroundTruth:
    """Exact figures a sync and the cost model must reproduce, as of the account's clock.

    Day-level tables cover [start, end] (end = the last complete day before `now`).
    """

    now: pd.Timestamp
    start: date
    end: date
    minutes_viewed: pd.DataFrame  # date, uid, country, creator, minutes_viewed, is_live
    minutes_viewed_daily: pd.DataFrame  # date, minutes_viewed
    minutes_viewed_by_video: pd.DataFrame  # uid, minutes_viewed
    stored_minutes_daily: pd.DataFrame  # date, stored_seconds, stored_minutes, capacity_minutes
    storage_usage: dict  # what GET storage-usage answers at `now`
    videos: pd.DataFrame  # every video the API lists at `now`
    live_inputs: pd.DataFrame
    r2_objects: pd.DataFrame  # bucket, key, size, etag, last_modified, storage_class
    r2_objects_summary: pd.DataFrame  # bucket, storage_class, objects, bytes
    r2_lifecycle: pd.DataFrame
    r2_storage_daily: pd.DataFrame  # date, bucket, payload_size, metadata_size, object_count
    # date, bucket, action_type, action_status, response_status_code, requests (all requests)
    r2_operations_daily: pd.DataFrame
    r2_operations_by_class: pd.DataFrame  # date, bucket, op_class, requests (all requests)
    r2_storage_daily_by_class: pd.DataFrame  # date, bucket, storage_class, bytes
    # date, bucket, op_class, storage_class, requests: billable only (no 401/403)
    r2_billing_operations: pd.DataFrame
    r2_ia_retrieval_daily: pd.DataFrame  # date, bucket, bytes read from IA by GetObject
    capacity_minutes: int
    exhaustion_date: date | None  # first day stored minutes reach capacity (current settings)
    planted: list[Planted] = field(default_factory=list)


class SimulatedAccount:
    """A deterministic live-commerce account on Cloudflare Stream + R2.

    >>> acct = SimulatedAccount.build("small", seed=7, end=date(2026, 6, 30))
    >>> acct.now.isoformat()
    '2026-07-01T00:00:00+00:00'
    """

    def __init__(self, preset: Preset, seed: int, end: date, days: int | None = None) -> None:
        self.preset = preset
        self.seed = seed
        self.days = days or preset.days
        if self.days < 31:
            raise SandboxError(f"a sandbox needs at least 31 days of history (got {self.days})")
        self.start = end - timedelta(days=self.days - 1)
        self.horizon_end = end + timedelta(days=preset.future_days)
        self.account_id = _account_id(seed)
        self._now = pd.Timestamp(end + timedelta(days=1), tz=UTC)
        self.draws: Draws = draw(preset, seed, self.start, self.horizon_end,
                                 end + timedelta(days=1))
        plant_cost_anomaly(self.draws, seed, end)
        live_days.split_at_midnight(self.draws, seed)  # a show's minutes on their own days
        # settings history
        li = self.draws.live_inputs
        self._retention_hist = pd.DataFrame({
            "li": li["uid"], "at": li["retention_set_at"],
            "days": li["delete_recording_after_days"],
        })
        self._recording_hist = pd.DataFrame({
            "li": li["uid"], "at": li["created"], "mode": li["recording_mode"],
        })
        self.live_input_state = li.set_index("uid", drop=False).copy()
        self.live_input_state["hide_live_viewer_count"] = False  # recording.hideLiveViewerCount
        self._video_sched_edits: dict[str, pd.Timestamp | None] = {}
        self._video_meta_edits: dict[str, dict] = {}
        self._video_modified: dict[str, pd.Timestamp] = {}
        self._api_deleted: dict[str, pd.Timestamp] = {}
        self.lifecycle = self.draws.lifecycle.copy()
        self._derived: dict | None = None  # rebuilt after every edit and advance
        self._base: tuple | None = None  # ... but only after an edit that is not a video's
        d = self._state()
        self.capacity_minutes = _capacity(d["stored"], self._now, preset.runway_days)
        self.planted = list(self.draws.planted) + self._planted_stream(d) \
            + live_shows.planted(self)

    @classmethod
    def build(cls, preset: str = "small", seed: int = 7, end: date | None = None,
              days: int | None = None) -> SimulatedAccount:
        """Build an account; `end` is its last complete day (default: yesterday, UTC)."""
        end = end or (datetime.now(UTC).date() - timedelta(days=1))
        return cls(get_preset(preset), seed, end, days)

    # --- the zone (CDN) ----------------------------------------------------------------
    @property
    def zone(self) -> SimulatedZone:
        """The account's zone (drawn on first use from its own RNG: the account's draws and
        ground truth do not change); `zone.planted()` holds its planted situation."""
        zone = self.__dict__.get("_zone")
        if zone is None:
            zone = self._zone = SimulatedZone.build(self.seed, self.start + timedelta(
                days=self.days - 1), self.horizon_end)
        return zone

    # --- clock ---------------------------------------------------------------------------
    @property
    def now(self) -> pd.Timestamp:
        return self._now

    @property
    def end(self) -> date:
        return (self._now - pd.Timedelta(days=1)).date()

    def advance(self, days: int = 1) -> None:
        """Move the clock forward, revealing more of the simulated future."""
        new = self._now + pd.Timedelta(days=days)
        if new.date() > self.horizon_end + timedelta(days=1):
            raise SandboxError(f"cannot advance past the simulated horizon ({self.horizon_end})")
        self._now = new
        self._base = self._derived = None

    # --- derivation ---------------------------------------------------------------------
    def _state(self) -> dict:
        if self._derived is None:
            if self._base is None:
                self._base = self._derive_base()
            self._derived = self._with_video_edits(*self._base)
        return self._derived

    def _derive_base(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """(videos before the API's edits and deletions, shows, objects): what a video edit
        leaves alone, so applying a plan of many video edits does not re-derive it each time."""
        dr = self.draws
        shows = dr.shows.copy()
        # Settings in force when each show started.
        shows = shows.sort_values("start")
        ret = pd.merge_asof(shows[["uid", "start", "live_input_uid"]],
                            self._retention_hist.sort_values("at"),
                            left_on="start", right_on="at", left_by="live_input_uid",
                            right_by="li", direction="backward")
        rec = pd.merge_asof(shows[["uid", "start", "live_input_uid"]],
                            self._recording_hist.sort_values("at"),
                            left_on="start", right_on="at", left_by="live_input_uid",
                            right_by="li", direction="backward")
        shows["retention_days"] = ret["days"].to_numpy()
        shows["recorded"] = (rec["mode"] == "automatic").to_numpy()
        shows = shows.sort_index()
        bc = dr.broadcasters
        recs = shows[shows["recorded"]]
        creator = bc["creator"].to_numpy()
        li_meta = self.live_input_state
        li_names = li_meta.loc[recs["live_input_uid"], "name"].to_numpy()
        recordings = pd.DataFrame({
            "uid": recs["uid"],
            "kind": "recording",
            "live_input": recs["live_input_uid"],
            "creator": creator[recs["b"]],
            "name": (pd.Series(li_names, index=recs.index, dtype=object) + " "
                     + recs["start"].dt.strftime("%Y-%m-%d %H:%M").astype(object)).astype(str),
            "created": recs["start"],
            "uploaded": recs["end"],
            "live_end": recs["end"],
            "ready_at": recs["ready_at"],
            "duration": recs["duration"],
            "size": recs["size"],
            "width": li_meta.loc[recs["live_input_uid"], "width"].to_numpy(),
            "height": li_meta.loc[recs["live_input_uid"], "height"].to_numpy(),
            "errored": recs["errored"],
            "max_duration_seconds": pd.NA,
            "upload_expiry": pd.NaT,
            "policy_deletion": recs["ready_at"] + pd.to_timedelta(
                recs["retention_days"].astype("float"), unit="D"),
            "manual_deletion": pd.NaT,
        })
        cl = dr.clips
        clips = pd.DataFrame({
            "uid": cl["uid"], "kind": "clip", "live_input": None,
            "creator": creator[cl["b"]],
            "name": [f"product clip {u[:6]}" for u in cl["uid"]],
            "created": cl["created"], "uploaded": cl["uploaded"], "live_end": pd.NaT,
            "ready_at": cl["ready_at"], "duration": cl["duration"], "size": cl["size"],
            "width": 1080, "height": 1920, "errored": False,
            "max_duration_seconds": cl["max_duration_seconds"],
            "upload_expiry": cl["created"] + pd.Timedelta(hours=1),
            "policy_deletion": pd.NaT, "manual_deletion": cl["deleted_manually"],
        })
        ab = dr.abandoned
        uploads = pd.DataFrame({
            "uid": ab["uid"], "kind": "upload", "live_input": None,
            "creator": creator[ab["b"]], "name": "",
            "created": ab["created"], "uploaded": pd.NaT, "live_end": pd.NaT,
            "ready_at": pd.NaT, "duration": -1.0, "size": 0, "width": -1, "height": -1,
            "errored": False, "max_duration_seconds": ab["max_duration_seconds"],
            "upload_expiry": ab["expiry"], "policy_deletion": pd.NaT,
            "manual_deletion": ab["expiry"],
        })
        videos = pd.concat([recordings, clips, uploads], ignore_index=True)
        for col in ("created", "uploaded", "live_end", "ready_at", "upload_expiry",
                    "policy_deletion", "manual_deletion"):
            videos[col] = _utc(videos[col])
        videos["stored_seconds"] = np.where(
            videos["errored"] | (videos["duration"] < 0), 0,
            np.ceil(videos["duration"].clip(lower=0)),
        ).astype(np.int64)
        return videos, shows, self._derive_objects()

    def _with_video_edits(self, base: pd.DataFrame, shows: pd.DataFrame,
                          objects: pd.DataFrame) -> dict:
        """The derived state: `base` videos with the scheduled deletions and deletions the
        API made applied."""
        videos = base.copy()
        sched = videos["policy_deletion"].copy()
        edited = videos["uid"].isin(self._video_sched_edits.keys())  # None clears it
        sched[edited] = _utc(videos.loc[edited, "uid"].map(self._video_sched_edits))
        videos["scheduled_deletion"] = sched
        api_del = _utc(videos["uid"].map(self._api_deleted))
        videos["deleted_at"] = _utc(pd.concat(
            [_utc(sched), videos["manual_deletion"], api_del], axis=1).min(axis=1))
        videos["stored_seconds"] = videos.pop("stored_seconds")  # the columns' usual order
        videos = videos.set_index("uid", drop=False)
        return _Derived(self, videos=videos, shows=shows, objects=objects)

    def _derive_views(self, shows: pd.DataFrame, videos: pd.DataFrame,
                      first: pd.Timestamp | None = None,
                      last: pd.Timestamp | None = None) -> pd.DataFrame:
        """Minutes viewed at the API's grain, for the days in [first, last] (default: all).

        Worked on integer codes (video, live input, day, country): strings are looked up
        only for the rows that come out, so a month of a large account stays cheap.
        """
        views = self.draws.views
        sel = views.select(first, last)
        vidx = views.vidx[sel]
        day = views.day[sel].astype(np.int64)
        is_live = views.is_live[sel]
        codes = _view_codes(views, shows, videos) if self._derived is None \
            or self._derived.get("videos") is not videos else self._derived["view_codes"]
        rec = codes.recorded[vidx]
        keep = (rec | is_live) & ~(rec & (day >= codes.deleted_day[vidx]))
        failed = self._failed_show()
        if failed is not None:  # a show that failed to start had no viewers
            keep &= ~(is_live & (vidx == failed))
        vidx, day, rec = vidx[keep], day[keep], rec[keep]
        # Recording off: Stream attributes live viewing to the live input itself.
        ucode = np.where(rec, vidx, len(views.uids) + codes.live_input[vidx])
        country = views.country[sel][keep].astype(np.int64)
        # Two source rows can map to one key (recording-off attribution can): sum them at
        # the API's grain, ordered by (date, uid, country) as the API sorts; the creator
        # follows from the uid.
        d0 = int(day.min()) if len(day) else 0
        key = ((day - d0) * len(codes.uid_rank) + codes.uid_rank[ucode]) * len(codes.countries) \
            + codes.country_rank[country]
        order = np.argsort(key, kind="stable")
        key = key[order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else \
            np.zeros(0, dtype=np.int64)
        first_rows = order[starts]
        minutes = views.minutes[sel][keep].astype(np.int64)[order]
        live = is_live[keep][order]
        b = views.b[vidx[first_rows]]
        return pd.DataFrame({
            "date": pd.to_datetime(day[first_rows].astype("datetime64[D]").astype(
                "datetime64[us]"), utc=True),
            "uid": codes.uids.take(ucode[first_rows]),
            "country": codes.countries.take(country[first_rows]),
            "creator": codes.creators.take(b),
            "minutes_viewed": np.add.reduceat(minutes, starts) if len(starts)
            else np.zeros(0, dtype=np.int64),
            "is_live": np.maximum.reduceat(live, starts) if len(starts)
            else np.zeros(0, dtype=bool),
        })

    def _failed_show(self) -> int | None:
        """The show that failed to start (the planted quota failure), once the capacity it
        depends on is known (stored minutes do not depend on views: no cycle)."""
        return live_shows.quota_show(self) if hasattr(self, "capacity_minutes") else None

    def _stored_daily(self, videos: pd.DataFrame) -> pd.DataFrame:
        """Stored seconds at the end of each day (Stream storage rules, reference section 6)."""
        days = pd.date_range(pd.Timestamp(self.start, tz=UTC),
                             pd.Timestamp(self.horizon_end, tz=UTC), freq="D")
        n = len(days)
        delta = np.zeros(n + 1, dtype=np.int64)
        t0 = days[0]

        def add(times: pd.Series, amount: np.ndarray) -> None:
            idx = ((times - t0) // pd.Timedelta(days=1)).to_numpy(dtype="float")
            ok = ~np.isnan(idx)
            idx = np.clip(idx[ok], 0, n).astype(int)
            np.add.at(delta, idx, amount[ok])

        ready = videos[videos["stored_seconds"] > 0]
        add(ready["ready_at"], ready["stored_seconds"].to_numpy())
        add(ready["deleted_at"], -ready["stored_seconds"].to_numpy())
        # Pending direct uploads reserve maxDurationSeconds until they complete or expire.
        pend = videos[videos["max_duration_seconds"].notna()]
        res = pend["max_duration_seconds"].astype(np.int64).to_numpy()
        release = pend[["uploaded", "upload_expiry", "deleted_at"]].min(axis=1)
        add(pend["created"], res)
        add(release, -res)
        seconds = np.cumsum(delta)[:n]
        return pd.DataFrame({"date": days, "stored_seconds": seconds})

    def _derive_objects(self) -> pd.DataFrame:
        o = self.draws.objects.copy()
        o["deleted_at"] = pd.NaT
        o["transition_at"] = pd.NaT
        o["deleted_at"] = pd.to_datetime(o["deleted_at"], utc=True)
        o["transition_at"] = pd.to_datetime(o["transition_at"], utc=True)
        c_day = o["created"].dt.floor("D")
        for rule in self.lifecycle.itertuples():
            hit = (o["bucket"] == rule.bucket) & o["key"].str.startswith(rule.prefix or "")
            if rule.expire_days is not None and not pd.isna(rule.expire_days):
                when = c_day + pd.Timedelta(days=int(rule.expire_days) + 1, hours=1)
                o.loc[hit, "deleted_at"] = when[hit].where(
                    o.loc[hit, "deleted_at"].isna() | (when[hit] < o.loc[hit, "deleted_at"]),
                    o.loc[hit, "deleted_at"])
            if rule.transition_days is not None and not pd.isna(rule.transition_days):
                when = c_day + pd.Timedelta(days=int(rule.transition_days) + 1, hours=2)
                o.loc[hit, "transition_at"] = when[hit]
        return o

    # --- what the API sees now ---------------------------------------------------------
    def visible_videos(self) -> pd.DataFrame:
        """Every video the Stream API lists at `now`, with its state at that moment (derived
        once per state: every edit and every `advance` replaces the state)."""
        st = self._state()
        cached = st.get("visible_videos")
        if cached is None:
            cached = st["visible_videos"] = self._visible_videos(st["videos"])
        return cached.copy()

    def _visible_videos(self, v: pd.DataFrame) -> pd.DataFrame:
        now = self._now
        vis = v[(v["created"] < now) & ~(v["deleted_at"] <= now)].copy()
        live = vis["live_end"].notna() & (now < vis["live_end"])
        processing = vis["ready_at"].notna() & (now < vis["ready_at"]) & ~live
        pending = vis["kind"].eq("upload") | (vis["kind"].eq("clip") & (now < vis["uploaded"]))
        ready = vis["ready_at"].notna() & (vis["ready_at"] <= now)
        state = np.select(
            [pending, live, processing, ready & vis["errored"], ready],
            ["pendingupload", "live-inprogress", "inprogress", "error", "ready"],
            default="queued",
        )
        vis["state"] = state
        vis["ready_to_stream"] = vis["state"] == "ready"
        show_duration = vis["state"] == "ready"
        vis["duration"] = np.where(show_duration, vis["duration"], -1.0)
        vis["size"] = np.where(show_duration, vis["size"], 0)
        vis["pct_complete"] = np.where(
            vis["state"].isin(["ready", "error"]), "100.000000",
            np.where(vis["state"] == "inprogress", "50.000000", "0.000000"))
        vis["modified"] = vis[["created", "ready_at"]].max(axis=1).where(
            vis["ready_at"] <= now, vis["created"])
        mod = _utc(vis["uid"].map(self._video_modified))
        vis["modified"] = mod.fillna(_utc(vis["modified"]))
        vis["meta_name"] = vis["name"]
        for uid, meta in self._video_meta_edits.items():
            if uid in vis.index and "name" in meta:
                vis.at[uid, "meta_name"] = meta["name"]
        vis["ready_at"] = vis["ready_at"].where(vis["ready_to_stream"])
        return vis.drop(columns=["policy_deletion", "manual_deletion", "deleted_at"])

    def visible_live_inputs(self) -> pd.DataFrame:
        li = self.live_input_state
        vis = li[li["created"] < self._now].copy()
        shows = self.draws.shows
        on_air = shows[(shows["start"] <= self._now) & (self._now < shows["end"])]
        vis["status"] = None
        vis.loc[vis["uid"].isin(on_air["live_input_uid"]), "status"] = "connected"
        return vis

    def storage_usage(self, creator: str | None = None) -> dict:
        """What GET /stream/storage-usage answers at `now` (optionally for one creator)."""
        v = self._state()["videos"]
        now = self._now
        alive = (v["created"] < now) & ~(v["deleted_at"] <= now)
        if creator is not None:
            alive &= v["creator"] == creator
        ready = alive & (v["ready_at"] <= now) & (v["stored_seconds"] > 0)
        release = v[["uploaded", "upload_expiry", "deleted_at"]].min(axis=1)
        pending = alive & v["max_duration_seconds"].notna() & ~(release <= now)
        seconds = int(v.loc[ready, "stored_seconds"].sum()) + int(
            v.loc[pending, "max_duration_seconds"].astype(np.int64).sum())
        return {
            "creator": creator,
            "totalStorageMinutes": seconds / 60,
            "totalStorageMinutesLimit": self.capacity_minutes,
            "videoCount": int(alive.sum()),
        }

    def visible_objects(self) -> pd.DataFrame:
        """Every R2 object that exists at `now`, with its storage class at that moment."""
        o = self._state()["objects"]
        now = self._now
        vis = o[(o["created"] < now) & ~(o["deleted_at"] <= now)].copy()
        vis["storage_class"] = np.where(vis["transition_at"] <= now, "STANDARD_IA", "STANDARD")
        vis = vis.rename(columns={"created": "last_modified"})
        return vis[["bucket", "key", "size", "etag", "last_modified", "storage_class",
                    "metadata_size"]].sort_values(["bucket", "key"]).reset_index(drop=True)

    # --- mutations (what the emulated API's write endpoints call) --------------------
    def edit_video(self, uid: str, *, scheduled_deletion: object = UNSET,
                   meta: dict | None = None) -> None:
        """POST /stream/{uid}: scheduledDeletion must be >= 30 days after upload."""
        v = self.visible_videos()
        if uid not in v.index:
            raise RuleViolation(10003, "Not Found")
        if scheduled_deletion is not UNSET:
            if scheduled_deletion is None:
                self._video_sched_edits[uid] = None
            else:
                ts = pd.Timestamp(scheduled_deletion)
                ts = ts.tz_localize(UTC) if ts.tzinfo is None else ts.tz_convert(UTC)
                uploaded = v.at[uid, "uploaded"]
                base = uploaded if not pd.isna(uploaded) else v.at[uid, "created"]
                if ts < base + pd.Timedelta(days=30):
                    raise RuleViolation(
                        10011,
                        "scheduledDeletion must be at least 30 days after the video's "
                        "upload time",
                    )
                self._video_sched_edits[uid] = ts
        if meta is not None:
            self._video_meta_edits[uid] = dict(meta)
        self._video_modified[uid] = self._now
        self._derived = None

    def delete_video(self, uid: str) -> None:
        if uid not in self.visible_videos().index:
            raise RuleViolation(10003, "Not Found")
        self._api_deleted[uid] = self._now
        self._derived = None

    def update_live_input(self, uid: str, *, delete_recording_after_days: object = UNSET,
                          recording_mode: object = UNSET, enabled: object = UNSET,
                          meta_name: object = UNSET,
                          hide_live_viewer_count: object = UNSET) -> None:
        """PUT /stream/live_inputs/{uid}; retention applies to streams that start later."""
        if uid not in self.live_input_state.index or \
                self.live_input_state.at[uid, "created"] > self._now:
            raise RuleViolation(10003, "Not Found")
        st = self.live_input_state
        if delete_recording_after_days is not UNSET:
            d = delete_recording_after_days
            if d is not None and (isinstance(d, bool) or not isinstance(d, int)
                                  or not MIN_RETENTION_DAYS <= d <= MAX_RETENTION_DAYS):
                raise RuleViolation(
                    10011,
                    f"deleteRecordingAfterDays must be an integer from {MIN_RETENTION_DAYS} "
                    f"to {MAX_RETENTION_DAYS}",
                )
            st.at[uid, "delete_recording_after_days"] = pd.NA if d is None else d
            self._retention_hist = pd.concat([self._retention_hist, pd.DataFrame(
                {"li": [uid], "at": [self._now], "days": pd.array([d], dtype="Int64")})],
                ignore_index=True)
        if recording_mode is not UNSET:
            if recording_mode not in ("off", "automatic"):
                raise RuleViolation(10011, "recording.mode must be 'off' or 'automatic'")
            st.at[uid, "recording_mode"] = recording_mode
            self._recording_hist = pd.concat([self._recording_hist, pd.DataFrame(
                {"li": [uid], "at": [self._now], "mode": [recording_mode]})], ignore_index=True)
        if enabled is not UNSET:
            st.at[uid, "enabled"] = bool(enabled)
        if hide_live_viewer_count is not UNSET:
            if not isinstance(hide_live_viewer_count, bool):
                raise RuleViolation(10011, "recording.hideLiveViewerCount must be true or false")
            st.at[uid, "hide_live_viewer_count"] = hide_live_viewer_count
        if meta_name is not UNSET:
            st.at[uid, "name"] = meta_name
        st.at[uid, "modified"] = self._now
        self._base = self._derived = None

    def set_lifecycle(self, bucket: str, rules: pd.DataFrame) -> None:
        """Replace a bucket's lifecycle rules (the S3 PutBucketLifecycleConfiguration path)."""
        others = self.lifecycle[self.lifecycle["bucket"] != bucket]
        self.lifecycle = pd.concat([others, rules.assign(bucket=bucket)], ignore_index=True)
        self._base = self._derived = None

    # --- ground truth -------------------------------------------------------------------
    def ground_truth(self, first: date | None = None, last: date | None = None) -> GroundTruth:
        """Exact figures as of `now`, for every day in [start, end] or in [first, last].

        A range (e.g. one month or one day) derives only those days' views and operations,
        so a large account answers without materialising its whole history:

        >>> acct = SimulatedAccount.build("small", seed=7, end=date(2026, 6, 30))
        >>> june = acct.ground_truth(first=date(2026, 6, 1), last=date(2026, 6, 30))
        >>> (june.start, june.end, len(june.minutes_viewed_daily))
        (datetime.date(2026, 6, 1), datetime.date(2026, 6, 30), 30)
        """
        st = self._state()
        lo = pd.Timestamp(max(first or self.start, self.start), tz=UTC)
        hi = pd.Timestamp(min(last or self.end, self.end), tz=UTC)
        if hi < lo:
            raise SandboxError(f"no simulated days between {first} and {last} "
                               f"(the account covers {self.start} .. {self.end})")
        ranged = first is not None or last is not None
        views = self._derive_views(st["shows"], st["videos"], lo, hi) if ranged \
            else st["views"]
        views = views[(views["date"] >= lo) & (views["date"] <= hi)].reset_index(drop=True)
        daily = views.groupby("date", as_index=False)["minutes_viewed"].sum()
        by_video = views.groupby("uid", as_index=False)["minutes_viewed"].sum()
        stored = st["stored"]
        stored = stored[(stored["date"] >= lo) & (stored["date"] <= hi)].reset_index(drop=True)
        stored = stored.assign(stored_minutes=stored["stored_seconds"] / 60,
                               capacity_minutes=self.capacity_minutes)
        objs = self.visible_objects()
        summary = objs.groupby(["bucket", "storage_class"], as_index=False).agg(
            objects=("key", "size"), bytes=("size", "sum"))
        ops = self.r2_operations(lo, hi)
        ops = ops[(ops["date"] >= lo) & (ops["date"] <= hi)]
        ops_daily = ops.groupby(["date", "bucket", "action_type", "action_status",
                                 "response_status_code"], as_index=False)["requests"].sum()
        ops = ops.assign(op_class=ops["action_type"].map(operation_class),
                         storage_class=self._class_on_day(ops))
        ops_class = ops.groupby(["date", "bucket", "op_class"], as_index=False)["requests"].sum()
        # R2 does not bill requests refused for authentication or authorization (401, 403)
        billable = ops[~ops["response_status_code"].isin(NOT_BILLED_CODES)]
        billing = billable.groupby(["date", "bucket", "op_class", "storage_class"],
                                   as_index=False)["requests"].sum()
        sizes = self._state()["objects"].set_index("key")["size"]
        ia_reads = ops[(ops["storage_class"] == "STANDARD_IA")
                       & (ops["action_type"] == "GetObject")
                       & (ops["action_status"] == "success")]
        retrieval = ia_reads.assign(
            bytes=ia_reads["requests"] * sizes.reindex(ia_reads["object_name"]).to_numpy()
        ).groupby(["date", "bucket"], as_index=False)["bytes"].sum()
        return GroundTruth(
            now=self._now, start=lo.date(), end=hi.date(),
            minutes_viewed=views, minutes_viewed_daily=daily,
            minutes_viewed_by_video=by_video, stored_minutes_daily=stored,
            storage_usage=self.storage_usage(), videos=self.visible_videos(),
            live_inputs=self.visible_live_inputs(), r2_objects=objs,
            r2_objects_summary=summary, r2_lifecycle=self.lifecycle.copy(),
            r2_storage_daily=self.r2_storage_daily(lo, hi),
            r2_operations_daily=ops_daily.reset_index(drop=True),
            r2_operations_by_class=ops_class.reset_index(drop=True),
            r2_storage_daily_by_class=self.r2_storage_daily_by_class(lo, hi),
            r2_billing_operations=billing.reset_index(drop=True),
            r2_ia_retrieval_daily=retrieval.reset_index(drop=True),
            capacity_minutes=self.capacity_minutes,
            exhaustion_date=self.exhaustion_date(), planted=list(self.planted),
        )

    def months(self) -> list[tuple[date, date]]:
        """The calendar months of [start, end] as (first, last) days, clipped to the period."""
        out = []
        first = self.start
        while first <= self.end:
            nxt = (pd.Timestamp(first) + pd.offsets.MonthBegin(1)).date()
            out.append((first, min(nxt - timedelta(days=1), self.end)))
            first = nxt
        return out

    def minutes_viewed_between(self, first: date, last: date) -> pd.DataFrame:
        """Minutes-viewed rows of the days in [first, last] (a month at a time for large
        accounts: the whole history is never expanded)."""
        st = self._state()
        lo, hi = pd.Timestamp(first, tz=UTC), pd.Timestamp(last, tz=UTC)
        views = self._derive_views(st["shows"], st["videos"], lo, hi)
        return views[views["date"] < self._now.floor("D")].reset_index(drop=True)

    def minutes_viewed(self) -> pd.DataFrame:
        """Every minutes-viewed row up to the end of the last complete day (API-visible)."""
        views = self._state()["views"]
        return views[views["date"] < self._now.floor("D")].reset_index(drop=True)

    def r2_storage_daily(self, lo: pd.Timestamp | None = None,
                         hi: pd.Timestamp | None = None) -> pd.DataFrame:
        """Bytes, metadata bytes and objects per bucket held at the end of each day."""
        o = self._state()["objects"]
        lo = lo if lo is not None else pd.Timestamp(self.start, tz=UTC)
        hi = hi if hi is not None else pd.Timestamp(self.end, tz=UTC)
        days = pd.date_range(lo, hi, freq="D")
        rows = []
        for bucket, grp in o.groupby("bucket", sort=True):
            n = len(days)
            out = {}
            for col in ("size", "metadata_size", "count"):
                delta = np.zeros(n + 1, dtype=np.int64)
                amount = np.ones(len(grp), dtype=np.int64) if col == "count" \
                    else grp[col].to_numpy(dtype=np.int64)
                for times, sign in ((grp["created"], 1), (grp["deleted_at"], -1)):
                    idx = ((times - days[0]) // pd.Timedelta(days=1)).to_numpy(dtype="float")
                    ok = ~np.isnan(idx)
                    np.add.at(delta, np.clip(idx[ok], 0, n).astype(int), sign * amount[ok])
                out[col] = np.cumsum(delta)[:n]
            rows.append(pd.DataFrame({
                "date": days, "bucket": bucket, "payload_size": out["size"],
                "metadata_size": out["metadata_size"], "object_count": out["count"],
                "upload_count": 0,
            }))
        return pd.concat(rows, ignore_index=True)

    def _class_on_day(self, ops: pd.DataFrame) -> np.ndarray:
        """Storage class of each operation's object on its day ('' objects: STANDARD).

        An object is Infrequent Access from the day of its transition on; the transition
        operation itself is billed at the IA rate.
        """
        o = self._state()["objects"].set_index("key")
        tr_day = o["transition_at"].dt.floor("D").reindex(ops["object_name"])
        ia = _naive(ops["date"]) >= _naive(tr_day.reset_index(drop=True))
        return np.where(ia, "STANDARD_IA", "STANDARD")

    def r2_storage_daily_by_class(self, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.DataFrame:
        """Bytes per bucket and storage class held at the end of each day in [lo, hi]."""
        o = self._state()["objects"]
        days = pd.date_range(lo, hi, freq="D")
        n = len(days)

        def idx(times: pd.Series) -> np.ndarray:
            i = ((times - days[0]) // pd.Timedelta(days=1)).to_numpy(dtype="float")
            return np.clip(np.nan_to_num(i, nan=n), 0, n).astype(int)

        start, end = idx(o["created"]), idx(o["deleted_at"])
        ia_start = np.clip(idx(o["transition_at"]), start, np.maximum(start, end))
        rows = []
        for bucket in sorted(o["bucket"].unique()):
            m = (o["bucket"] == bucket).to_numpy()
            size = o["size"].to_numpy(dtype=np.int64)[m]
            for cls, a, b in (("STANDARD", start[m], ia_start[m]), ("STANDARD_IA", ia_start[m],
                                                                     end[m])):
                delta = np.zeros(n + 1, dtype=np.int64)
                ok = b > a
                np.add.at(delta, a[ok], size[ok])
                np.add.at(delta, b[ok], -size[ok])
                rows.append(pd.DataFrame({"date": days, "bucket": bucket, "storage_class": cls,
                                          "bytes": np.cumsum(delta)[:n]}))
        return pd.concat(rows, ignore_index=True)

    def r2_operations(self, first: pd.Timestamp | None = None,
                      last: pd.Timestamp | None = None) -> pd.DataFrame:
        """Every R2 operation per day x bucket x object x action x status x HTTP response code
        (up to `now`), optionally only for the days in [first, last]."""
        st = self._state()
        o = st["objects"]
        dr = self.draws
        reads, bucket_ops = dr.reads, dr.bucket_ops
        if first is not None:
            reads = reads[reads["day"] >= first]
            bucket_ops = bucket_ops[bucket_ops["day"] >= first]
        if last is not None:
            reads = reads[reads["day"] <= last]
            bucket_ops = bucket_ops[bucket_ops["day"] <= last]
        # Only the objects written (or moved) in the range: a month of a large account
        # never builds the operations of every object it ever held.
        c_day = _naive(o["created"].dt.floor("D")).astype("datetime64[ns]")
        tr_day = _naive(o["transition_at"].dt.floor("D")).astype("datetime64[ns]")
        in_range = np.ones(len(o), dtype=bool)
        tr = o["transition_at"].notna().to_numpy()
        tr_in = tr.copy()
        if first is not None:
            in_range &= c_day >= _naive_ts(first)
            tr_in &= tr_day >= _naive_ts(first)
        if last is not None:
            in_range &= c_day <= _naive_ts(last)
            tr_in &= tr_day <= _naive_ts(last)
        multipart = (o["size"] > MULTIPART_CHUNK).to_numpy()
        parts = np.ceil(o["size"].to_numpy() / MULTIPART_CHUNK).astype(np.int64)
        single, multi = in_range & ~multipart, in_range & multipart
        frames = [
            _ops(c_day[single], o, single, "PutObject", 1),
            _ops(c_day[multi], o, multi, "CreateMultipartUpload", 1),
            _ops(c_day[multi], o, multi, "UploadPart", parts[multi]),
            _ops(c_day[multi], o, multi, "CompleteMultipartUpload", 1),
            _ops(c_day[in_range], o, in_range, "HeadObject", 1),
            _ops(tr_day[tr_in], o, tr_in, "LifecycleStorageTierTransition", 1),
        ]
        obj = reads["obj"].to_numpy()
        deleted_day = _naive(o["deleted_at"].dt.floor("D")).astype("datetime64[ns]")[obj]
        read_day = _naive(reads["day"]).astype("datetime64[ns]")
        alive = ~(read_day >= deleted_day)
        obj = obj[alive]
        frames.append(pd.DataFrame({
            "date": read_day[alive], "bucket": o["bucket"].to_numpy()[obj],
            "object_name": o["key"].to_numpy()[obj], "action_type": "GetObject",
            "action_status": "success", "response_status_code": 200,
            "requests": reads["requests"].to_numpy()[alive]}))
        b = bucket_ops
        frames.append(pd.DataFrame({
            "date": _naive(b["day"]).astype("datetime64[ns]"), "bucket": b["bucket"].to_numpy(),
            "object_name": "",
            "action_type": b["action_type"].to_numpy(),
            "action_status": b["action_status"].to_numpy(),
            "response_status_code": b["response_status_code"].to_numpy(),
            "requests": b["requests"].to_numpy()}))
        ops = pd.concat(frames, ignore_index=True)
        ops["date"] = ops["date"].astype("datetime64[ns]").dt.tz_localize(UTC)
        ops = ops[ops["date"] < self._now.floor("D")]
        if first is not None:
            ops = ops[ops["date"] >= first]
        if last is not None:
            ops = ops[ops["date"] <= last]
        return ops.sort_values(["date", "bucket", "object_name", "action_type", "action_status",
                                "response_status_code"]).reset_index(
            drop=True)

    def exhaustion_date(self) -> date | None:
        """First day whose stored minutes reach the purchased capacity, or None."""
        st = self._state()["stored"]
        hit = st[st["stored_seconds"] >= self.capacity_minutes * 60]
        return None if hit.empty else hit["date"].iloc[0].date()

    def _planted_stream(self, d: dict) -> list[Planted]:
        li = self.draws.live_inputs
        bc = self.draws.broadcasters
        out = []
        for arch, kind, healthy, why in [
            ("never_watched", "unwatched_recordings", False,
             "recordings get live viewers on the show day and no on-demand minutes after"),
            ("watched_lookalike", "unwatched_recordings", True,
             "small live audience, but recordings keep being watched on demand for months"),
            ("overprovisioned", "overprovisioned_ingest", False,
             "1080p at 12 Mbps while ~85% of viewers are in low-bandwidth countries"),
            ("high_bitrate_lookalike", "overprovisioned_ingest", True,
             "1080p at 8 Mbps (Cloudflare's recommended encode), high-bandwidth audience"),
        ]:
            b = bc.index[bc["archetype"] == arch]
            if len(b):
                out.append(Planted(kind, li["uid"].iloc[b[0]], healthy, why))
        ex = self.exhaustion_date()
        out.append(Planted(
            "storage_exhaustion", "account", False,
            f"prepaid capacity {self.capacity_minutes} minutes is reached on {ex} "
            "at the current growth"))
        return out


class _Derived(dict):
    """The account's derived state; the costly parts ("views", "stored") are built on first
    use, so an edit followed by a listing does not pay for re-deriving every view."""

    def __init__(self, account: SimulatedAccount, **parts: pd.DataFrame) -> None:
        super().__init__(**parts)
        self._account = account

    def __missing__(self, key: str) -> pd.DataFrame:
        if key == "views":
            value = self._account._derive_views(self["shows"], self["videos"])
        elif key == "view_codes":
            value = _view_codes(self._account.draws.views, self["shows"], self["videos"])
        elif key == "stored":
            value = self._account._stored_daily(self["videos"])
        else:
            raise KeyError(key)
        self[key] = value
        return value


@dataclass
class _ViewCodes:
    """What deriving minutes viewed needs per video code, built once per derived state."""

    recorded: np.ndarray  # per video code: its recording exists (clips: always)
    deleted_day: np.ndarray  # per video code: epoch day it was deleted (int64 max: never)
    live_input: np.ndarray  # per video code: index into the live input uids (shows)
    uid_rank: np.ndarray  # sort rank of video uids, then live input uids
    uids: pd.api.extensions.ExtensionArray  # video uids, then live input uids, as text
    countries: pd.api.extensions.ExtensionArray
    country_rank: np.ndarray
    creators: pd.api.extensions.ExtensionArray  # per broadcaster row


def _view_codes(views, shows: pd.DataFrame, videos: pd.DataFrame) -> _ViewCodes:
    n_shows, n_codes = len(shows), len(views.uids)
    recorded = np.concatenate([shows["recorded"].to_numpy(dtype=bool),
                               np.ones(n_codes - n_shows, dtype=bool)])
    deleted = videos["deleted_at"].dt.floor("D").reindex(views.uids)
    deleted_day = _naive(deleted).astype("datetime64[D]").astype(np.int64)
    deleted_day[deleted.isna().to_numpy()] = np.iinfo(np.int64).max
    li_uids, li_code = np.unique(views.li[:n_shows].astype(str), return_inverse=True)
    names = np.asarray(HIGH_BW + LOW_BW, dtype=object)
    return _ViewCodes(
        recorded=recorded, deleted_day=deleted_day,
        live_input=np.concatenate([li_code, np.zeros(n_codes - n_shows, dtype=np.int64)]),
        uid_rank=views.uid_rank(li_uids),
        uids=pd.Series(np.concatenate([views.uids, li_uids.astype(object)])).array,
        countries=pd.Series(names).array,
        country_rank=np.argsort(np.argsort(names.astype(str), kind="stable"), kind="stable"),
        creators=pd.Series(np.asarray(views.creator, dtype=object)).array)


def _utc(values: pd.Series) -> pd.Series:
    """Timestamps as tz-aware UTC nanoseconds (pandas 3 otherwise mixes resolutions)."""
    return pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")


def _naive(ts: pd.Series) -> np.ndarray:
    """UTC datetime64 values of a tz-aware series, fast (no per-element Timestamps)."""
    return ts.dt.tz_convert(None).to_numpy()


def _naive_ts(ts: pd.Timestamp) -> np.datetime64:
    """A tz-aware timestamp as a naive UTC datetime64[ns]."""
    return np.datetime64(pd.Timestamp(ts).tz_convert(UTC).tz_localize(None), "ns")


def _ops(day, o, mask, action, n) -> pd.DataFrame:
    return pd.DataFrame({
        "date": day, "bucket": o.loc[mask, "bucket"].to_numpy(),
        "object_name": o.loc[mask, "key"].to_numpy(), "action_type": action,
        "action_status": "success", "response_status_code": 200,
        "requests": np.broadcast_to(np.asarray(n), (int(mask.sum()),))
        if np.ndim(n) == 0 else np.asarray(n)})


def _capacity(stored: pd.DataFrame, now: pd.Timestamp, runway_days: int) -> int:
    """Prepaid capacity (1,000-minute blocks) that the current growth reaches in `runway_days`."""
    target = now.floor("D") + pd.Timedelta(days=runway_days - 1)
    upto = stored[stored["date"] <= target]["stored_seconds"]
    peak_minutes = upto.max() / 60
    return int(math.ceil(peak_minutes / 1000) * 1000)


def _account_id(seed: int) -> str:
    import hashlib
    return hashlib.sha256(f"lc-analytics-sandbox-{seed}".encode()).hexdigest()[:32]
