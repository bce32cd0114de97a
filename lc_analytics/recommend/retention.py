"""Recording retention: which `deleteRecordingAfterDays` keeps what viewers still watch.

The rule, per live input (and evaluated the same way per broadcaster and for the whole
account in `retention_policies`, for the report):

- Each recording's decay curve is its minutes viewed by age, age = view date - the
  recording's created date (age 0 = the live show day; ages >= 1 = on demand), over the last
  `lookback_days` (default 90) and `recent_days` (default 30) of synced viewing.
- A policy N (from `POLICIES`, 30 to 1,096 days, never under 30) deletes a recording N days
  after it became ready to stream. The viewing it would have lost is the on-demand minutes
  viewed at ages >= N in each window.
- Recommended: the shortest N (the one that frees most) whose lost viewing is at most
  `max_lost_share` (default 2%) of the input's on-demand minutes in BOTH windows, that is
  shorter than the input's current setting, and that frees stored minutes now.
- Minutes freed, measured at the end of the next billing month (`next_month(as_of)`): the
  input's recordings, stored now or made from the clock to the month end (at its pace of the
  last 28 days), that are older than N days at the month end and that the current setting
  would not have deleted by then (duration rounded up to the second, in minutes). The
  evidence splits them: deleted on the first allowed day, deleted later in the month, future
  recordings; and gives them day by day.
- Monthly saving: the engine prices the next billing month's Stream capacity from each
  day's stored minutes (the `costs.runway` projection, capacity unset, the month charged for
  its peak day) with and without the minutes every recommended input frees, together (the
  blocks counted once, after what `freed_before` frees first, e.g. recording selectivity);
  the account-level difference is attributed to each input in proportion to the minutes it
  frees by the month end. The month-end figure alone (the run rate once the deletions have
  run) is in the evidence; an input is proposed when either is positive. The saving is
  realised only when the prepaid capacity is lowered (a manual step) or, on a growing
  account, as capacity that need not be bought.
- Actions: `live_input.update` of deleteRecordingAfterDays (it only governs recordings of
  streams that start later), and one `video.schedule_deletion` per existing recording at
  ready + N days, never earlier than 30 days after its upload nor before the day after
  the clock, and never later than a deletion it already has.

Confidence: high when at least `MIN_EXPOSED` recordings were stored past age N inside the
window (so their viewing at that age was measurable) and the input has at least
`MIN_ON_DEMAND_MINUTES` on-demand minutes (or none at all); medium when at least 3 were;
low otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from ..costs.pricebook import PriceBook
from ..warehouse import Warehouse
from ._common import (
    DAY,
    Freed,
    Pricing,
    StreamMonth,
    any_freed,
    as_daily,
    as_json,
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
    schedule_actions,
)
from ._retention_policies import (
    LOOKBACK_DAYS,
    POLICIES,
    RECENT_DAYS,
    check_policies,
    retention_policies,
)
from .evidence import RetentionEvidence
from .model import Action, Recommendation

#: Most on-demand viewing a policy may lose, as a share of on-demand minutes (per window).
MAX_LOST_SHARE = 0.02
#: Recordings seen past age N in the window for "high" confidence.
MIN_EXPOSED = 10
#: On-demand minutes in the window for "high" confidence.
MIN_ON_DEMAND_MINUTES = 500.0

KIND = "recording_retention"


@dataclass(frozen=True)
class RetentionRule:
    """The rule's parameters: the policies evaluated, the on-demand share a policy may lose
    (in both windows), and the two windows' days."""

    policies: tuple[int, ...] = POLICIES
    max_lost_share: float = MAX_LOST_SHARE
    lookback_days: int = LOOKBACK_DAYS
    recent_days: int = RECENT_DAYS

    def __post_init__(self) -> None:
        check_policies(self.policies)


