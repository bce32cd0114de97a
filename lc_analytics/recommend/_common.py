"""Shared pieces of the recommenders: as-of day, engine-priced capacity, recordings, rules.

Stream capacity is always priced by the cost engine; recordings and their views by age come
from the warehouse only; every proposed deletion respects the API's rules (30 days after
upload, never in the past).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pandas as pd

from ..costs.engine import Bill, Usage, month_bounds, price_month
from ..costs.forecast import latest_synced_day
from ..costs.pricebook import PriceBook, load_book
from ..costs.usage import rebuilt_stored_minutes
from ..warehouse import Warehouse
from .model import Action

DAY = pd.Timedelta(days=1)
MIN_SCHEDULED_DELETION_DAYS = 30  # the API refuses scheduledDeletion under upload + 30 days
MIN_LEAD_DAYS = 1  # a proposed deletion is never earlier than one day after the clock
RETENTION_RANGE = (30, 1096)  # deleteRecordingAfterDays accepted by the API
CENT = Decimal("0.01")


def resolve(wh: Warehouse, book: PriceBook | str | None,
            as_of: date | str | None) -> tuple[PriceBook, date]:
    """The price book (default: Cloudflare's) and the as-of day (default: the last synced day)."""
    if book is None or isinstance(book, str):
        book = load_book(book or "cloudflare")
    day = latest_synced_day(wh) if as_of is None else pd.Timestamp(as_of).date()
    return book, day


def clock(as_of: date) -> pd.Timestamp:
    """The moment the recommendations are made: the end of the as-of day (UTC)."""
    return pd.Timestamp(as_of, tz="UTC") + DAY


def next_month(as_of: date) -> date:
    """The billing month a change made now would first show in: the month after as-of."""
    return month_bounds(as_of + timedelta(days=1))[0]


# --- Stream capacity ------------------------------------------------------------------------

def capacity_bill(minutes: float, month: date, book: PriceBook) -> Bill:
    """The engine's Stream storage bill for holding `minutes` for a month, capacity unset
    (so the engine buys the 1,000-minute blocks the minutes need)."""
    usage = Usage(stream_storage=[{"date": month, "stored_minutes": float(minutes),
                                   "capacity_minutes": None}])
    return price_month(usage, month, book)


def capacity_saving(before: float, after: float, month: date,
                    book: PriceBook) -> tuple[Decimal, str]:
    """Engine(before) - engine(after) for Stream stored minutes, and the computation."""
    b, a = capacity_bill(before, month, book), capacity_bill(after, month, book)
    saving = b.total - a.total
    text = (f"Stream capacity priced by the engine ({book.label}, {month:%Y-%m}): "
            f"{before:,.1f} stored minutes need {_blocks(b)} blocks = ${b.total}; "
            f"after freeing {before - after:,.1f} minutes, {after:,.1f} need {_blocks(a)} "
            f"blocks = ${a.total}; saving ${b.total} - ${a.total} = ${saving}/month")
    return saving, text


def _blocks(bill: Bill) -> str:
    units = sum((li.billed_units for li in bill.line_items), Decimal(0))
    return f"{units:,}"


def stored_minutes_now(wh: Warehouse, as_of: date) -> tuple[float, str]:
    """Stored minutes at the clock: the latest storage snapshot taken by then (what Stream
    counts, reservations included), else the rebuilt figure from the videos."""
    snaps = wh.query("SELECT taken_at, total_storage_minutes FROM stream_storage_snapshots "
                     "WHERE creator = '' AND taken_at <= ? ORDER BY taken_at DESC LIMIT 1",
                     [clock(as_of).to_pydatetime()])
    if len(snaps):
        at = pd.Timestamp(snaps["taken_at"].iloc[0])
        return float(snaps["total_storage_minutes"].iloc[0]), \
            f"storage-usage snapshot of {at:%Y-%m-%d %H:%MZ}"
    days = pd.DatetimeIndex([pd.Timestamp(as_of)])
    return float(rebuilt_stored_minutes(wh, days)[0]), \
        f"rebuilt from the videos listed (end of {as_of})"


def capacity_minutes(wh: Warehouse, as_of: date) -> float | None:
    """Purchased capacity from the latest storage snapshot taken by the clock (None if unknown)."""
    snaps = wh.query("SELECT total_storage_minutes_limit AS cap FROM stream_storage_snapshots "
                     "WHERE creator = '' AND taken_at <= ? ORDER BY taken_at DESC LIMIT 1",
                     [clock(as_of).to_pydatetime()])
    if not len(snaps) or pd.isna(snaps["cap"].iloc[0]):
        return None
    return float(snaps["cap"].iloc[0])


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

def live_inputs(wh: Warehouse) -> pd.DataFrame:
    """Live inputs still listed, with their current recording settings."""
    return wh.query("SELECT uid, name, enabled, recording_mode, delete_recording_after_days, "
                    "created FROM live_inputs WHERE missing_since IS NULL ORDER BY uid")


def recordings(wh: Warehouse, as_of: date) -> pd.DataFrame:
    """Every playable recording of a live input ever listed, with what it stores now.

    Columns: uid, live_input_uid, creator, created, uploaded, ready, scheduled_deletion,
    seconds (duration rounded up), minutes, size_bytes, width, height, duration_seconds,
    stored (still listed at the clock and not yet past its scheduled deletion).
    """
    v = wh.query(
        "SELECT uid, live_input_uid, coalesce(creator, '') AS creator, created, uploaded, "
        "ready_to_stream_at AS ready, scheduled_deletion, ceil(duration_seconds) AS seconds, "
        "duration_seconds, size_bytes, width, height, missing_since "
        "FROM videos WHERE live_input_uid IS NOT NULL AND state = 'ready' "
        "AND duration_seconds IS NOT NULL AND ready_to_stream_at IS NOT NULL ORDER BY uid")
    for col in ("created", "uploaded", "ready", "scheduled_deletion", "missing_since"):
        v[col] = pd.to_datetime(v[col], utc=True)
    now = clock(as_of)
    v = v[v["ready"] < now].copy()
    v["minutes"] = v["seconds"].astype(float) / 60
    v["stored"] = v["missing_since"].isna() & ~(v["scheduled_deletion"] <= now)
    return v.reset_index(drop=True)


def views_by_age(wh: Warehouse, as_of: date, lookback_days: int) -> pd.DataFrame:
    """Minutes viewed of live-input recordings per day, with the recording's age that day.

    Age = view date - the recording's created date (0 = the live show day; 1 and more =
    on demand). Only days in (as_of - lookback_days, as_of]; only recordings the warehouse
    has listed (views of recordings deleted before the first sync cannot be attributed).
    """
    lo = as_of - timedelta(days=lookback_days - 1)
    v = wh.query(
        "SELECT m.date, m.uid, m.country, m.minutes_viewed AS minutes, v.live_input_uid, "
        "coalesce(v.creator, '') AS creator, "
        "date_diff('day', CAST(v.created AS DATE), m.date) AS age "
        "FROM minutes_viewed_daily m JOIN videos v ON v.uid = m.uid "
        "WHERE v.live_input_uid IS NOT NULL AND m.date >= ? AND m.date <= ?", [lo, as_of])
    v["date"] = pd.to_datetime(v["date"]).dt.date
    v["age"] = v["age"].astype(int)
    return v


def earliest_deletion(videos: pd.DataFrame, as_of: date) -> pd.Series:
    """The earliest scheduledDeletion the API accepts and the plan allows, per video:
    30 days after upload (`uploaded`, else `created`) and at least a day after the clock."""
    base = videos["uploaded"].where(videos["uploaded"].notna(), videos["created"])
    floor = clock(as_of) + MIN_LEAD_DAYS * DAY
    return (base + MIN_SCHEDULED_DELETION_DAYS * DAY).clip(lower=floor)


def rfc3339(ts: pd.Timestamp, exact: bool = False) -> str:
    """A UTC timestamp as RFC 3339 text: rounded up to the second (what a plan proposes), or
    `exact` to the microsecond (what a plan records as the current value, so it compares
    equal to what the API returns)."""
    ts = pd.Timestamp(ts).tz_convert("UTC")
    if exact:
        return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return ts.ceil("s").strftime("%Y-%m-%dT%H:%M:%SZ")


def schedule_actions(videos: pd.DataFrame, when: pd.Series, rec_id: str,
                     why: str) -> list[Action]:
    """One `video.schedule_deletion` per video whose proposed time is earlier than the one it
    holds (or it holds none); `when` must already respect `earliest_deletion`."""
    out = []
    for row, ts in zip(videos.itertuples(), when, strict=True):
        current = row.scheduled_deletion
        if pd.notna(current) and current <= ts:
            continue
        out.append(Action(
            id=f"video.schedule_deletion:{row.uid}", kind="video.schedule_deletion",
            resource=row.uid,
            current={"scheduledDeletion": None if pd.isna(current)
                     else rfc3339(current, exact=True)},
            proposed={"scheduledDeletion": rfc3339(ts)}, why=why, recommendation_id=rec_id))
    return out


def retention_value(value: Any) -> int | None:
    """deleteRecordingAfterDays as the API shows it (None when unset)."""
    return None if value is None or pd.isna(value) else int(value)


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
    """Dollars for text: cents when the amount is whole cents, else every digit it has."""
    value = Decimal(value)
    if value == value.quantize(CENT):
        return f"${value.quantize(CENT):,}"
    return f"${value.normalize():,f}"


def pct(x: float) -> str:
    return f"{100 * x:.2f}%"
