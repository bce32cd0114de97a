"""Shared pieces of the recommenders: as-of day, engine-priced capacity, recordings, rules.

Stream capacity is always priced by the cost engine; recordings and their views by age come
from the warehouse only; every proposed deletion respects the API's rules (30 days after
upload, never in the past).

Stream storage savings have one meaning: the saving in the NEXT BILLING MONTH
(`next_month(as_of)`), which a later bill can confirm:

- Baseline (`stream_month`): stored minutes at the end of each day of that month with nothing
  applied, from `costs.runway` (latest storage snapshot + Theil-Sen additions of the last 28
  days - scheduled deletions - current retention; pending-upload reservations at the
  snapshot released at their expiry, later uploads' few-hour reservations not projected).
- Minutes freed (`freed_by_day`), per day of the month: the stored recordings the plan
  deletes, each from the day its scheduled deletion falls in, unless an existing scheduled
  deletion removes it by then anyway; plus the recordings the input would make from the
  clock on (its recorded minutes per day over the last 28 days): with recording off none is
  made, with retention N those older than N days are deleted; the baseline keeps them (or
  the last R days of them under a current retention R).
- Saving (`month_saving`): the engine prices the month from each day's stored minutes,
  capacity unset (1,000-minute blocks for the month's peak day), with and without the minutes
  freed; the difference is the next month's saving. The month-end difference alone
  (`month_end_saving`, the run rate once the deletions have run) is stated beside it: when
  the plan is made at a month's start, its first day still holds every recording (deletions
  start the day after the clock), so that month's saving is the growth it avoids.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import numpy as np
import pandas as pd

from .. import facts
from ..costs.engine import Bill, Usage, month_bounds, price_month
from ..costs.forecast import latest_synced_day
from ..costs.pricebook import PriceBook, load_book
from ..costs.runway import WINDOW_DAYS, storage_runway, storage_runway_daily
from ..costs.usage import rebuilt_stored_minutes
from ..errors import UsageError
from ..money import format_usd
from ..readmodel import check_as_of, storage_snapshot_day
from ..warehouse import Warehouse
from ._deletions import running_sum, scheduled
from .model import Action

DAY = pd.Timedelta(days=1)
MIN_SCHEDULED_DELETION_DAYS = facts.MIN_SCHEDULED_DELETION_DAYS  # >= upload + 30 days
MIN_LEAD_DAYS = 1  # a proposed deletion is never earlier than one day after the clock
RETENTION_RANGE = facts.RETENTION_DAYS_RANGE  # deleteRecordingAfterDays accepted by the API
CENT = Decimal("0.01")
RATE_DAYS = 28  # days of recent recordings an input's recording rate is measured over


def resolve(wh: Warehouse, book: PriceBook | str | None,
            as_of: date | str | None) -> tuple[PriceBook, date]:
    """The price book (default: Cloudflare's) and the as-of day (default: the last synced day;
    a day before the first synced day is refused with NotSyncedError)."""
    if book is None or isinstance(book, str):
        book = load_book(book or "cloudflare")
    day = latest_synced_day(wh) if as_of is None else check_as_of(wh, as_of)
    return book, day


def clock(as_of: date) -> pd.Timestamp:
    """The moment the recommendations are made: the end of the as-of day (UTC)."""
    return pd.Timestamp(as_of, tz="UTC") + DAY


def next_month(as_of: date) -> date:
    """The first whole billing month a change made now shows in: the first month that starts
    on or after the clock (the day after as-of).

    >>> next_month(date(2026, 6, 30)), next_month(date(2026, 11, 25))
    (datetime.date(2026, 7, 1), datetime.date(2026, 12, 1))
    """
    clock_day = as_of + timedelta(days=1)
    first, nxt = month_bounds(clock_day)
    return first if first == clock_day else nxt


# --- Stream capacity in the next billing month --------------------------------------------

def capacity_bill(minutes: float, month: date, book: PriceBook) -> Bill:
    """The engine's Stream storage bill for holding `minutes` for a month, capacity unset
    (so the engine buys the 1,000-minute blocks the minutes need)."""
    usage = Usage(stream_storage=[{"date": month, "stored_minutes": float(minutes),
                                   "capacity_minutes": None}])
    return price_month(usage, month, book)


@dataclass(frozen=True)
class StreamMonth:
    """Stream stored minutes at the end of each day of the next billing month, unchanged.

    The baseline every recording change is measured against: `baseline[i]` is what the
    account would store at the end of `days[i]` if nothing were applied.
    """

    month: date  # first day of the billing month (`next_month(as_of)`)
    days: pd.DatetimeIndex  # every day of that month, UTC midnights
    baseline: np.ndarray  # stored minutes at the end of each day, nothing applied
    projected: np.ndarray  # True where baseline is the runway projection (False: rebuilt)
    start: pd.Timestamp  # when a change starts to act: the later of the clock and t0
    snapshot_at: pd.Timestamp  # t0, the runway's latest storage snapshot
    level: float  # its stored minutes (pending-upload reservations included)
    reserved: float  # reservations pending at t0 (released at their expiry)
    added_per_day: float  # the runway's Theil-Sen additions per day

    @property
    def ends(self) -> np.ndarray:
        """Each day's end (the next UTC midnight), as naive UTC datetime64."""
        return (self.days + DAY).tz_convert(None).to_numpy("datetime64[ns]")

    def elapsed(self) -> np.ndarray:
        """Days from `start` to each day's end (0 for days already over at `start`)."""
        return np.clip((self.days + DAY - self.start) / DAY, 0, None).astype(float)

    def evidence(self) -> dict[str, Any]:
        """The baseline's figures, as plain JSON."""
        n = self.elapsed()[-1]
        end = float(self.baseline[-1])
        peak = int(np.argmax(self.baseline))
        return as_json({
            "billing_month": f"{self.month:%Y-%m}",
            "snapshot_at": self.snapshot_at, "snapshot_minutes": self.level,
            "reserved_minutes_at_snapshot": round(self.reserved, 3),
            "added_minutes_per_day": round(self.added_per_day, 2),
            "days_to_month_end": round(float(n), 4),
            "month_end_minutes": round(end, 1),
            "net_growth_per_day_to_month_end": round((end - self.level) / n, 2) if n else None,
            "peak_minutes": round(float(self.baseline[peak]), 1),
            "peak_on": self.days[peak].date(),
            "method": "costs.runway projection (latest snapshot + Theil-Sen additions of the "
                      f"last {WINDOW_DAYS} days - scheduled and retention deletions) for the "
                      "month's remaining days; stored minutes rebuilt from the videos for "
                      "its past days",
            "reservations": "pending-upload reservations held at the snapshot are released "
                            "at their expiry; later uploads' reservations (minutes held for "
                            "a few hours until an upload completes or expires) are not "
                            "projected: the same with and without the change, they cancel "
                            "in the minutes freed",
        })