@dataclass(frozen=True)
class PolicyFigures:
    """One policy evaluated for one live input (a `live_input` row of `retention_policies`)."""

    policy_days: int
    current_days: int | None
    recordings_freed: int
    minutes_freed: float
    od_minutes: float
    lost_minutes: float
    lost_share: float
    od_minutes_recent: float
    lost_minutes_recent: float
    lost_share_recent: float
    exposed: int

    @classmethod
    def of(cls, row: pd.Series) -> PolicyFigures:
        current = row["current_days"]
        return cls(int(row["policy_days"]), None if pd.isna(current) else int(current),
                   int(row["recordings_freed"]), float(row["minutes_freed"]),
                   float(row["od_minutes"]), float(row["lost_minutes"]),
                   float(row["lost_share"]), float(row["od_minutes_recent"]),
                   float(row["lost_minutes_recent"]), float(row["lost_share_recent"]),
                   int(row["exposed"]))


@dataclass
class Chosen:
    """One live input the rule chose a policy for; once priced, its actions and minutes."""

    uid: str
    name: str | None
    policy: PolicyFigures
    table: pd.DataFrame  # every policy evaluated for the input
    stored: pd.DataFrame = field(default_factory=pd.DataFrame)  # its stored recordings
    actions: list[Action] = field(default_factory=list)
    freed: Freed | None = None

    @property
    def minutes(self) -> Freed:
        assert self.freed is not None, "priced before explained"
        return self.freed


def recommend_retention(wh: Warehouse, *, book: PriceBook | str | None = None,
                        as_of: date | str | None = None, rule: RetentionRule | None = None,
                        skip_live_inputs: Iterable[str] = (),
                        freed_before: float | pd.Series = 0.0) -> list[Recommendation]:
    """A retention policy per live input where one saves storage and loses little viewing.

    `rule`: the thresholds (default `RetentionRule()`). `skip_live_inputs` leaves out inputs
    another recommendation already handles, and `freed_before` says how many stored minutes
    those free first (per day of the next billing month as a Series by date, or a number for
    every day), so the account-level pricing of the blocks starts from what remains
    (recommend_all uses both).

    >>> recs = recommend_retention(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    >>> [(r.target, r.evidence.policy_days, r.monthly_saving) for r in recs]        # doctest: +SKIP
    """
    book, day = resolve(wh, book, as_of)
    rule = rule or RetentionRule()
    chosen = find(wh, day, rule, set(skip_live_inputs))
    if not chosen:
        return []
    sm = stream_month(wh, day)
    pricing = price(wh, chosen, sm, day, book, sm.baseline - as_daily(freed_before, sm))
    out = [explain_input(c, pricing, sm, rule, freed_before) for c in chosen
           if pricing.proposed(c.uid)]
    return sorted(out, key=lambda r: (-r.monthly_saving, r.target))


def find(wh: Warehouse, day: date, rule: RetentionRule, skip: set[str]) -> list[Chosen]:
    """The rule: per listed live input (not in `skip`), the policy freeing the most stored
    minutes among those shorter than today's setting that lose at most `max_lost_share` of
    on-demand minutes in both windows."""
    table = retention_policies(wh, as_of=day, policies=rule.policies,
                               lookback_days=rule.lookback_days, recent_days=rule.recent_days)
    if not len(table):
        return []
    li = live_inputs(wh).set_index("uid")
    chosen = []
    per_input = table[(table["scope"] == "live_input") & table["scope_id"].isin(li.index)
                      & ~table["scope_id"].isin(skip)]
    for uid, grp in per_input.groupby("scope_id", sort=True):
        current = grp["current_days"].iloc[0]
        ok = grp[(grp["lost_share"] <= rule.max_lost_share)
                 & (grp["lost_share_recent"] <= rule.max_lost_share)
                 & (grp["minutes_freed"] > 0)]
        if current is not None and not pd.isna(current):
            ok = ok[ok["policy_days"] < int(current)]
        if len(ok):
            best = ok.sort_values(["minutes_freed", "policy_days"],
                                  ascending=[False, False]).iloc[0]
            chosen.append(Chosen(str(uid), li.at[uid, "name"], PolicyFigures.of(best), grp))
    return chosen


