"""Recording selectivity: live inputs whose recordings are (almost) never watched on demand.

The rule, per live input that records (`recording.mode` automatic):

- On-demand share = on-demand minutes (ages >= 1 day after the show) / all minutes viewed of
  the input's recordings (live day included), over the last `lookback_days` (default 90) of
  synced viewing.
- Flagged when the share is under `max_od_share` (default 1%) and the input made at least
  `min_recordings` (default 10) recordings in that window.
- Proposed: turn recording off (`live_input.update` recording.mode off) and schedule the
  deletion of the recordings it stores at the earliest date the API accepts (30 days after
  upload, and not before the day after the clock). The alternative, keeping recordings for
  30 days (deleteRecordingAfterDays 30), is given in the text with its own figures.
- Monthly saving: the engine prices Stream capacity (1,000-minute blocks) for the account's
  stored minutes now and without this input's stored recordings; the difference is the
  saving (realised once the deletions have run and the prepaid capacity is lowered, or as
  capacity not bought while storage grows). Turning recording off also stops the input
  adding its recent rate of minutes every month (stated, not counted).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import pandas as pd

from ..costs.pricebook import PriceBook
from ..warehouse import Warehouse
from ._common import (
    DAY,
    as_json,
    capacity_saving,
    clock,
    earliest_deletion,
    live_inputs,
    money,
    next_month,
    pct,
    recordings,
    resolve,
    retention_value,
    schedule_actions,
    stored_minutes_now,
    views_by_age,
)
from .model import Action, Recommendation

#: Largest on-demand share of an input's viewing that still counts as "never watched".
MAX_OD_SHARE = 0.01
#: Recordings the input must have made in the window for the share to mean something.
MIN_RECORDINGS = 10
#: Days of viewing (and of recordings) the share is measured over.
LOOKBACK_DAYS = 90
#: Days of recent recordings the monthly growth the input adds is measured over.
GROWTH_DAYS = 28

KIND = "recording_selectivity"


def recommend_selectivity(wh: Warehouse, *, book: PriceBook | str | None = None,
                          as_of: date | str | None = None,
                          max_od_share: float = MAX_OD_SHARE,
                          min_recordings: int = MIN_RECORDINGS,
                          lookback_days: int = LOOKBACK_DAYS,
                          freed_before: float = 0.0) -> list[Recommendation]:
    """Recording off (and its stored recordings deleted) for inputs nobody watches on demand.

    `freed_before`: stored minutes other recommendations free first (the blocks are priced
    from what remains).

    >>> wh = Warehouse("data/demo.duckdb", read_only=True)      # doctest: +SKIP
    >>> [(r.target, r.monthly_saving) for r in recommend_selectivity(wh)]  # doctest: +SKIP
    """
    book, day = resolve(wh, book, as_of)
    rec = recordings(wh, day)
    views = views_by_age(wh, day, lookback_days)
    li = live_inputs(wh)
    window_start = pd.Timestamp(day - timedelta(days=lookback_days - 1), tz="UTC")
    stored_now, source = stored_minutes_now(wh, day)
    month = next_month(day)
    out = []
    freed_so_far = freed_before
    for row in li[li["recording_mode"] == "automatic"].itertuples():
        mine = rec[rec["live_input_uid"] == row.uid]
        made = mine[mine["created"] >= window_start]
        if len(made) < min_recordings:
            continue
        v = views[views["live_input_uid"] == row.uid]
        total = float(v["minutes"].sum())
        od = float(v.loc[v["age"] >= 1, "minutes"].sum())
        share = od / total if total else 0.0
        if share >= max_od_share:
            continue
        stored = mine[mine["stored"]]
        when = earliest_deletion(stored, day)
        rid = f"{KIND}:{row.uid}"
        sched = schedule_actions(
            stored, when, rid, f"recordings of live input {row.uid} are not watched on demand "
                               f"({pct(share)} of their minutes)")
        moved = {a.resource for a in sched}
        freed = float(stored.loc[stored["uid"].isin(moved), "minutes"].sum())
        start = stored_now - freed_so_far
        saving, computation = capacity_saving(start, start - freed, month, book)
        freed_so_far += freed
        if saving <= 0:
            continue
        out.append(_recommendation(row, mine, stored, sched, share, total, od, freed, saving,
                                   computation, stored_now, source, day, lookback_days,
                                   max_od_share, min_recordings, len(made), freed_before))
    return out


def _recommendation(row, mine: pd.DataFrame, stored: pd.DataFrame, sched: list[Action],
                    share: float, total: float, od: float, freed: float, saving,
                    computation: str, stored_now: float, source: str, day: date,
                    lookback_days: int, max_od_share: float, min_recordings: int, made: int,
                    freed_before: float) -> Recommendation:
    uid = row.uid
    rid = f"{KIND}:{uid}"
    now = clock(day)
    growth_from = now - GROWTH_DAYS * DAY
    per_month = float(mine.loc[mine["ready"] >= growth_from, "minutes"].sum()) / GROWTH_DAYS * 30
    older30 = stored[stored["ready"] + 30 * DAY <= now]
    current = retention_value(row.delete_recording_after_days)
    actions: list[Action] = [Action(
        id=f"live_input.update:{uid}:recording.mode", kind="live_input.update", resource=uid,
        current={"recording": {"mode": "automatic"}}, proposed={"recording": {"mode": "off"}},
        why=f"only {pct(share)} of its recordings' viewing is on demand", recommendation_id=rid)]
    actions += sched
    name = row.name or uid
    if freed_before:
        computation += f" (after {freed_before:,.1f} minutes freed by other recommendations)"
    computation += (f". Stored minutes: {source}. Recording off also stops ~{per_month:,.0f} "
                    "new stored minutes a month (not counted).")
    evidence = as_json({
        "live_input": uid, "live_input_name": row.name,
        "broadcasters": sorted(set(mine["creator"])),
        "recording_mode": "automatic", "current_delete_recording_after_days": current,
        "window_days": lookback_days, "recordings_in_window": made,
        "minutes_viewed_in_window": total, "on_demand_minutes_in_window": od,
        "on_demand_share": round(share, 6),
        "stored_recordings": len(stored), "minutes_freed": round(freed, 3),
        "account_stored_minutes": stored_now,
        "recorded_minutes_per_month": round(per_month, 1),
        "alternative_30_day_retention": {
            "action": "deleteRecordingAfterDays 30 instead of recording off",
            "recordings_older_than_30_days": len(older30),
            "minutes_freed_now": round(float(older30["minutes"].sum()), 3),
        },
        "scheduled_deletions": {"count": len(sched),
                                "first": min((a.proposed["scheduledDeletion"] for a in sched),
                                             default=None),
                                "last": max((a.proposed["scheduledDeletion"] for a in sched),
                                            default=None)},
        "confidence_reason": (f"{made} recordings in {lookback_days} days with "
                              f"{total:,.0f} minutes viewed, {od:,.0f} of them on demand"),
    })
    return Recommendation(
        id=rid, kind=KIND, target_type="live_input", target=uid,
        action=(f"Turn recording off on live input '{name}' and schedule its {len(sched)} "
                "stored recording(s) for deletion at the earliest date the API accepts. "
                f"Alternative: keep recording with deleteRecordingAfterDays 30 (frees "
                f"{older30['minutes'].sum():,.1f} minutes now and keeps 30 days of replays)."),
        evidence=evidence,
        rule=(f"on-demand minutes < {max_od_share:.0%} of the minutes viewed of the input's "
              f"recordings over the last {lookback_days} days, with >= {min_recordings} "
              "recordings in that window"),
        monthly_saving=saving,
        saving_computation=computation + f" Saving: {money(saving)}/month.",
        viewer_impact=(f"{od:,.0f} on-demand minutes in the last {lookback_days} days "
                       f"({pct(share)} of its viewing) would have had no replay; live viewing "
                       "is unaffected (with recording off Stream counts it on the live input)."),
        confidence="high" if made >= 2 * min_recordings and total > 0 else "medium",
        actions=tuple(actions))


def selected_minutes(recs: Iterable[Recommendation]) -> float:
    """Stored minutes the given selectivity recommendations free (for the next pricing)."""
    return sum(float(r.evidence.get("minutes_freed", 0)) for r in recs if r.kind == KIND)


__all__ = ["KIND", "recommend_selectivity", "selected_minutes"]