def stream_month(wh: Warehouse, as_of: date) -> StreamMonth:
    """The baseline for the next billing month, from `costs.runway` (its latest snapshot).

    The runway projects from the warehouse's latest storage snapshot, whatever `as_of`
    says; days of the month before the snapshot's day are rebuilt from the videos listed.
    """
    month = next_month(as_of)
    first, nxt = month_bounds(month)
    days = pd.date_range(pd.Timestamp(first), pd.Timestamp(nxt) - DAY, freq="D", tz="UTC")
    horizon = (nxt - storage_snapshot_day(wh)).days
    summary = storage_runway(wh, horizon_days=max(horizon, 1)).iloc[0]
    t0 = pd.Timestamp(summary["snapshot_at"]).tz_convert("UTC")
    baseline = rebuilt_stored_minutes(wh, days.tz_convert(None)).astype(float)
    projected = np.zeros(len(days), bool)
    if horizon > 0:
        daily = storage_runway_daily(wh, horizon_days=horizon)
        proj = daily.dropna(subset=["projected_minutes"]).set_index("date")[
            "projected_minutes"]
        hit = pd.Index(days.date).isin(proj.index)
        baseline[hit] = proj.reindex(days.date[hit]).to_numpy(float)
        projected = hit
    return StreamMonth(month=month, days=days, baseline=baseline, projected=projected,
                       start=max(clock(as_of), t0), snapshot_at=t0,
                       level=float(summary["stored_minutes"]),
                       reserved=float(summary["reserved_minutes"]),
                       added_per_day=float(summary["added_minutes_per_day"]))


def recording_rate(videos: pd.DataFrame, as_of: date) -> float:
    """Minutes per day of the recordings in `videos` that became ready in the RATE_DAYS
    days ending with as_of (what the input records at its recent pace)."""
    now = clock(as_of)
    recent = videos[(videos["ready"] >= now - RATE_DAYS * DAY) & (videos["ready"] < now)]
    return float(recent["minutes"].sum()) / RATE_DAYS