def price(wh: Warehouse, chosen: list[Chosen], sm: StreamMonth, day: date, book: PriceBook,
          before: np.ndarray) -> Pricing:
    """Schedule each chosen input's stored recordings for deletion at its policy and price
    the minutes freed, all inputs together, through the engine (`month_saving`)."""
    rec_all = recordings(wh, day)
    by_input = rec_all.groupby("live_input_uid", sort=False).indices
    for c in chosen:
        mine = rec_all.iloc[by_input.get(c.uid, [])]
        c.stored = mine[mine["stored"]]
        c.actions = _actions(c, day)
        c.freed = freed_by_day(mine, c.actions, sm, rate=recording_rate(mine, day),
                               kept_now=c.policy.current_days, kept_new=c.policy.policy_days)
    freed_all = sum((c.minutes.total for c in chosen), np.zeros(len(sm.days)))
    return Pricing.of(month_saving(sm, before, freed_all, book),
                      {c.uid: c.minutes.at_month_end for c in chosen})


def _actions(c: Chosen, day: date) -> list[Action]:
    n, uid = c.policy.policy_days, c.uid
    rid = f"{KIND}:{uid}"
    when = (c.stored["ready"] + n * DAY).clip(lower=earliest_deletion(c.stored, day))
    why = (f"recording of live input '{c.name or uid}': deleteRecordingAfterDays {n} "
           "applied to the existing recordings (the setting only governs later streams)")
    actions: list[Action] = [Action(
        id=f"live_input.update:{uid}:deleteRecordingAfterDays", kind="live_input.update",
        resource=uid,
        current={"deleteRecordingAfterDays": c.policy.current_days},
        proposed={"deleteRecordingAfterDays": n},
        why=f"recordings are rarely watched after {n} days "
            f"({pct(c.policy.lost_share)} of on-demand minutes)",
        recommendation_id=rid)]
    return actions + schedule_actions(c.stored, when, rid, why)


def explain_input(c: Chosen, pricing: Pricing, sm: StreamMonth, rule: RetentionRule,
                  freed_before: float | pd.Series) -> Recommendation:
    """The recommendation for one chosen input: its evidence and words."""
    p, uid = c.policy, c.uid
    n, current = p.policy_days, p.current_days
    sched = [a for a in c.actions if a.kind == "video.schedule_deletion"]
    return Recommendation(
        id=f"{KIND}:{uid}", kind=KIND, target_type="live_input", target=uid,
        action=(f"Set deleteRecordingAfterDays to {n} on live input '{c.name or uid}' (now "
                f"{current if current is not None else 'unset'}) and schedule its "
                f"{len(sched)} existing recording(s) for deletion {n} days after they became "
                "ready (never under 30 days after upload, never before tomorrow)."),
        evidence=_evidence(c, pricing, sm, rule),
        rule=(f"shortest deleteRecordingAfterDays in {list(rule.policies)} shorter than the "
              f"current setting that frees stored minutes while on-demand minutes at ages "
              f">= N stay <= {rule.max_lost_share:.0%} of on-demand minutes in both the last "
              f"{rule.lookback_days} and {rule.recent_days} days"),
        monthly_saving=pricing.shares[uid],
        saving_computation=_computation(c, pricing, sm, freed_before),
        viewer_impact=(f"{p.lost_minutes:,.0f} on-demand minutes in the last "
                       f"{rule.lookback_days} days ({pct(p.lost_share)}) and "
                       f"{p.lost_minutes_recent:,.0f} in the last {rule.recent_days} days "
                       f"({pct(p.lost_share_recent)}) were watched at ages >= {n} days "
                       "and would have been lost; live viewing is unaffected."),
        confidence=_confidence(p)[0], actions=tuple(c.actions))


