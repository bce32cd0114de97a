"""Recording retention: every deleteRecordingAfterDays policy evaluated per scope (the
account, each broadcaster, each live input): what it frees now and the viewing it loses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta

import numpy as np
import pandas as pd

from .. import facts
from ..errors import UsageError
from ..warehouse import Warehouse
from ._common import clock, resolve
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
    r_all, v_all = _rec_arrays(rec), _view_arrays(views, day, recent_days)
    r_by = {col: rec.groupby(col, sort=False).indices for col in ("creator", "live_input_uid")}
    v_by = {col: views.groupby(col, sort=False).indices for col in ("creator", "live_input_uid")}
    none = np.zeros(0, np.int64)
    scopes: list[tuple[str, str, dict, dict, int | None]] = [
        ("account", "account", r_all, v_all, None)]
    for creator in sorted(rec["creator"].unique()):
        scopes.append(("broadcaster", creator, _take(r_all, r_by["creator"][creator]),
                       _take(v_all, v_by["creator"].get(creator, none)), None))
    for uid in sorted(rec["live_input_uid"].unique()):
        current = retention_value(li["delete_recording_after_days"].get(uid)) \
            if uid in li.index else None
        scopes.append(("live_input", uid, _take(r_all, r_by["live_input_uid"][uid]),
                       _take(v_all, v_by["live_input_uid"].get(uid, none)), current))
    rows = []
    for scope, scope_id, r, v, current in scopes:
        rows += _evaluate(r, v, day, policies, lookback_days, scope, scope_id, current)
    return pd.DataFrame(rows)


def _naive(ts: pd.Series) -> np.ndarray:
    """UTC timestamps as naive numpy datetime64 (NaT kept: it compares False, as in pandas)."""
    return ts.dt.tz_convert(None).to_numpy()


def _rec_arrays(rec: pd.DataFrame) -> dict[str, np.ndarray]:
    """The recordings' columns `_evaluate` reads, as numpy arrays in the frame's order."""
    gone = rec["missing_since"].where(rec["missing_since"].notna(), rec["scheduled_deletion"])
    return {"stored": rec["stored"].to_numpy(bool), "ready": _naive(rec["ready"]),
            "sched": _naive(rec["scheduled_deletion"]),
            "created_day": _naive(rec["created"].dt.floor("D")), "gone": _naive(gone),
            "minutes": rec["minutes"].to_numpy(float)}


def _view_arrays(views: pd.DataFrame, day: date, recent_days: int) -> dict[str, np.ndarray]:
    return {"recent": (views["date"] > day - timedelta(days=recent_days)).to_numpy(bool),
            "age": views["age"].to_numpy(np.int64), "minutes": views["minutes"].to_numpy(float)}


def _take(arrays: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {k: a[idx] for k, a in arrays.items()}


def _evaluate(r: dict[str, np.ndarray], v: dict[str, np.ndarray], day: date,
              policies: Iterable[int], lookback_days: int, scope: str, scope_id: str,
              current: int | None) -> list[dict]:
    """Each policy for one scope: `r` its recordings, `v` its views (`_rec_arrays`,
    `_view_arrays`), as numpy arrays (sums in the frames' order, as pandas sums them)."""
    day_td = np.timedelta64(1, "D")
    now = clock(day).tz_convert(None).to_datetime64()
    window_start = pd.Timestamp(day - timedelta(days=lookback_days - 1)).to_datetime64()
    recent, age, minutes = v["recent"], v["age"], v["minutes"]
    od = age >= 1
    od_all, od_recent = float(minutes[od].sum()), float(minutes[od & recent].sum())
    stored, ready, sched, gone = r["stored"], r["ready"], r["sched"], r["gone"]
    out = []
    for n in policies:
        due = ready + n * day_td
        older = stored & (due <= now)
        deadline = np.maximum(due, now + day_td)
        freed = older & (np.isnat(sched) | (sched > deadline))
        reach = r["created_day"] + n * day_td
        exposed = int(((reach <= now - day_td) & (reach >= window_start)
                       & ~(gone <= reach)).sum()
                      + ((reach < window_start) & ~(gone <= window_start)).sum())
        lost = age >= n
        lost_all, lost_recent = float(minutes[lost].sum()), \
            float(minutes[lost & recent].sum())
        out.append({
            "scope": scope, "scope_id": scope_id, "policy_days": n, "current_days": current,
            "recordings_freed": int(freed.sum()), "minutes_freed": float(r["minutes"][freed].sum()),
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
