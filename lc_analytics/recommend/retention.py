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

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from ..costs.pricebook import PriceBook
from ..errors import UsageError
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
    earliest_deletion,
    freed_by_day,
    live_inputs,
    money,
    month_saving,
    pct,
    recording_rate,
    recordings,
    resolve,
    retention_value,
    schedule_actions,
    split_saving,
    stream_month,
    views_by_age,
)
from .model import Action, Recommendation

#: deleteRecordingAfterDays values evaluated (the API accepts 30 to 1,096).
POLICIES: tuple[int, ...] = (30, 45, 60, 90, 120, 180, 270, 365, 545, 730, 1096)
#: Most on-demand viewing a policy may lose, as a share of on-demand minutes (per window).
MAX_LOST_SHARE = 0.02
#: Days of viewing the decay curves are read from (Stream analytics keep 90 days).
LOOKBACK_DAYS = 90
#: The shorter, recent window that must also stay under the threshold.
RECENT_DAYS = 30
#: Recordings seen past age N in the window for "high" confidence.
MIN_EXPOSED = 10
#: On-demand minutes in the window for "high" confidence.
MIN_ON_DEMAND_MINUTES = 500.0

KIND = "recording_retention"


def retention_policies(wh: Warehouse, *, as_of: date | str | None = None,
                       policies: Sequence[int] = POLICIES,
                       lookback_days: int = LOOKBACK_DAYS,
                       recent_days: int = RECENT_DAYS) -> pd.DataFrame:
    """Every policy evaluated for the account, each broadcaster and each live input.

    Columns: scope (account | broadcaster | live_input), scope_id, policy_days, current_days,
    recordings_freed, minutes_freed, od_minutes, lost_minutes, lost_share (the lookback
    window), od_minutes_recent, lost_minutes_recent, lost_share_recent, exposed (recordings
    watched at ages >= N inside the window).

    >>> retention_policies(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    _, day = resolve(wh, "cloudflare", as_of)
    _check_policies(policies)
    rec = recordings(wh, day)
    views = views_by_age(wh, day, lookback_days)
    li = live_inputs(wh).set_index("uid")
    rows = []
    scopes: list[tuple[str, str, pd.Series, pd.Series, int | None]] = [
        ("account", "account", pd.Series(True, rec.index), pd.Series(True, views.index), None)]
    for creator in sorted(rec["creator"].unique()):
        scopes.append(("broadcaster", creator, rec["creator"] == creator,
                       views["creator"] == creator, None))
    for uid in sorted(rec["live_input_uid"].unique()):
        current = retention_value(li["delete_recording_after_days"].get(uid)) \
            if uid in li.index else None
        scopes.append(("live_input", uid, rec["live_input_uid"] == uid,
                       views["live_input_uid"] == uid, current))
    for scope, scope_id, rmask, vmask, current in scopes:
        rows += _evaluate(rec[rmask], views[vmask], day, policies, lookback_days, recent_days,
                          scope, scope_id, current)
    return pd.DataFrame(rows)


def _evaluate(rec: pd.DataFrame, views: pd.DataFrame, day: date, policies: Iterable[int],
              lookback_days: int, recent_days: int, scope: str, scope_id: str,
              current: int | None) -> list[dict]:
    now = clock(day)
    recent = views["date"] > day - timedelta(days=recent_days)
    od = views["age"] >= 1
    od_all, od_recent = float(views.loc[od, "minutes"].sum()), \
        float(views.loc[od & recent, "minutes"].sum())
    stored = rec[rec["stored"]]
    gone = rec["missing_since"].where(rec["missing_since"].notna(), rec["scheduled_deletion"])
    window_start = pd.Timestamp(day - timedelta(days=lookback_days - 1), tz="UTC")
    out = []
    for n in policies:
        older = stored[(stored["ready"] + n * DAY <= now)]
        deadline = (older["ready"] + n * DAY).clip(lower=now + DAY)
        freed = older[older["scheduled_deletion"].isna() | (older["scheduled_deletion"]
                                                            > deadline)]
        reach = rec["created"].dt.floor("D") + n * DAY
        exposed = int(((reach <= now - DAY) & (reach >= window_start)
                       & ~(gone <= reach)).sum()
                      + ((reach < window_start) & ~(gone <= window_start)).sum())
        lost = views["age"] >= n
        lost_all, lost_recent = float(views.loc[lost, "minutes"].sum()), \
            float(views.loc[lost & recent, "minutes"].sum())
        out.append({
            "scope": scope, "scope_id": scope_id, "policy_days": n, "current_days": current,
            "recordings_freed": len(freed), "minutes_freed": float(freed["minutes"].sum()),
            "od_minutes": od_all, "lost_minutes": lost_all,
            "lost_share": lost_all / od_all if od_all else 0.0,
            "od_minutes_recent": od_recent, "lost_minutes_recent": lost_recent,
            "lost_share_recent": lost_recent / od_recent if od_recent else 0.0,
            "exposed": exposed,
        })
    return out


def recommend_retention(wh: Warehouse, *, book: PriceBook | str | None = None,
                        as_of: date | str | None = None,
                        policies: Sequence[int] = POLICIES,
                        max_lost_share: float = MAX_LOST_SHARE,
                        lookback_days: int = LOOKBACK_DAYS, recent_days: int = RECENT_DAYS,
                        skip_live_inputs: Iterable[str] = (),
                        freed_before: float | pd.Series = 0.0) -> list[Recommendation]:
    """A retention policy per live input where one saves storage and loses little viewing.

    `skip_live_inputs` leaves out inputs another recommendation already handles, and
    `freed_before` says how many stored minutes those free first (per day of the next
    billing month as a Series by date, or a number for every day), so the account-level
    pricing of the blocks starts from what remains (recommend_all uses both).

    >>> recs = recommend_retention(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    >>> [(r.target, r.evidence["policy_days"], r.monthly_saving) for r in recs]     # doctest: +SKIP
    """
    book, day = resolve(wh, book, as_of)
    table = retention_policies(wh, as_of=day, policies=policies, lookback_days=lookback_days,
                               recent_days=recent_days)
    if not len(table):
        return []
    skip = set(skip_live_inputs)
    li = live_inputs(wh).set_index("uid")
    chosen: dict[str, pd.Series] = {}
    per_input = table[(table["scope"] == "live_input") & table["scope_id"].isin(li.index)
                      & ~table["scope_id"].isin(skip)]
    for uid, grp in per_input.groupby("scope_id", sort=True):
        current = grp["current_days"].iloc[0]
        ok = grp[(grp["lost_share"] <= max_lost_share)
                 & (grp["lost_share_recent"] <= max_lost_share)
                 & (grp["minutes_freed"] > 0)]
        if current is not None and not pd.isna(current):
            ok = ok[ok["policy_days"] < int(current)]
        if len(ok):
            chosen[str(uid)] = ok.sort_values(["minutes_freed", "policy_days"],
                                              ascending=[False, False]).iloc[0]
    if not chosen:
        return []

    sm = stream_month(wh, day)
    before = sm.baseline - as_daily(freed_before, sm)
    rec_all = recordings(wh, day)
    found = {}
    for uid, row in chosen.items():
        mine = rec_all[rec_all["live_input_uid"] == uid]
        stored = mine[mine["stored"]]
        actions = _actions(uid, int(row["policy_days"]), li.loc[uid], stored, row, day)
        freed = freed_by_day(mine, actions, sm, rate=recording_rate(mine, day),
                             kept_now=retention_value(li.loc[uid, "delete_recording_after_days"]),
                             kept_new=int(row["policy_days"]))
        found[uid] = (stored, actions, freed)
    freed_all = sum((f[2].total for f in found.values()), np.zeros(len(sm.days)))
    priced = month_saving(sm, before, freed_all, book)
    weights = {uid: f[2].at_month_end for uid, f in found.items()}
    shares = split_saving(priced.saving, weights)
    end_shares = split_saving(priced.month_end_saving, weights)
    out = []
    for uid, row in chosen.items():
        if shares[uid] <= 0 and end_shares[uid] <= 0:
            continue
        stored, actions, freed = found[uid]
        out.append(_recommendation(
            uid, row, table[(table["scope"] == "live_input") & (table["scope_id"] == uid)],
            li.loc[uid], stored, actions, freed, shares[uid], end_shares[uid], priced,
            weights, sm, freed_before, max_lost_share, lookback_days, recent_days, policies))
    return sorted(out, key=lambda r: (-r.monthly_saving, r.target))


def _actions(uid: str, n: int, li: pd.Series, stored: pd.DataFrame, row: pd.Series,
             day: date) -> list[Action]:
    rid = f"{KIND}:{uid}"
    when = (stored["ready"] + n * DAY).clip(lower=earliest_deletion(stored, day))
    why = (f"recording of live input '{li['name'] or uid}': deleteRecordingAfterDays {n} "
           "applied to the existing recordings (the setting only governs later streams)")
    actions: list[Action] = [Action(
        id=f"live_input.update:{uid}:deleteRecordingAfterDays", kind="live_input.update",
        resource=uid,
        current={"deleteRecordingAfterDays": retention_value(li["delete_recording_after_days"])},
        proposed={"deleteRecordingAfterDays": n},
        why=f"recordings are rarely watched after {n} days "
            f"({pct(row['lost_share'])} of on-demand minutes)",
        recommendation_id=rid)]
    return actions + schedule_actions(stored, when, rid, why)


def _recommendation(uid: str, row: pd.Series, table: pd.DataFrame, li: pd.Series,
                    stored: pd.DataFrame, actions: list[Action], freed: Freed, saving: Decimal,
                    end_saving: Decimal, priced: MonthSaving, weights: dict[str, float],
                    sm: StreamMonth, freed_before: float | pd.Series, max_lost_share: float,
                    lookback_days: int, recent_days: int,
                    policies: Sequence[int]) -> Recommendation:
    n = int(row["policy_days"])
    current = retention_value(li["delete_recording_after_days"])
    rid = f"{KIND}:{uid}"
    sched = [a for a in actions if a.kind == "video.schedule_deletion"]
    creators = sorted(set(stored["creator"])) if len(stored) else []
    exposed = int(row["exposed"])
    if exposed >= MIN_EXPOSED and (row["od_minutes"] >= MIN_ON_DEMAND_MINUTES
                                   or row["od_minutes"] == 0):
        confidence, reason = "high", (f"{exposed} recordings were stored past {n} days "
                                      f"inside the window, with {row['od_minutes']:,.0f} "
                                      "on-demand minutes measured")
    elif exposed >= 3:
        confidence, reason = "medium", (f"only {exposed} recordings reached {n} days inside "
                                        "the window, or few on-demand minutes")
    else:
        confidence, reason = "low", f"{exposed} recording(s) reached {n} days in the window"
    total_freed = sum(weights.values())
    fe = freed.evidence(sm)
    parts = fe["minutes_freed_by_month_end"]
    month = f"{sm.month:%Y-%m}"
    before_text = (", after the minutes other recommendations free"
                   if any_freed(freed_before) else "")
    computation = (f"{priced.text} (account-level, {len(weights)} live input(s) together"
                   + before_text
                   + f"); this input frees {freed.at_month_end:,.1f} of {total_freed:,.1f} "
                   f"minutes by the end of {month}: {parts['deleted_first_day']:,.1f} deleted "
                   f"on the first allowed day (already {n} days old), "
                   f"{parts['deleted_later_in_month']:,.1f} as others reach {n} days, "
                   f"{parts['future_recordings']:,.1f} of recordings made in the month "
                   f"({freed.rate:,.1f} minutes a day) -> {money(saving)} in {month} "
                   f"({money(end_saving)}/month at the month end), attributed in proportion "
                   "to the minutes freed. Realised only when the prepaid capacity is lowered "
                   "(manual), or as capacity not bought while storage grows.")
    evidence = as_json({
        "live_input": uid, "live_input_name": li["name"], "broadcasters": creators,
        "current_delete_recording_after_days": current, "policy_days": n,
        "stored_recordings": len(stored), "stored_minutes": round(float(stored["minutes"]
                                                                         .sum()), 3),
        "recordings_older_than_policy_now": int(row["recordings_freed"]),
        "minutes_older_than_policy_now": round(float(row["minutes_freed"]), 3),
        "minutes_freed": round(freed.at_month_end, 3),
        **fe,
        "month_end_saving": end_saving,
        "baseline": sm.evidence(), "account_level": priced.figures,
        "lookback_days": lookback_days, "od_minutes_lookback": row["od_minutes"],
        "lost_minutes_lookback": row["lost_minutes"],
        "lost_share_lookback": round(float(row["lost_share"]), 6),
        "recent_days": recent_days, "od_minutes_recent": row["od_minutes_recent"],
        "lost_minutes_recent": row["lost_minutes_recent"],
        "lost_share_recent": round(float(row["lost_share_recent"]), 6),
        "exposed_recordings": exposed,
        "scheduled_deletions": {"count": len(sched),
                                "first": min((a.proposed["scheduledDeletion"] for a in sched),
                                             default=None),
                                "last": max((a.proposed["scheduledDeletion"] for a in sched),
                                            default=None)},
        "policies": table[["policy_days", "minutes_freed", "lost_share", "lost_share_recent",
                           "exposed"]].round(6).to_dict("records"),
        "saving_realised": "only when the prepaid Stream capacity is lowered (manual), or as "
                           "capacity not bought while storage grows",
        "confidence_reason": reason,
    })
    name = li["name"] or uid
    return Recommendation(
        id=rid, kind=KIND, target_type="live_input", target=uid,
        action=(f"Set deleteRecordingAfterDays to {n} on live input '{name}' (now "
                f"{current if current is not None else 'unset'}) and schedule its "
                f"{len(sched)} existing recording(s) for deletion {n} days after they became "
                "ready (never under 30 days after upload, never before tomorrow)."),
        evidence=evidence,
        rule=(f"shortest deleteRecordingAfterDays in {list(policies)} shorter than the "
              f"current setting that frees stored minutes while on-demand minutes at ages "
              f">= N stay <= {max_lost_share:.0%} of on-demand minutes in both the last "
              f"{lookback_days} and {recent_days} days"),
        monthly_saving=saving, saving_computation=computation,
        viewer_impact=(f"{row['lost_minutes']:,.0f} on-demand minutes in the last "
                       f"{lookback_days} days ({pct(row['lost_share'])}) and "
                       f"{row['lost_minutes_recent']:,.0f} in the last {recent_days} days "
                       f"({pct(row['lost_share_recent'])}) were watched at ages >= {n} days "
                       "and would have been lost; live viewing is unaffected."),
        confidence=confidence, actions=tuple(actions))


def _check_policies(policies: Sequence[int]) -> None:
    bad = [p for p in policies if not 30 <= int(p) <= 1096]
    if bad or not len(policies):
        raise UsageError(f"retention policies must be 30 to 1096 days (got {list(policies)})")


__all__ = ["KIND", "POLICIES", "recommend_retention", "retention_policies"]
