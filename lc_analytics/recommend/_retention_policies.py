"""Recording retention: every deleteRecordingAfterDays policy evaluated per scope (the
account, each broadcaster, each live input): what it frees now and the viewing it loses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta

import pandas as pd

from .. import facts
from ..errors import UsageError
from ..warehouse import Warehouse
from ._common import DAY, clock, resolve
from ._recordings import live_inputs, recordings, retention_value, views_by_age

#: deleteRecordingAfterDays values evaluated (the API accepts 30 to 1,096).
POLICIES: tuple[int, ...] = (facts.RETENTION_DAYS_RANGE[0], 45, 60, 90, 120, 180, 270, 365, 545,
                              730, facts.RETENTION_DAYS_RANGE[1])
#: Days of viewing the decay curves are read from (Stream analytics keep 90 days).
LOOKBACK_DAYS = facts.LOOKBACK_DAYS
#: The shorter, recent window that must also stay under the threshold.
RECENT_DAYS = 30


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
    check_policies(policies)
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


def check_policies(policies: Sequence[int]) -> None:
    """Refuse policies outside the API's deleteRecordingAfterDays range (or none at all)."""
    low, high = facts.RETENTION_DAYS_RANGE
    bad = [p for p in policies if not low <= int(p) <= high]
    if bad or not len(policies):
        raise UsageError(f"retention policies must be {low} to {high} days (got {list(policies)})")


__all__ = ["LOOKBACK_DAYS", "POLICIES", "RECENT_DAYS", "check_policies", "retention_policies"]
