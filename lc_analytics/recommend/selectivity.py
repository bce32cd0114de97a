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
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from .. import facts
from ..costs.pricebook import PriceBook
from ..warehouse import Warehouse
from ._common import (
    DAY,
    Freed,
    Pricing,
    StreamMonth,
    any_freed,
    as_daily,
    clock,
    freed_by_day,
    money,
    month_saving,
    pct,
    recording_rate,
    resolve,
    stream_month,
)
from ._recordings import (
    deletion_span,
    earliest_deletion,
    live_inputs,
    recordings,
    retention_value,
    schedule_actions,
    views_by_age,
)
from .evidence import SelectivityEvidence
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
                          rule: SelectivityRule | None = None,
                          freed_before: float | pd.Series = 0.0) -> list[Recommendation]:
    """Recording off (and its stored recordings deleted) for inputs nobody watches on demand.

    `rule`: the thresholds (default `SelectivityRule()`). `freed_before`: stored minutes
    other recommendations free first, per day of the next billing month (a Series by date)
    or on every day (a number); the blocks are priced from what remains.

    >>> wh = Warehouse("data/demo.duckdb", read_only=True)      # doctest: +SKIP
    >>> [(r.target, r.monthly_saving) for r in recommend_selectivity(wh)]  # doctest: +SKIP
    """
    book, day = resolve(wh, book, as_of)
    rule = rule or SelectivityRule()
    flagged = find(wh, day, rule)
    if not flagged:
        return []
    sm = stream_month(wh, day)
    pricing = price(flagged, sm, day, book, sm.baseline - as_daily(freed_before, sm))
    return [explain_input(f, pricing, sm, day, rule, freed_before) for f in flagged
            if pricing.proposed(f.row.uid)]


@dataclass(frozen=True)
class SelectivityRule:
    """The rule's parameters: the on-demand share under which recording stops, the
    recordings an input must have made, and the days of viewing read."""

    max_od_share: float = MAX_OD_SHARE
    min_recordings: int = MIN_RECORDINGS
    lookback_days: int = LOOKBACK_DAYS


@dataclass
class Flagged:
    """One live input the rule found: its recordings, how they were watched, and (once
    priced) the deletions it is given and the minutes they free."""

    row: Any  # the live input (a row of `live_inputs`)
    mine: pd.DataFrame  # its recordings
    made: int  # recordings made in the window
    total: float  # minutes viewed in the window
    od: float  # of which on demand
    share: float
    stored: pd.DataFrame = field(default_factory=pd.DataFrame)
    sched: list[Action] = field(default_factory=list)
    freed: Freed | None = None


def find(wh: Warehouse, day: date, rule: SelectivityRule) -> list[Flagged]:
    """The live inputs recording automatically whose recordings' on-demand share over the
    window is under the threshold, with at least `min_recordings` made in it."""
    rec = recordings(wh, day)
    views = views_by_age(wh, day, rule.lookback_days)
    li = live_inputs(wh)
    window_start = pd.Timestamp(day - timedelta(days=rule.lookback_days - 1), tz="UTC")
    flagged = []
    rec_of = rec.groupby("live_input_uid", sort=False).indices
    views_of = views.groupby("live_input_uid", sort=False).indices
    for row in li[li["recording_mode"] == "automatic"].itertuples():
        mine = rec.iloc[rec_of.get(row.uid, [])]
        made = mine[mine["created"] >= window_start]
        if len(made) < rule.min_recordings:
            continue
        v = views.iloc[views_of.get(row.uid, [])]
        total = float(v["minutes"].sum())
        od = float(v.loc[v["age"] >= 1, "minutes"].sum())
        share = od / total if total else 0.0
        if share < rule.max_od_share:
            flagged.append(Flagged(row, mine, len(made), total, od, share))
    return flagged


def price(flagged: list[Flagged], sm: StreamMonth, day: date, book: PriceBook,
          before: np.ndarray) -> Pricing:
    """Schedule each input's stored recordings for deletion and price the minutes freed,
    all inputs together, through the engine (`month_saving`)."""
    for f in flagged:
        f.stored = f.mine[f.mine["stored"]]
        f.sched = schedule_actions(
            f.stored, earliest_deletion(f.stored, day), f"{KIND}:{f.row.uid}",
            f"recordings of live input '{f.row.name or f.row.uid}' are not watched on demand "
            f"({pct(f.share)} of their minutes)")
        f.freed = freed_by_day(f.mine, f.sched, sm, rate=recording_rate(f.mine, day),
                               kept_now=retention_value(f.row.delete_recording_after_days),
                               kept_new=0)
    freed = [_freed(f) for f in flagged]
    priced = month_saving(sm, before, sum((x.total for x in freed), np.zeros(len(sm.days))),
                          book)
    return Pricing.of(priced, {f.row.uid: x.at_month_end
                               for f, x in zip(flagged, freed, strict=True)})


def _freed(f: Flagged) -> Freed:
    assert f.freed is not None, "priced before explained"
    return f.freed