def _evidence(c: Chosen, pricing: Pricing, sm: StreamMonth,
              rule: RetentionRule) -> RetentionEvidence:
    """The measured values behind the recommendation."""
    p, stored, freed = c.policy, c.stored, c.minutes
    sched = [a for a in c.actions if a.kind == "video.schedule_deletion"]
    policies = c.table[["policy_days", "minutes_freed", "lost_share", "lost_share_recent",
                        "exposed"]].round(6)
    return RetentionEvidence(
        live_input=c.uid, live_input_name=c.name,
        broadcasters=tuple(sorted(set(stored["creator"]))) if len(stored) else (),
        current_delete_recording_after_days=p.current_days, policy_days=p.policy_days,
        stored_recordings=len(stored),
        stored_minutes=round(float(stored["minutes"].sum()), 3),
        recordings_older_than_policy_now=p.recordings_freed,
        minutes_older_than_policy_now=round(p.minutes_freed, 3),
        minutes_freed=round(freed.at_month_end, 3),
        **freed.evidence(sm),
        month_end_saving=pricing.end_shares[c.uid],
        baseline=sm.evidence(), account_level=pricing.priced.figures,
        lookback_days=rule.lookback_days, od_minutes_lookback=p.od_minutes,
        lost_minutes_lookback=p.lost_minutes,
        lost_share_lookback=round(p.lost_share, 6),
        recent_days=rule.recent_days, od_minutes_recent=p.od_minutes_recent,
        lost_minutes_recent=p.lost_minutes_recent,
        lost_share_recent=round(p.lost_share_recent, 6),
        exposed_recordings=p.exposed,
        scheduled_deletions=deletion_span(sched),
        policies=tuple(as_json(policies.to_dict("records"))),
        saving_realised="only when the prepaid Stream capacity is lowered (manual), or as "
                        "capacity not bought while storage grows",
        confidence_reason=_confidence(p)[1])


def _confidence(p: PolicyFigures) -> tuple[str, str]:
    """How sure the policy's measure is, and why: recordings seen past N days, minutes."""
    exposed, n = p.exposed, p.policy_days
    if exposed >= MIN_EXPOSED and (p.od_minutes >= MIN_ON_DEMAND_MINUTES
                                   or p.od_minutes == 0):
        return "high", (f"{exposed} recordings were stored past {n} days inside the window, "
                        f"with {p.od_minutes:,.0f} on-demand minutes measured")
    if exposed >= 3:
        return "medium", (f"only {exposed} recordings reached {n} days inside the window, or "
                          "few on-demand minutes")
    return "low", f"{exposed} recording(s) reached {n} days in the window"


def _computation(c: Chosen, pricing: Pricing, sm: StreamMonth,
                 freed_before: float | pd.Series) -> str:
    """The arithmetic behind the input's saving, in words."""
    n, freed = c.policy.policy_days, c.minutes
    parts = freed.evidence(sm)["minutes_freed_by_month_end"]
    month = f"{sm.month:%Y-%m}"
    before_text = (", after the minutes other recommendations free"
                   if any_freed(freed_before) else "")
    return (f"{pricing.priced.text} (account-level, {len(pricing.weights)} live input(s) "
            "together" + before_text
            + f"); this input frees {freed.at_month_end:,.1f} of "
            f"{sum(pricing.weights.values()):,.1f} minutes by the end of {month}: "
            f"{parts['deleted_first_day']:,.1f} deleted "
            f"on the first allowed day (already {n} days old), "
            f"{parts['deleted_later_in_month']:,.1f} as others reach {n} days, "
            f"{parts['future_recordings']:,.1f} of recordings made in the month "
            f"({freed.rate:,.1f} minutes a day) -> {money(pricing.shares[c.uid])} in {month} "
            f"({money(pricing.end_shares[c.uid])}/month at the month end), attributed in "
            "proportion to the minutes freed. Realised only when the prepaid capacity is "
            "lowered (manual), or as capacity not bought while storage grows.")


__all__ = ["KIND", "POLICIES", "Chosen", "PolicyFigures", "RetentionRule", "explain_input",
           "find", "price", "recommend_retention", "retention_policies"]
