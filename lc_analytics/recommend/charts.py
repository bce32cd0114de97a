"""The tables behind the recommendation charts, measured as the recommenders measure.

- `on_demand_share`: the recording-selectivity rule's measure for every listed live input
  (the rule's own `views_by_age` and `recordings`);
- `r2_age_profile`: reads and bytes stored by object age per bucket and prefix (the R2
  lifecycle rule's measure, read through the read model);
- `ingest_vs_audience`: the bitrate rule's `ingest_profiles`.

Each marks the inputs or prefixes a recommendation targets, from the recommendation itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta

import numpy as np
import pandas as pd

from .. import facts
from ..readmodel import r2_objects, r2_reads_by_age, resource_names
from ..warehouse import Warehouse
from ._recordings import live_inputs, recordings, views_by_age
from .bitrate import ingest_profiles
from .explanation import KIND_TITLES
from .lifecycle import age_band
from .model import Recommendation


def on_demand_share(wh: Warehouse, as_of: date | str,
                    lookback_days: int = facts.LOOKBACK_DAYS,
                    recs: Iterable[Recommendation] = ()) -> pd.DataFrame:
    """Per live input still listed: how its recordings were watched over the last
    `lookback_days` up to `as_of` (the recording-selectivity rule's measure).

    Live = minutes of a recording on its own UTC creation day (age 0); on demand = later
    days. Columns: live_input_uid, name, recording_mode, delete_recording_after_days,
    recordings (made in the window), live, on_demand, minutes, on_demand_share (None without
    minutes), recommendation (the kinds recommended for the input, '' if none), status (in
    words: the recommendation's title, 'recording off' or 'no change').

    >>> on_demand_share(wh, "2026-06-30")                              # doctest: +SKIP
    """
    day = pd.Timestamp(as_of).date()
    start = pd.Timestamp(day - timedelta(days=lookback_days - 1), tz="UTC")
    rec = recordings(wh, day)
    made = rec[rec["created"] >= start].groupby("live_input_uid").size()
    views = views_by_age(wh, day, lookback_days)
    live = views[views["age"] <= 0].groupby("live_input_uid")["minutes"].sum()
    od = views[views["age"] >= 1].groupby("live_input_uid")["minutes"].sum()
    df = live_inputs(wh).rename(columns={"uid": "live_input_uid"})
    uid = df["live_input_uid"]
    df = df.assign(name=df["name"].where(df["name"].notna() & (df["name"] != ""), uid),
                   recordings=uid.map(made).fillna(0).astype("int64"),
                   live=uid.map(live).fillna(0.0).astype(float),
                   on_demand=uid.map(od).fillna(0.0).astype(float))
    df["minutes"] = df["live"] + df["on_demand"]
    df["on_demand_share"] = [o / t if t else None for o, t in
                             zip(df["on_demand"], df["minutes"], strict=True)]
    df["recommendation"] = _recommended(uid, recs,
                                        ("recording_selectivity", "recording_retention"))
    df["status"] = _status(df["recommendation"], df["recording_mode"] == "off")
    cols = ["live_input_uid", "name", "recording_mode", "delete_recording_after_days",
            "recordings", "live", "on_demand", "minutes", "on_demand_share", "recommendation",
            "status"]
    return df[cols].sort_values(["minutes", "live_input_uid"], ascending=[False, True],
                                ignore_index=True)


def _recommended(targets: Iterable[str], recs: Iterable[Recommendation],
                 kinds: Sequence[str]) -> list[str]:
    by_target: dict[str, list[str]] = {}
    for r in recs:
        if r.kind in kinds:
            by_target.setdefault(r.target, []).append(r.kind)
    return [", ".join(by_target.get(t, [])) for t in targets]


def _status(kinds: Iterable[str], off: Iterable[bool] | None = None) -> list[str]:
    offs = list(off) if off is not None else None
    out = []
    for i, k in enumerate(kinds):
        first = k.split(", ")[0] if k else ""
        if first:
            out.append(KIND_TITLES.get(first, first).lower())
        elif offs is not None and offs[i]:
            out.append("recording off")
        else:
            out.append("no change")
    return out


def r2_age_profile(wh: Warehouse, as_of: date | str,
                   buckets: Iterable[str] | None = None,
                   recs: Iterable[Recommendation] = ()) -> pd.DataFrame:
    """Per bucket, prefix and object-age band: the reads the warehouse holds up to `as_of`
    (successful GetObject and HeadObject, age at read = read day - the object's creation day,
    as the R2 lifecycle rule measures it) and the bytes stored by age at `as_of` (objects
    still listed).

    Columns: bucket, prefix, age_band (see `lifecycle.AGE_BANDS`), reads, reads_share (of
    the prefix's reads), gb_stored (decimal GB), gb_share, objects, recommendation (the
    proposed rule for the prefix, '' if none). `buckets` limits the buckets (default: all).

    >>> r2_age_profile(wh, "2026-06-30", ["lc-thumbnails"])            # doctest: +SKIP
    """
    day = pd.Timestamp(as_of).date()
    objs = r2_objects(wh, history=True)
    reads = r2_reads_by_age(wh, day)  # summed per bucket, prefix and age in DuckDB
    if buckets is not None:
        keep = set(buckets)
        objs, reads = objs[objs["bucket"].isin(keep)], reads[reads["bucket"].isin(keep)]
    objs = objs.assign(prefix=objs["key"].str.extract(r"^([^/]*/)", expand=False).fillna(""),
                       c_day=pd.to_datetime(objs["last_modified"], utc=True).dt.floor("D"))
    reads = reads.assign(age_band=age_band(reads["age"]))
    clock = pd.Timestamp(day, tz="UTC")
    gone = pd.to_datetime(objs["missing_since"], utc=True)
    alive = objs[(objs["c_day"] <= clock) & (gone.isna() | (gone > clock))]
    alive = alive.assign(age_band=age_band(((clock - alive["c_day"]) // pd.Timedelta(days=1))
                                            .astype(int)))
    out = _by_band(objs, reads, alive)
    rules = {r.target: str(getattr(r.evidence, "rule", r.action)) for r in recs
             if r.kind == "r2_lifecycle"}
    out["recommendation"] = [rules.get(f"{b}/{p}", "") for b, p in
                             zip(out["bucket"], out["prefix"], strict=True)]
    out["age_band"] = out["age_band"].astype(str)
    return out[["bucket", "prefix", "age_band", "reads", "reads_share", "gb_stored",
                "gb_share", "objects", "recommendation"]].sort_values(
        ["bucket", "prefix"], kind="stable", ignore_index=True)


def _by_band(objs: pd.DataFrame, reads: pd.DataFrame, alive: pd.DataFrame) -> pd.DataFrame:
    keys = ["bucket", "prefix", "age_band"]
    r = reads.groupby(keys, observed=False)["requests"].sum().rename("reads")
    s = alive.groupby(keys, observed=False).agg(bytes=("size_bytes", "sum"),
                                                objects=("key", "count"))
    out = pd.concat([r, s], axis=1).fillna(0).reset_index()
    prefixes = pd.concat([objs[["bucket", "prefix"]], reads[["bucket", "prefix"]]]) \
        .drop_duplicates()
    out = out.merge(prefixes, on=["bucket", "prefix"])  # drop empty bucket/prefix pairs
    out["reads"] = out["reads"].astype("int64")
    out["objects"] = out["objects"].astype("int64")
    out["gb_stored"] = out.pop("bytes").astype(float) / 1e9
    grp = out.groupby(["bucket", "prefix"])
    out["reads_share"] = out["reads"] / grp["reads"].transform("sum").replace(0, np.nan)
    out["gb_share"] = out["gb_stored"] / grp["gb_stored"].transform("sum").replace(0, np.nan)
    return out


def ingest_vs_audience(wh: Warehouse, as_of: date | str,
                       recs: Iterable[Recommendation] = ()) -> pd.DataFrame:
    """Per live input with recordings in the bitrate rule's window: what it sends and who
    watches (`recommend.bitrate.ingest_profiles`), with its name, the recommended encode for
    its resolution and whether a bitrate recommendation targets it.

    Columns: live_input_uid, name, recordings, resolution, ingest_mbps, recommended_mbps,
    minutes_viewed, low_bandwidth_share, recommendation ('' if none), status (in words).

    >>> ingest_vs_audience(wh, "2026-06-30")                           # doctest: +SKIP
    """
    prof = ingest_profiles(wh, as_of=as_of)
    cols = ["live_input_uid", "name", "recordings", "resolution", "ingest_mbps",
            "recommended_mbps", "minutes_viewed", "low_bandwidth_share", "recommendation",
            "status"]
    if not len(prof):
        return pd.DataFrame(columns=cols)
    names = resource_names(wh)
    prof["name"] = [names.get(u) or u for u in prof["live_input_uid"]]
    prof["recommended_mbps"] = [facts.RECOMMENDED_ENCODES.get(r, (0, np.nan))[1]
                                for r in prof["resolution"]]
    prof["recommendation"] = _recommended(prof["live_input_uid"], recs, ("bitrate_ingest",))
    prof["status"] = _status(prof["recommendation"])
    return prof[cols].sort_values("ingest_mbps", ascending=False, ignore_index=True)


__all__ = ["ingest_vs_audience", "on_demand_share", "r2_age_profile"]