@dataclass(frozen=True)
class Freed:
    """Stored minutes a recording change takes off the baseline at the end of each day."""

    existing: np.ndarray  # recordings stored now, deleted on the date the plan schedules
    future: np.ndarray  # recordings made from `start` on: not made, or deleted sooner
    first_day: float  # of `existing` at month end: deleted at the first allowed moment
    rate: float  # the input's recorded minutes per day

    @property
    def total(self) -> np.ndarray:
        return self.existing + self.future

    @property
    def at_month_end(self) -> float:
        return float(self.total[-1])

    def evidence(self, sm: StreamMonth) -> dict[str, Any]:
        existing, future = float(self.existing[-1]), float(self.future[-1])
        return {
            "billing_month": f"{sm.month:%Y-%m}",
            "minutes_freed_by_month_end": {
                "deleted_first_day": round(self.first_day, 3),
                "deleted_later_in_month": round(existing - self.first_day, 3),
                "future_recordings": round(future, 3),
                "total": round(existing + future, 3)},
            "recorded_minutes_per_day": round(self.rate, 3),
            "rate_days": RATE_DAYS,
            "minutes_freed_by_day": tuple(round(float(x), 3) for x in self.total),
        }


def freed_by_day(videos: pd.DataFrame, actions: Iterable[Action], sm: StreamMonth, *,
                 rate: float, kept_now: int | None, kept_new: int) -> Freed:
    """What a recording change frees at the end of each day of the month.

    - existing: each `video.schedule_deletion` of a video in `videos` counts from the end of
      the day its proposed deletion falls in (a deletion at 00:00 counts from that day: the
      day before still held the recording), unless the video's current scheduled deletion
      (e.g. an existing retention) would already have removed it by then;
    - future: recordings the input makes from `sm.start` at `rate` minutes a day; the
      baseline keeps the last `kept_now` days of them (None: all), the change the last
      `kept_new` days (0: recording off, N: a new retention of N days).
    """
    ends = sm.ends
    v = videos.set_index("uid")
    earliest = np.datetime64((sm.start + MIN_LEAD_DAYS * DAY).tz_convert(None))
    new, old, minutes = scheduled(v, actions)
    freed = (new[:, None] < ends[None, :]) & ~(old[:, None] < ends[None, :])  # NaT: False
    existing = running_sum(freed * minutes[:, None], len(ends))
    first_day = 0.0
    for m in minutes[freed[:, -1] & (new <= earliest)] if len(minutes) else ():
        first_day += float(m)  # in the actions' order, as they were added one by one
    k = sm.elapsed()
    now_kept = k if kept_now is None else np.minimum(k, kept_now)
    future = rate * (now_kept - np.minimum(k, kept_new))
    return Freed(existing=existing, future=future, first_day=first_day, rate=rate)


def as_daily(freed: float | Sequence[float] | pd.Series | np.ndarray,
             sm: StreamMonth) -> np.ndarray:
    """Minutes freed by other recommendations on each day of the month: a number counts on
    every day; a Series is read by date (missing days: 0); an array must be one per day."""
    if isinstance(freed, pd.Series):
        idx = pd.to_datetime(pd.Index(freed.index)).date
        return pd.Series(freed.to_numpy(float), index=idx).reindex(
            sm.days.date, fill_value=0.0).to_numpy(float)
    if np.ndim(freed) == 0:
        return np.full(len(sm.days), float(freed))  # type: ignore[arg-type]
    out = np.asarray(freed, float)
    if len(out) != len(sm.days):
        raise UsageError(f"freed_before has {len(out)} days; {sm.month:%Y-%m} has "
                         f"{len(sm.days)}")
    return out


def any_freed(freed: float | Sequence[float] | pd.Series | np.ndarray) -> bool:
    """Whether `freed_before` frees anything on any day."""
    return bool(np.any(np.asarray(freed, float) != 0))


def month_bill(minutes: np.ndarray, sm: StreamMonth, book: PriceBook) -> Bill:
    """The engine's Stream storage bill for the month from each day's stored minutes,
    capacity unset (the month is charged for the most blocks needed on any day)."""
    usage = Usage(stream_storage=[{"date": d.date(), "stored_minutes": float(m),
                                   "capacity_minutes": None}
                                  for d, m in zip(sm.days, minutes, strict=True)])
    return price_month(usage, sm.month, book)


@dataclass(frozen=True)
class MonthSaving:
    """The next billing month's Stream storage bill with and without freeing some minutes."""

    saving: Decimal  # engine(before) - engine(after): the next month's saving
    month_end_saving: Decimal  # the same from the month-end minutes alone (the run rate)
    figures: dict[str, Any]
    text: str


