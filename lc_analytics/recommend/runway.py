"""Storage runway: when prepaid Stream capacity runs out, the cheapest way to keep going.

Stored minutes reaching the purchased capacity stop new uploads AND new live streams, so
this is an outage forecast, not a saving. The rule:

- The projection is `lc_analytics.costs.runway.storage_runway` / `storage_runway_daily`
  (level from the latest storage snapshot, Theil-Sen growth of the last 28 days' additions,
  minus scheduled and retention deletions; see that module), over `horizon_days` (default 90).
  The runway is measured from the warehouse's latest storage snapshot, whatever `as_of` says.
- Fires when that projection reaches the capacity within the horizon.
- Options, each priced by the engine as the monthly cost of the capacity it needs (1,000-minute
  blocks at the book's price) above what is held now:
  1. buy capacity only: the fewest blocks that keep the projected peak under capacity;
  2. apply the retention and selectivity recommendations (no cost; their lost viewing stays
     under their thresholds), the most relieving first, one more per option, and buy what
     is still needed, if anything. Their effect on the
     projection: the existing recordings they schedule for deletion leave on their proposed
     dates, and each affected input's future recordings (its mean daily additions over the
     same 28 days) leave after the new retention, or are not made when recording is off.
  The cheapest option is proposed (ties: the one with fewer changes).
- Action: `manual` "buy k blocks" (prepaid capacity cannot be bought through the API) when
  k > 0; the retention/selectivity actions it relies on stay in their own recommendations
  and are listed in the evidence. monthly_saving is 0: the capacity cost avoided compared
  with buying alone is stated in the evidence, and is already counted as those
  recommendations' savings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from .. import facts
from ..costs.pricebook import PriceBook
from ..costs.runway import WINDOW_DAYS, storage_runway, storage_runway_daily
from ..warehouse import Warehouse
from ._common import (
    DAY,
    as_json,
    capacity_bill,
    money,
    next_month,
    resolve,
)
from ._deletions import deletions_freed
from ._recordings import recordings
from .evidence import RetentionEvidence, RunwayEvidence, RunwayOption, StreamChangeEvidence
from .model import Action, Recommendation

#: Days ahead the runway must hold.
HORIZON_DAYS = facts.HORIZON_DAYS
#: Minutes in one prepaid Stream storage block.
BLOCK_MINUTES = facts.STORAGE_BLOCK_MINUTES

KIND = "storage_runway"
FREEING_KINDS = ("recording_retention", "recording_selectivity")


@dataclass(frozen=True)
class RunwayRule:
    """The rule's parameter: the days ahead the runway must hold."""

    horizon_days: int = HORIZON_DAYS


def recommend_runway(wh: Warehouse, *, book: PriceBook | str | None = None,
                     as_of: date | str | None = None, rule: RunwayRule | None = None,
                     freeing: Sequence[Recommendation] | None = None) -> list[Recommendation]:
    """The cheapest capacity + retention mix that keeps new live streams possible.

    `rule`: the horizon (default `RunwayRule()`). `freeing`: the retention/selectivity
    recommendations to count on (default: made here, as `recommend_all` would make them).

    >>> recs = recommend_runway(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    >>> recs[0].evidence.exhaustion_date                                         # doctest: +SKIP
    '2026-07-22'
    """
    book, day = resolve(wh, book, as_of)
    rule = rule or RunwayRule()
    summary = find(wh, rule)
    if summary is None:
        return []
    if freeing is None:
        freeing = _default_freeing(wh, book, day)
    options = price(wh, day, book, summary, rule,
                    [r for r in freeing if r.kind in FREEING_KINDS])
    return [explain_runway(summary, options, [r for r in freeing if r.kind in FREEING_KINDS],
                           book, next_month(day), rule)]


def find(wh: Warehouse, rule: RunwayRule) -> pd.Series | None:
    """The rule: the storage runway (`costs.runway`) when its projection reaches the
    purchased capacity within the horizon; None when it does not (or no capacity is set)."""
    summary = storage_runway(wh, horizon_days=rule.horizon_days).iloc[0]
    if pd.isna(summary["capacity_minutes"]) or summary["exhaustion_date"] is None or \
            pd.isna(summary["exhaustion_date"]):
        return None
    return summary


