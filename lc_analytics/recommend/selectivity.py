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
- Minutes freed, measured at the end of the next billing month (`next_month(as_of)`):
  every stored recording the plan deletes by then (all go within 30 days of the clock: a
  month of 30 or 31 days starting at the clock sees them all), unless an existing scheduled
  deletion would remove it by then anyway, plus the minutes the input would record from the
  clock to the month end at its pace of the last 28 days (none are made with recording off;
  under a current retention R the baseline would keep only the last R days of them). The
  evidence splits them: deleted on the first allowed day, deleted later in the month,
  future recordings avoided; and gives them day by day.
- Monthly saving: the engine prices the next billing month's Stream capacity from each
  day's stored minutes (the `costs.runway` projection, capacity unset, the month charged for
  its peak day) with and without the minutes every flagged input frees, together (blocks
  counted once, after what `freed_before` frees first); the difference is attributed to each
  input in proportion to the minutes it frees by the month end. The month-end figure alone
  (the run rate once the deletions have run) is in the evidence; an input is proposed when
  either is positive. Realised when the prepaid capacity is lowered (manual), or as capacity
  not bought while storage grows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from .. import facts
from ..costs.pricebook import PriceBook
from ..warehouse import Warehouse
from ._common import (
    DAY,
    Freed,
    MonthSaving,
    StreamMonth,
    any_freed,
    as_daily,
    as_json,
    clock,
    freed_by_day,
    money,
    month_saving,
    pct,
    recording_rate,
    resolve,
    split_saving,
    stream_month,
)
from ._recordings import (
    earliest_deletion,
    live_inputs,
    recordings,
    retention_value,
    schedule_actions,
    views_by_age,
)
from .model import Action, Recommendation

#: Largest on-demand share of an input's viewing that still counts as "never watched".
MAX_OD_SHARE = facts.MAX_OD_SHARE
#: Recordings the input must have made in the window for the share to mean something.
MIN_RECORDINGS = 10
#: Days of viewing (and of recordings) the share is measured over.
LOOKBACK_DAYS = facts.LOOKBACK_DAYS
KIND = "recording_selectivity"


def recommend_selectivity(wh: Warehouse, *, book: PriceBook | str | None = None,
                          as_of: date | str | None = None,
                          max_od_share: float = MAX_OD_SHARE,
                          min_recordings: int = MIN_RECORDINGS,
                          lookback_days: int = LOOKBACK_DAYS,
                          freed_before: float | pd.Series = 0.0) -> list[Recommendation]:
    """Recording off (and its stored recordings deleted) for inputs nobody watches on demand.

    `freed_before`: stored minutes other recommendations free first, per day of the next
    billing month (a Series by date) or on every day (a number); the blocks are priced from
    what remains.

    >>> wh = Warehouse("data/demo.duckdb", read_only=True)      # doctest: +SKIP
    >>> [(r.target, r.monthly_saving) for r in recommend_selectivity(wh)]  # doctest: +SKIP
    """
    book, day = resolve(wh, book, as_of)
    rec = recordings(wh, day)
    views = views_by_age(wh, day, lookback_days)
    li = live_inputs(wh)
    window_start = pd.Timestamp(day - timedelta(days=lookback_days - 1), tz="UTC")
    flagged = []
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
        flagged.append((row, mine, len(made), total, od, share))
    if not flagged:
        return []

    sm = stream_month(wh, day)
    before = sm.baseline - as_daily(freed_before, sm)
    found = []
    for row, mine, made, total, od, share in flagged:
        stored = mine[mine["stored"]]
        rid = f"{KIND}:{row.uid}"
        sched = schedule_actions(
            stored, earliest_deletion(stored, day), rid,
            f"recordings of live input '{row.name or row.uid}' are not watched on demand "
            f"({pct(share)} of their minutes)")
        freed = freed_by_day(mine, sched, sm, rate=recording_rate(mine, day),
                             kept_now=retention_value(row.delete_recording_after_days),
                             kept_new=0)
        found.append((row, mine, stored, sched, freed, made, total, od, share))
    freed_all = sum((f[4].total for f in found), np.zeros(len(sm.days)))
    priced = month_saving(sm, before, freed_all, book)
    weights = {f[0].uid: f[4].at_month_end for f in found}
    shares = split_saving(priced.saving, weights)
    end_shares = split_saving(priced.month_end_saving, weights)
    out = []
    for row, mine, stored, sched, freed, made, total, od, share in found:
        if shares[row.uid] <= 0 and end_shares[row.uid] <= 0:
            continue
        out.append(_recommendation(
            row, mine, stored, sched, share, total, od, freed, shares[row.uid],
            end_shares[row.uid], priced, weights, sm, day, lookback_days, max_od_share,
            min_recordings, made, freed_before))
    return out