def month_saving(sm: StreamMonth, before: np.ndarray, freed: np.ndarray,
                 book: PriceBook) -> MonthSaving:
    """Price the month twice with the engine: the daily stored minutes `before`, and the
    same less `freed`; both at their peak day, 1,000-minute blocks bought by the engine."""
    after = before - freed
    b, a = month_bill(before, sm, book), month_bill(after, sm, book)
    end_b, end_a = capacity_bill(before[-1], sm.month, book), \
        capacity_bill(after[-1], sm.month, book)
    ib, ia = int(np.argmax(before)), int(np.argmax(after))
    saving, end_saving = b.total - a.total, end_b.total - end_a.total
    figures = {
        "billing_month": f"{sm.month:%Y-%m}",
        "peak_before": round(float(before[ib]), 1), "peak_before_on": sm.days[ib].date(),
        "blocks_before": _blocks(b), "cost_before": b.total,
        "peak_after": round(float(after[ia]), 1), "peak_after_on": sm.days[ia].date(),
        "blocks_after": _blocks(a), "cost_after": a.total,
        "saving": saving,
        "month_end_before": round(float(before[-1]), 1),
        "month_end_after": round(float(after[-1]), 1),
        "minutes_freed_by_month_end": round(float(freed[-1]), 3),
        "month_end_blocks_before": _blocks(end_b), "month_end_blocks_after": _blocks(end_a),
        "month_end_saving": end_saving,
    }
    when = (" (before the first deletion runs)" if ia == 0 and freed[0] < freed[-1] else "")
    text = (f"Next billing month {sm.month:%Y-%m}, Stream capacity priced by the engine "
            f"({book.label}) from each day's stored minutes, capacity unset (the month is "
            f"charged for its peak day): unchanged it peaks at {before[ib]:,.1f} minutes on "
            f"{sm.days[ib].date()} = {_blocks(b)} blocks = {money(b.total)}; with "
            f"{freed[-1]:,.1f} minutes freed by the month end it peaks at {after[ia]:,.1f} "
            f"on {sm.days[ia].date()}{when} = {_blocks(a)} blocks = {money(a.total)}; "
            f"saving {money(saving)} in {sm.month:%Y-%m}. At the month end "
            f"{before[-1]:,.1f} -> {after[-1]:,.1f} minutes need {_blocks(end_b)} -> "
            f"{_blocks(end_a)} blocks ({money(end_saving)}/month from then on, while the "
            "account keeps its growth)")
    return MonthSaving(saving, end_saving, as_json(figures), text)


@dataclass(frozen=True)
class Pricing:
    """The engine's price of several inputs' changes together, and each one's part (in
    proportion to `weights`, the minutes each frees by the month end)."""

    priced: MonthSaving
    weights: dict[str, float]
    shares: dict[str, Decimal]  # the next month's saving, split
    end_shares: dict[str, Decimal]  # the month-end saving, split

    @classmethod
    def of(cls, priced: MonthSaving, weights: dict[str, float]) -> Pricing:
        return cls(priced, weights, split_saving(priced.saving, weights),
                   split_saving(priced.month_end_saving, weights))

    def proposed(self, uid: str) -> bool:
        """Whether the input's part saves anything, next month or from the month end."""
        return self.shares[uid] > 0 or self.end_shares[uid] > 0


def _blocks(bill: Bill) -> str:
    units = sum((li.billed_units for li in bill.line_items), Decimal(0))
    return f"{units:,}"


def split_saving(total: Decimal, weights: dict[str, float]) -> dict[str, Decimal]:
    """Split an account-level saving in proportion to `weights`, to the cent, summing exactly
    to `total` rounded to the cent (the largest weight takes the remainder)."""
    total_w = sum(weights.values())
    if not weights or total_w <= 0:
        return dict.fromkeys(weights, Decimal(0))
    out = {k: (total * Decimal(str(w)) / Decimal(str(total_w))).quantize(
        CENT, rounding=ROUND_HALF_EVEN) for k, w in weights.items()}
    biggest = max(weights, key=lambda k: weights[k])
    out[biggest] += total.quantize(CENT, rounding=ROUND_HALF_EVEN) - sum(out.values())
    return out


# --- recordings and their viewing ------------------------------------------------------------

def as_json(value: Any) -> Any:
    """A value made of plain JSON types (for evidence that must survive a plan file)."""
    return json.loads(json.dumps(value, default=_default))


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON: {value!r}")


def money(value: Decimal) -> str:
    """Dollars for text, by the one display rule (`lc_analytics.money.format_usd`)."""
    return format_usd(value)


def pct(x: float) -> str:
    return f"{100 * x:.2f}%"