def price(wh: Warehouse, day: date, book: PriceBook, summary: pd.Series, rule: RunwayRule,
          freeing: list[Recommendation]) -> list[RunwayOption]:
    """Each option (buy only; apply the most relieving 1, 2, ... recommendations first, buy
    the rest) with its capacity cost above today's, priced by the engine."""
    capacity = float(summary["capacity_minutes"])
    daily = storage_runway_daily(wh, horizon_days=rule.horizon_days)
    future = daily[daily["projected_minutes"].notna()].reset_index(drop=True)
    dates = pd.to_datetime(future["date"]).dt.tz_localize("UTC")
    base = future["projected_minutes"].to_numpy(float)
    t0 = pd.Timestamp(summary["snapshot_at"])
    rec = recordings(wh, day).set_index("uid")
    # the recordings each input's recording rate is measured from, selected once
    recent = rec[(rec["ready"] >= t0 - WINDOW_DAYS * DAY) & (rec["ready"] < t0.floor("D"))]
    reliefs = [_relief(rec, recent, [r], dates) for r in freeing]
    order = sorted(range(len(freeing)), key=lambda i: -float(reliefs[i].max(initial=0)))
    month = next_month(day)
    held = capacity_bill(capacity, month, book).total
    options = []
    for k in range(len(order) + 1):
        series = base - sum((reliefs[i] for i in order[:k]), np.zeros(len(base)))
        peak = float(series.max())
        blocks = 0 if peak < capacity else int((peak - capacity) // BLOCK_MINUTES) + 1
        reach = np.nonzero(series >= capacity)[0]
        options.append(RunwayOption(
            option="buy capacity only" if not k else
            f"apply {k} retention/selectivity recommendation(s), buy the rest",
            blocks=blocks, capacity_minutes=capacity + blocks * BLOCK_MINUTES,
            monthly_cost=capacity_bill(capacity + blocks * BLOCK_MINUTES, month, book).total
            - held, peak_minutes=round(peak, 1),
            exhaustion_without_purchase=None if not len(reach)
            else str(dates.iloc[reach[0]].date()),
            relies_on=tuple(freeing[i].id for i in order[:k])))
    return options


def _default_freeing(wh: Warehouse, book: PriceBook, day: date) -> list[Recommendation]:
    from .retention import recommend_retention
    from .selectivity import recommend_selectivity, selected_minutes
    sel = recommend_selectivity(wh, book=book, as_of=day)
    ret = recommend_retention(wh, book=book, as_of=day, skip_live_inputs={r.target for r in sel},
                              freed_before=selected_minutes(sel))
    return sel + ret


def _relief(rec: pd.DataFrame, recent: pd.DataFrame, recs: Iterable[Recommendation],
            dates: pd.Series) -> np.ndarray:
    """Minutes the recommendations take off the projection at the end of each future day
    (`rec`: the recordings as of the clock, indexed by uid, read once for every option;
    `recent`: those made in the WINDOW_DAYS before the snapshot, the recording rate's)."""
    recs = list(recs)
    n = len(dates)
    out = np.zeros(n)
    if not recs:
        return out
    ends = (dates + DAY).to_numpy("datetime64[ns]")
    for r in recs:
        out += deletions_freed(rec, r.actions, ends)
        uid = r.target
        mine = recent[recent["live_input_uid"] == uid]
        rate = float(mine["minutes"].sum()) / WINDOW_DAYS
        assert isinstance(r.evidence, StreamChangeEvidence), r.id
        current = r.evidence.current_delete_recording_after_days
        kept_now = np.minimum(np.arange(1, n + 1), current if current else np.inf)
        if isinstance(r.evidence, RetentionEvidence):
            kept_new = np.minimum(np.arange(1, n + 1), r.evidence.policy_days)
        else:  # recording off
            kept_new = np.zeros(n)
        out += rate * (kept_now - kept_new)
    return out


def explain_runway(summary: pd.Series, options: list[RunwayOption],
                   freeing: list[Recommendation], book: PriceBook, month: date,
                   rule: RunwayRule) -> Recommendation:
    """The recommendation: the cheapest option (ties: fewer changes), its words, evidence."""
    rid = f"{KIND}:account"
    capacity = float(summary["capacity_minutes"])
    exhaustion = summary["exhaustion_date"]
    chosen = min(options, key=lambda o: (o.monthly_cost, len(o.relies_on)))
    avoided = options[0].monthly_cost - chosen.monthly_cost
    relied = [r for r in freeing if r.id in chosen.relies_on]
    what = []
    if relied:
        what.append(f"apply {len(relied)} retention/selectivity recommendation(s) "
                    f"({', '.join(f'{r.kind} on {r.target_name}' for r in relied)})")
    if chosen.blocks:
        what.append(f"buy {chosen.blocks} more {BLOCK_MINUTES:,}-minute block(s) "
                    f"(capacity {capacity:,.0f} -> {chosen.capacity_minutes:,.0f} minutes, "
                    f"+{money(chosen.monthly_cost)}/month)")
    lines = "; ".join(f"{o.option}: {o.blocks} block(s), +{money(o.monthly_cost)}/month"
                      f", peak {o.peak_minutes:,.0f} minutes" for o in options)
    horizon = rule.horizon_days
    return Recommendation(
        id=rid, kind=KIND, target_type="account", target="account",
        action=(f"Prepaid Stream storage ({capacity:,.0f} minutes) runs out on {exhaustion} "
                "(new uploads and live streams are refused from then on). To keep going for "
                f"{horizon} days: " + " and ".join(what) + "."),
        evidence=_evidence(summary, options, chosen, relied, avoided, rule),
        rule=(f"the storage runway projection reaches the purchased capacity within "
              f"{horizon} days; the cheapest of buying {BLOCK_MINUTES:,}-minute blocks "
              "alone or after applying the retention recommendations is proposed"),
        monthly_saving=Decimal(0),
        saving_computation=(f"Not a saving: it keeps live streams possible. Options priced by "
                            f"the engine ({book.label}, {month:%Y-%m}) as capacity cost above "
                            f"today's: {lines}. Chosen: {chosen.option}, avoiding "
                            f"{money(avoided)}/month of capacity against buying alone (already "
                            "counted in the retention/selectivity savings)."),
        viewer_impact=(f"Without action, no new live stream can start from {exhaustion}. With "
                       "it: none beyond the viewer impact stated in the recommendations it "
                       "relies on."),
        confidence="high" if summary["exhaustion_latest"] is not None
        and not pd.isna(summary["exhaustion_latest"]) else "medium",
        actions=_capacity_actions(capacity, chosen, exhaustion, rid))


def _capacity_actions(capacity: float, chosen: RunwayOption, exhaustion: Any,
                      rid: str) -> tuple[Action, ...]:
    """The manual purchase of the blocks the chosen option needs (none if it needs none)."""
    if not chosen.blocks:
        return ()
    return (Action(
        id="manual:stream-capacity", kind="manual", resource="account",
        current={"capacity_minutes": capacity},
        proposed={"capacity_minutes": chosen.capacity_minutes,
                  "buy_blocks": chosen.blocks,
                  "how": f"buy {chosen.blocks} more {BLOCK_MINUTES:,}-minute block(s) of "
                         "Stream storage in the dashboard before "
                         f"{chosen.exhaustion_without_purchase or exhaustion}; the API "
                         "cannot"},
        why=f"stored minutes reach the {capacity:,.0f}-minute capacity on {exhaustion}",
        recommendation_id=rid),)


def _evidence(summary: pd.Series, options: list[RunwayOption], chosen: RunwayOption,
              relied: list[Recommendation], avoided: Decimal,
              rule: RunwayRule) -> RunwayEvidence:
    """The runway's measured values and the options priced."""
    sched = "video.schedule_deletion"
    action_ids = {r.id: {"settings": [a.id for a in r.actions if a.kind != sched],
                         "scheduled_deletions": sum(a.kind == sched for a in r.actions)}
                  for r in relied}
    s = as_json({k: summary[k] for k in ("snapshot_at", "exhaustion_date",
                                         "days_until_exhaustion", "exhaustion_earliest",
                                         "exhaustion_latest")})
    return RunwayEvidence(
        snapshot_at=s["snapshot_at"], stored_minutes=float(summary["stored_minutes"]),
        capacity_minutes=float(summary["capacity_minutes"]),
        exhaustion_date=s["exhaustion_date"],
        days_until_exhaustion=s["days_until_exhaustion"],
        exhaustion_interval=(s["exhaustion_earliest"], s["exhaustion_latest"]),
        added_minutes_per_day=round(float(summary["added_minutes_per_day"]), 2),
        net_growth_per_day=round(float(summary["net_growth_per_day"]), 2),
        horizon_days=rule.horizon_days, method=str(summary["method"]),
        options=tuple(options), chosen=chosen.option,
        capacity_cost_avoided_vs_buying_only=avoided,
        relies_on_recommendations=chosen.relies_on, relies_on_actions=action_ids,
        information_only=True,
        confidence_reason="projection from 28 days of additions; interval "
                          f"{summary['exhaustion_earliest']} to {summary['exhaustion_latest']}")


__all__ = ["HORIZON_DAYS", "KIND", "RunwayRule", "explain_runway", "find", "price",
           "recommend_runway"]
