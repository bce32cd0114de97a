"""The recommendation tables behind the cost_review notebook and the charts that support them
(being moved into recommend/ by issue 12's recommender work).

The billing month, its coverage, bills and comparisons live in `lc_analytics.costs.billing`;
the review's other numbers in `lc_analytics.costs.review`; formatting in `reports.tables`
and `reports.headlines`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from ..money import format_usd
from ..recommend.bitrate import RECOMMENDED_ENCODES, ingest_profiles
from ..recommend.model import Recommendation
from ..warehouse import Warehouse

__all__ = ["AGE_BANDS", "KIND_TITLES", "evidence_text", "ingest_vs_audience", "next_steps",
           "on_demand_share", "r2_age_profile", "ranked", "recommendation_table",
           "recommendations_markdown", "target_names"]

#: object-age bands of the R2 lifecycle evidence (days; the last is open-ended)
AGE_BANDS: tuple[tuple[int, int | None, str], ...] = (
    (0, 0, "0"), (1, 6, "1-6"), (7, 29, "7-29"), (30, 59, "30-59"), (60, 89, "60-89"),
    (90, 179, "90-179"), (180, 364, "180-364"), (365, None, "365+"))
ON_DEMAND_LOOKBACK_DAYS = 90  # the recording-selectivity rule's window


# -- recommendations -------------------------------------------------------------------------

def target_names(wh: Warehouse, recs: Iterable[Recommendation]) -> dict[str, str]:
    """Recommendation id -> a readable target (a live input's name, bucket/prefix, account):
    the recommendation's own `target_name`, else the name the warehouse lists for the uid.

    >>> target_names(wh, recs)                                         # doctest: +SKIP
    """
    names = wh.query("SELECT uid, name FROM live_inputs")
    names = dict(zip(names["uid"], names["name"], strict=True))
    return {r.id: (r.target_name if r.target_name != r.target else None)
            or names.get(r.target) or r.target for r in recs}


def ranked(recs: Iterable[Recommendation]) -> list[Recommendation]:
    """The order a review lists recommendations in: the storage runway first (a deadline),
    then the largest monthly saving first.

    >>> [r.kind for r in ranked(recs)][:1]                             # doctest: +SKIP
    ['storage_runway']
    """
    return sorted(recs, key=lambda r: (r.kind != "storage_runway", -r.monthly_saving, r.id))


def recommendation_table(wh: Warehouse, recs: Sequence[Recommendation]) -> pd.DataFrame:
    """One row per recommendation, in `ranked` order: rank, id, kind, title (the kind in
    words), target, target_name,
    action, monthly_saving (Decimal), saving_text ('$40.00/month', or why there is none),
    confidence, evidence (a sentence of the measured values
    behind it), rule, viewer_impact, actions (API changes), manual (steps the API cannot do).

    >>> recommendation_table(wh, recommend_all(wh))                    # doctest: +SKIP
    """
    cols = ["rank", "id", "kind", "title", "target", "target_name", "action", "monthly_saving",
            "saving_text", "confidence", "evidence", "rule", "viewer_impact", "actions", "manual"]
    names = target_names(wh, recs)
    ordered = ranked(recs)
    rows = [{"rank": i + 1, "id": r.id, "kind": r.kind,
             "title": KIND_TITLES.get(r.kind, r.kind), "target": r.target,
             "target_name": names[r.id], "action": r.action, "monthly_saving": r.monthly_saving,
             "saving_text": _saving_text(r),
             "confidence": r.confidence, "evidence": evidence_text(r), "rule": r.rule,
             "viewer_impact": r.viewer_impact,
             "actions": sum(a.kind != "manual" for a in r.actions),
             "manual": sum(a.kind == "manual" for a in r.actions)}
            for i, r in enumerate(ordered)]
    return pd.DataFrame(rows, columns=cols)


def _saving_text(rec: Recommendation) -> str:
    if rec.monthly_saving > 0:
        return f"{format_usd(rec.monthly_saving)}/month"
    return "no saving: a deadline" if rec.kind == "storage_runway" else "no saving"


def evidence_text(rec: Recommendation) -> str:
    """The measured values behind a recommendation, in one sentence (its viewer impact when
    the evidence has none of the expected values).

    >>> evidence_text(rec)                                             # doctest: +SKIP
    '80 recordings in 90 days: 44,423 minutes viewed, 0.0% of them on demand; ...'
    """
    e = rec.evidence
    try:
        if rec.kind == "recording_selectivity":
            return (f"{e['recordings_in_window']} recordings in {e['window_days']} days: "
                    f"{float(e['minutes_viewed_in_window']):,.0f} minutes viewed, "
                    f"{float(e['on_demand_share']):.1%} of them on demand; frees "
                    f"{float(e['minutes_freed']):,.0f} stored minutes")
        if rec.kind == "recording_retention":
            now = e.get("current_delete_recording_after_days")
            return (f"keep recordings {e['policy_days']} days instead of "
                    f"{'forever' if now is None else f'{now} days'}: frees "
                    f"{float(e['minutes_freed']):,.0f} stored minutes; on-demand minutes "
                    f"that would have been lost: {float(e['lost_share_lookback']):.1%} "
                    f"(last {e.get('lookback_days', 90)} days), "
                    f"{float(e['lost_share_recent']):.1%} (last {e.get('recent_days', 30)})")
        if rec.kind == "storage_runway":
            lo, hi = e.get("exhaustion_interval") or [None, None]
            return (f"{float(e['stored_minutes']):,.0f} of {float(e['capacity_minutes']):,.0f}"
                    f" prepaid minutes used, growing {float(e['net_growth_per_day']):,.0f} a "
                    f"day: full on {e['exhaustion_date']} (80%: {lo} to {hi})")
        if rec.kind == "r2_lifecycle" and "objects" in e:
            age = e.get("expire_days") or e.get("transition_days")
            window = e.get("reads_window") or ["?", "?"]
            return (f"{int(e['objects']):,} objects, {int(e['bytes_stored']) / 1e9:,.1f} GB; "
                    f"{int(e.get('reads_at_or_after_expiry') or 0):,} reads at ages >= {age} "
                    f"days between {window[0]} and {window[1]}")
        if rec.kind == "bitrate_ingest":
            return (f"sends {e['resolution']} at {float(e['ingest_mbps_median']):.1f} Mbps "
                    f"(recommended {float(e['recommended_encode_mbps']):g}); "
                    f"{float(e['low_bandwidth_share']):.0%} of its "
                    f"{float(e['minutes_viewed']):,.0f} minutes come from low-bandwidth "
                    "countries")
    except (KeyError, TypeError, ValueError):
        pass
    return rec.viewer_impact


def recommendations_markdown(table: pd.DataFrame) -> str:
    """The recommendations of `recommendation_table` as numbered Markdown entries.

    >>> print(recommendations_markdown(recommendation_table(wh, recs)))  # doctest: +SKIP
    """
    if not len(table):
        return "No recommendation: every rule was checked and none fired."
    parts = []
    for r in table.itertuples():
        parts.append(
            f"**{r.rank}. {r.title}: {r.target_name}** — **{r.saving_text}**, "
            f"{r.confidence} confidence  \n"
            f"{r.action}  \n"
            f"*Evidence:* {r.evidence}.  \n"
            f"*Rule:* {r.rule}.  \n"
            f"*Viewers:* {r.viewer_impact}  \n"
            f"<sub>`{r.id}`</sub>")
    return "\n\n".join(parts)


#: recommendation kind -> its name in a report
KIND_TITLES = {"recording_selectivity": "Stop recording", "recording_retention":
               "Shorter retention", "storage_runway": "Stream storage runs out",
               "r2_lifecycle": "R2 lifecycle rule", "bitrate_ingest": "Lower ingest bitrate"}


def next_steps(recs: Sequence[Recommendation], runway: Mapping[str, Any],
               names: Mapping[str, str] | None = None) -> str:
    """What to do next, as a numbered Markdown list: the deadline first, then the plan
    (recommend, review, apply), then the manual steps the API cannot take.

    >>> print(next_steps(recs, runway_summary(wh)))                    # doctest: +SKIP
    """
    names = dict(names or {})
    steps = []
    exhaustion = runway.get("exhaustion_date")
    if exhaustion is not None:
        steps.append(f"**Before {exhaustion}** ({runway.get('days_until_exhaustion')} days): "
                     "prepaid Stream storage runs out and new live streams are refused. The "
                     "plan below slows the growth; buy the blocks the runway recommendation "
                     "names in the Cloudflare dashboard.")
    api = [r for r in recs if any(a.kind != "manual" for a in r.actions)]
    if api:
        top = sorted(api, key=lambda r: -r.monthly_saving)[:3]
        listed = "; ".join(f"{_KIND_STEP.get(r.kind, r.kind)} {names.get(r.id, r.target)} "
                           f"({format_usd(r.monthly_saving)}/month)" for r in top)
        n_actions = sum(a.kind != "manual" for r in api for a in r.actions)
        steps += [
            "Write the plan: `lc-analytics recommend` stores these recommendations in the "
            "warehouse and writes the plan file it prints (PLAN).",
            f"Review it: `lc-analytics apply PLAN` is a dry run listing each of its "
            f"{n_actions:,} change(s), the resource and why; nothing changes. Top: {listed}.",
            "Apply what you accept: `lc-analytics apply PLAN --yes` (a plan the account has "
            "moved away from is refused as stale: run `recommend` again).",
        ]
    for r in ranked(recs):
        steps += [_manual_step(r, a, names.get(r.id, r.target)) for a in r.actions
                  if a.kind == "manual"]
    capacity = [r for r in recs if r.kind in ("recording_selectivity", "recording_retention")]
    if capacity:
        steps.append(
            "Stream storage savings ("
            f"{format_usd(sum((r.monthly_saving for r in capacity), Decimal(0)))}/month)"
            " are realised as prepaid capacity you no longer buy: once the scheduled "
            "deletions have run, lower (or do not raise) the capacity in the dashboard.")
    if not steps:
        return "Nothing to do: no recommendation fired and storage does not run out within " \
               f"{runway.get('horizon_days', 90)} days."
    return "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))


_KIND_STEP = {"recording_selectivity": "stop recording on", "recording_retention":
              "shorter retention on", "r2_lifecycle": "lifecycle rule on",
              "bitrate_ingest": "lower ingest bitrate on", "storage_runway": "storage for"}


def _manual_step(rec: Recommendation, action: Any, target: str) -> str:
    proposed = action.proposed if isinstance(action.proposed, Mapping) else {}
    how = str(proposed.get("how") or rec.action).rstrip(".")
    if rec.kind == "storage_runway":
        return f"By hand, Stream storage: {how}."
    values = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in proposed.items() if k != "how")
    return f"By hand, {target}: {how}" + (f" (set {values})." if values else ".")


# -- the charts behind the recommendations ---------------------------------------------------

def on_demand_share(wh: Warehouse, as_of: date | str,
                    lookback_days: int = ON_DEMAND_LOOKBACK_DAYS,
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
    lo = day - timedelta(days=lookback_days - 1)
    df = wh.query("""
        WITH views AS (
            SELECT v.live_input_uid, m.minutes_viewed AS minutes,
                   date_diff('day', CAST(v.created AS DATE), m.date) AS age
            FROM minutes_viewed_daily m JOIN videos v ON v.uid = m.uid
            WHERE v.live_input_uid IS NOT NULL AND m.date BETWEEN $lo AND $day),
        made AS (
            SELECT live_input_uid, count(*) AS n FROM videos
            WHERE live_input_uid IS NOT NULL AND state = 'ready'
              AND CAST(created AS DATE) BETWEEN $lo AND $day GROUP BY ALL)
        SELECT li.uid AS live_input_uid, coalesce(li.name, li.uid) AS name, li.recording_mode,
               li.delete_recording_after_days, coalesce(any_value(made.n), 0) AS recordings,
               coalesce(sum(views.minutes) FILTER (WHERE views.age <= 0), 0) AS live,
               coalesce(sum(views.minutes) FILTER (WHERE views.age >= 1), 0) AS on_demand
        FROM live_inputs li
        LEFT JOIN views ON views.live_input_uid = li.uid
        LEFT JOIN made ON made.live_input_uid = li.uid
        WHERE li.missing_since IS NULL
        GROUP BY li.uid, li.name, li.recording_mode, li.delete_recording_after_days
        ORDER BY li.uid""", {"lo": lo, "day": day})
    df["recordings"] = df["recordings"].astype("int64")
    df["live"] = df["live"].astype(float)
    df["on_demand"] = df["on_demand"].astype(float)
    df["minutes"] = df["live"] + df["on_demand"]
    df["on_demand_share"] = [o / t if t else None for o, t in
                             zip(df["on_demand"], df["minutes"], strict=True)]
    df["recommendation"] = _recommended(df["live_input_uid"], recs,
                                        ("recording_selectivity", "recording_retention"))
    df["status"] = _status(df["recommendation"], df["recording_mode"] == "off")
    return df.sort_values(["minutes", "live_input_uid"], ascending=[False, True],
                          ignore_index=True)


def _recommended(targets: Iterable[str], recs: Iterable[Recommendation],
                 kinds: Sequence[str]) -> list[str]:
    by_target: dict[str, list[str]] = {}
    for r in recs:
        if r.kind in kinds:
            by_target.setdefault(r.target, []).append(r.kind)
    return [", ".join(by_target.get(t, [])) for t in targets]


def _status(kinds: Iterable[str], off: Iterable[bool] | None = None) -> list[str]:
    off = list(off) if off is not None else None
    out = []
    for i, k in enumerate(kinds):
        first = k.split(", ")[0] if k else ""
        if first:
            out.append(KIND_TITLES.get(first, first).lower())
        elif off is not None and off[i]:
            out.append("recording off")
        else:
            out.append("no change")
    return out


def _age_band(age: pd.Series) -> pd.Categorical:
    edges = [-1] + [hi if hi is not None else 10**6 for _, hi, _ in AGE_BANDS]
    return pd.cut(age, edges, labels=[b for _, _, b in AGE_BANDS])


def r2_age_profile(wh: Warehouse, as_of: date | str,
                   buckets: Iterable[str] | None = None,
                   recs: Iterable[Recommendation] = ()) -> pd.DataFrame:
    """Per bucket, prefix and object-age band: the reads the warehouse holds up to `as_of`
    (successful GetObject and HeadObject, age at read = read day - the object's creation day,
    as the R2 lifecycle rule measures it) and the bytes stored by age at `as_of` (objects
    still listed).

    Columns: bucket, prefix, age_band (see AGE_BANDS), reads, reads_share (of the prefix's
    reads), gb_stored (decimal GB), gb_share, objects, recommendation (the proposed rule for
    the prefix, '' if none). `buckets` limits the buckets (default: all).

    >>> r2_age_profile(wh, "2026-06-30", ["lc-thumbnails"])            # doctest: +SKIP
    """
    day = pd.Timestamp(as_of).date()
    objs = wh.query("SELECT bucket, key, size_bytes, last_modified, missing_since "
                    "FROM r2_objects")
    reads = wh.query("SELECT date, bucket, object_name AS key, requests "
                     "FROM r2_object_reads_daily WHERE date <= $day", {"day": day})
    if buckets is not None:
        keep = set(buckets)
        objs, reads = objs[objs["bucket"].isin(keep)], reads[reads["bucket"].isin(keep)]
    objs = objs.assign(prefix=objs["key"].str.extract(r"^([^/]*/)", expand=False).fillna(""),
                       c_day=pd.to_datetime(objs["last_modified"], utc=True).dt.floor("D"))
    reads = reads.merge(objs[["bucket", "key", "prefix", "c_day"]], on=["bucket", "key"],
                        how="inner")
    read_day = pd.to_datetime(reads["date"]).dt.tz_localize("UTC")
    reads["age_band"] = _age_band(((read_day - reads["c_day"]) // pd.Timedelta(days=1))
                                  .astype(int))
    clock = pd.Timestamp(day, tz="UTC")
    gone = pd.to_datetime(objs["missing_since"], utc=True)
    alive = objs[(objs["c_day"] <= clock) & (gone.isna() | (gone > clock))]
    alive = alive.assign(age_band=_age_band(((clock - alive["c_day"]) // pd.Timedelta(days=1))
                                            .astype(int)))
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
    rules = {r.target: str(r.evidence.get("rule", r.action)) for r in recs
             if r.kind == "r2_lifecycle"}
    out["recommendation"] = [rules.get(f"{b}/{p}", "") for b, p in
                             zip(out["bucket"], out["prefix"], strict=True)]
    out["age_band"] = out["age_band"].astype(str)
    return out[["bucket", "prefix", "age_band", "reads", "reads_share", "gb_stored",
                "gb_share", "objects", "recommendation"]].sort_values(
        ["bucket", "prefix"], kind="stable", ignore_index=True)


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
    names = wh.query("SELECT uid, name FROM live_inputs")
    names = dict(zip(names["uid"], names["name"], strict=True))
    prof["name"] = [names.get(u) or u for u in prof["live_input_uid"]]
    prof["recommended_mbps"] = [RECOMMENDED_ENCODES.get(r, (0, np.nan))[1]
                                for r in prof["resolution"]]
    prof["recommendation"] = _recommended(prof["live_input_uid"], recs, ("bitrate_ingest",))
    prof["status"] = _status(prof["recommendation"])
    return prof[cols].sort_values("ingest_mbps", ascending=False, ignore_index=True)