def explain_input(f: Flagged, pricing: Pricing, sm: StreamMonth, day: date,
                  rule: SelectivityRule, freed_before: float | pd.Series) -> Recommendation:
    """The recommendation for one flagged input: its actions, evidence and words."""
    uid = f.row.uid
    rid = f"{KIND}:{uid}"
    older30 = _older_than_30_days(f, day)
    actions: list[Action] = [Action(
        id=f"live_input.update:{uid}:recording.mode", kind="live_input.update", resource=uid,
        current={"recording": {"mode": "automatic"}}, proposed={"recording": {"mode": "off"}},
        why=f"only {pct(f.share)} of its recordings' viewing is on demand",
        recommendation_id=rid)]
    actions += f.sched
    name = f.row.name or uid
    return Recommendation(
        id=rid, kind=KIND, target_type="live_input", target=uid,
        action=(f"Turn recording off on live input '{name}' and schedule its {len(f.sched)} "
                "stored recording(s) for deletion at the earliest date the API accepts. "
                f"Alternative: keep recording with deleteRecordingAfterDays 30 (frees "
                f"{older30['minutes'].sum():,.1f} minutes now and keeps 30 days of replays)."),
        evidence=_evidence(f, pricing, sm, day, rule),
        rule=(f"on-demand minutes < {rule.max_od_share:.0%} of the minutes viewed of the "
              f"input's recordings over the last {rule.lookback_days} days, with >= "
              f"{rule.min_recordings} recordings in that window"),
        monthly_saving=pricing.shares[uid],
        saving_computation=_computation(f, pricing, sm, freed_before),
        viewer_impact=(f"{f.od:,.0f} on-demand minutes in the last {rule.lookback_days} days "
                       f"({pct(f.share)} of its viewing) would have had no replay; live "
                       "viewing is unaffected (with recording off Stream counts it on the "
                       "live input)."),
        confidence="high" if f.made >= 2 * rule.min_recordings and f.total > 0 else "medium",
        actions=tuple(actions))


def _older_than_30_days(f: Flagged, day: date) -> pd.DataFrame:
    return f.stored[f.stored["ready"] + 30 * DAY <= clock(day)]


def _computation(f: Flagged, pricing: Pricing, sm: StreamMonth,
                 freed_before: float | pd.Series) -> str:
    """The arithmetic behind the input's saving, in words."""
    freed = _freed(f)
    fe = freed.evidence(sm)
    parts = fe["minutes_freed_by_month_end"]
    month = f"{sm.month:%Y-%m}"
    return (
        f"{pricing.priced.text}; {len(pricing.weights)} input(s) with recording off together"
        + (" (after the minutes other recommendations free)" if any_freed(freed_before) else "")
        + f". This input frees {freed.at_month_end:,.1f} of {sum(pricing.weights.values()):,.1f}"
        f" minutes by the end of {month}: {parts['deleted_first_day']:,.1f} deleted on the "
        f"first allowed day (already 30 days old), {parts['deleted_later_in_month']:,.1f} as "
        f"the rest reach 30 days, {parts['future_recordings']:,.1f} not recorded "
        f"({freed.rate:,.1f} minutes a day over the last {fe['rate_days']} days) -> "
        f"{money(pricing.shares[f.row.uid])} in {month} "
        f"({money(pricing.end_shares[f.row.uid])}/month at the month end), attributed in "
        "proportion to the minutes freed. Realised when the prepaid capacity is lowered "
        "(manual), or as capacity not bought while storage grows.")


def _evidence(f: Flagged, pricing: Pricing, sm: StreamMonth, day: date,
              rule: SelectivityRule) -> SelectivityEvidence:
    """The measured values behind the recommendation."""
    freed, stored, sched = _freed(f), f.stored, f.sched
    older30 = _older_than_30_days(f, day)
    scheduled = float(stored.loc[stored["uid"].isin({a.resource for a in sched}),
                                 "minutes"].sum())
    return SelectivityEvidence(
        live_input=f.row.uid, live_input_name=f.row.name,
        broadcasters=tuple(sorted(set(f.mine["creator"]))),
        recording_mode="automatic",
        current_delete_recording_after_days=retention_value(f.row.delete_recording_after_days),
        window_days=rule.lookback_days, recordings_in_window=f.made,
        minutes_viewed_in_window=f.total, on_demand_minutes_in_window=f.od,
        on_demand_share=round(f.share, 6),
        stored_recordings=len(stored), stored_minutes_scheduled=round(scheduled, 3),
        minutes_freed=round(freed.at_month_end, 3),
        **freed.evidence(sm),
        month_end_saving=pricing.end_shares[f.row.uid],
        baseline=sm.evidence(), account_level=pricing.priced.figures,
        recorded_minutes_per_month=round(freed.rate * 30, 1),
        alternative_30_day_retention={
            "action": "deleteRecordingAfterDays 30 instead of recording off",
            "recordings_older_than_30_days": len(older30),
            "minutes_freed_now": round(float(older30["minutes"].sum()), 3),
        },
        scheduled_deletions=deletion_span(sched),
        confidence_reason=(f"{f.made} recordings in {rule.lookback_days} days with "
                           f"{f.total:,.0f} minutes viewed, {f.od:,.0f} of them on demand"))


def selected_minutes(recs: Iterable[Recommendation]) -> pd.Series:
    """Minutes the given selectivity recommendations free at the end of each day of their
    billing month, by date (for the next pricing; empty when there are none)."""
    out = pd.Series(dtype=float)
    for r in recs:
        if not isinstance(r.evidence, SelectivityEvidence):
            continue
        by_day = r.evidence.minutes_freed_by_day
        first = date.fromisoformat(r.evidence.billing_month + "-01")
        days = [first + timedelta(days=i) for i in range(len(by_day))]
        out = out.add(pd.Series(by_day, index=days, dtype=float), fill_value=0.0)
    return out


__all__ = ["KIND", "Flagged", "Pricing", "SelectivityRule", "explain_input", "find", "price",
           "recommend_selectivity", "selected_minutes"]