def _recommendation(row, mine: pd.DataFrame, stored: pd.DataFrame, sched: list[Action],
                    share: float, total: float, od: float, freed: Freed, saving: Decimal,
                    end_saving: Decimal, priced: MonthSaving, weights: dict[str, float],
                    sm: StreamMonth, day: date, lookback_days: int, max_od_share: float,
                    min_recordings: int, made: int,
                    freed_before: float | pd.Series) -> Recommendation:
    uid = row.uid
    rid = f"{KIND}:{uid}"
    now = clock(day)
    older30 = stored[stored["ready"] + 30 * DAY <= now]
    current = retention_value(row.delete_recording_after_days)
    actions: list[Action] = [Action(
        id=f"live_input.update:{uid}:recording.mode", kind="live_input.update", resource=uid,
        current={"recording": {"mode": "automatic"}}, proposed={"recording": {"mode": "off"}},
        why=f"only {pct(share)} of its recordings' viewing is on demand", recommendation_id=rid)]
    actions += sched
    name = row.name or uid
    fe = freed.evidence(sm)
    parts = fe["minutes_freed_by_month_end"]
    scheduled = float(stored.loc[stored["uid"].isin({a.resource for a in sched}),
                                 "minutes"].sum())
    all_freed = sum(weights.values())
    month = f"{sm.month:%Y-%m}"
    computation = (
        f"{priced.text}; {len(weights)} input(s) with recording off together"
        + (" (after the minutes other recommendations free)" if any_freed(freed_before) else "")
        + f". This input frees {freed.at_month_end:,.1f} of {all_freed:,.1f} minutes by the "
        f"end of {month}: {parts['deleted_first_day']:,.1f} deleted on the first allowed day "
        f"(already 30 days old), {parts['deleted_later_in_month']:,.1f} as the rest reach 30 "
        f"days, {parts['future_recordings']:,.1f} not recorded ({freed.rate:,.1f} minutes a "
        f"day over the last {fe['rate_days']} days) -> {money(saving)} in {month} "
        f"({money(end_saving)}/month at the month end), attributed in proportion to the "
        "minutes freed. Realised when the prepaid capacity is lowered (manual), or as "
        "capacity not bought while storage grows.")
    evidence = as_json({
        "live_input": uid, "live_input_name": row.name,
        "broadcasters": sorted(set(mine["creator"])),
        "recording_mode": "automatic", "current_delete_recording_after_days": current,
        "window_days": lookback_days, "recordings_in_window": made,
        "minutes_viewed_in_window": total, "on_demand_minutes_in_window": od,
        "on_demand_share": round(share, 6),
        "stored_recordings": len(stored), "stored_minutes_scheduled": round(scheduled, 3),
        "minutes_freed": round(freed.at_month_end, 3),
        **fe,
        "month_end_saving": end_saving,
        "baseline": sm.evidence(), "account_level": priced.figures,
        "recorded_minutes_per_month": round(freed.rate * 30, 1),
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
        saving_computation=computation,
        viewer_impact=(f"{od:,.0f} on-demand minutes in the last {lookback_days} days "
                       f"({pct(share)} of its viewing) would have had no replay; live viewing "
                       "is unaffected (with recording off Stream counts it on the live input)."),
        confidence="high" if made >= 2 * min_recordings and total > 0 else "medium",
        actions=tuple(actions))


def selected_minutes(recs: Iterable[Recommendation]) -> pd.Series:
    """Minutes the given selectivity recommendations free at the end of each day of their
    billing month, by date (for the next pricing; empty when there are none)."""
    out = pd.Series(dtype=float)
    for r in recs:
        if r.kind != KIND:
            continue
        first = date.fromisoformat(r.evidence["billing_month"] + "-01")
        days = [first + timedelta(days=i) for i in range(len(r.evidence["minutes_freed_by_day"]))]
        out = out.add(pd.Series(r.evidence["minutes_freed_by_day"], index=days, dtype=float),
                      fill_value=0.0)
    return out


__all__ = ["KIND", "recommend_selectivity", "selected_minutes"]
