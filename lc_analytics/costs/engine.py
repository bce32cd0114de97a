"""The pricing engine: one billing month of usage records in, exact line items out.

Every bill, what-if and recommendation is priced here, so they all share one arithmetic:

- object storage in GB-months: the mean over the billing month's days of each day's peak
  bytes (a partial month accrues only its elapsed days); an object counts on each UTC day
  from its creation day up to the day before its deletion day, and is Infrequent Access from
  the day of its transition on;
- Infrequent Access objects are billed for at least 30 days: an object that leaves IA
  earlier is charged the remaining days in the month it leaves;
- free allowances apply only where the book gives them (R2: Standard class only);
- quantities of a SKU whose book says `rounding = "up"` are rounded up to whole billing
  units on the monthly bill (1,000,001 operations bill as 2 million; 1.1 GB-month as 2), then
  the free allowance is deducted; `rounding = "none"` is pro rata (Stream delivery: 1,500
  minutes at $1 per 1,000 cost $1.50);
- Stream storage is prepaid capacity bought in 1,000-minute blocks: the month is charged for
  the most blocks held on any of its days (the capacity, or the stored minutes when no
  capacity is given, as in a what-if);
- money is Decimal throughout; nothing is rounded except for presentation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from ..errors import UsageError
from ..readmodel.r2 import IA, STANDARD, objects_daily_bytes
from .months import month_bounds
from .pricebook import PriceBook, Sku

__all__ = ["IA", "STANDARD", "Bill", "LineItem", "Usage", "ia_minimum_owed", "month_bounds",
           "objects_daily_bytes", "price_month", "price_period"]
Records: TypeAlias = pd.DataFrame | Iterable[Mapping[str, Any]] | None


@dataclass
class Usage:
    """One billing month's consumption as plain records (DataFrames or iterables of dicts).

    - stream_storage: date, stored_minutes, capacity_minutes (may be missing/NaN)
    - stream_delivery: date, minutes
    - r2_storage: date, bucket, storage_class, bytes (each day's peak; add to r2_objects)
    - r2_objects: bucket, key, size_bytes, storage_class, stored_from, stored_until, ia_from
      (their daily bytes are added to r2_storage; an IA object that ends early owes the rest)
    - r2_ia_removals: size_bytes, ia_from, removed_at (objects that left IA, for the 30-day
      minimum when storage is given as r2_storage rather than as objects)
    - r2_operations: date, bucket, op_class ('A' | 'B' | 'free'), storage_class, requests
    - r2_retrieval: date, bucket, bytes (bytes read from Infrequent Access)
    - egress: date, bytes (delivered to viewers; priced only by books with an egress meter)
    """

    stream_storage: Records = None
    stream_delivery: Records = None
    r2_storage: Records = None
    r2_objects: Records = None
    r2_ia_removals: Records = None
    r2_operations: Records = None
    r2_retrieval: Records = None
    egress: Records = None

    def frame(self, name: str, columns: list[str]) -> pd.DataFrame:
        """The named records as a DataFrame with at least `columns` (empty if absent)."""
        raw = getattr(self, name)
        df = raw.copy() if isinstance(raw, pd.DataFrame) else pd.DataFrame(list(raw or []))
        missing = [c for c in columns if c not in df.columns]
        if len(df) and missing:
            raise UsageError(f"usage.{name} is missing column(s) {', '.join(missing)}")
        if not len(df):
            df = pd.DataFrame({c: [] for c in columns})
        return df


@dataclass(frozen=True)
class LineItem:
    """One SKU on one month's bill, with the quantities and the computation behind it."""

    month: date
    sku_id: str
    service: str
    description: str
    consumed_quantity: Decimal  # in consumed units, before free tier and rounding
    consumed_unit: str
    free_quantity: Decimal  # allowance deducted, in consumed units
    billed_units: Decimal  # pricing units charged, after rounding and free tier
    pricing_unit: str
    unit_price: Decimal
    cost: Decimal
    computation: str
    source: str
    effective_from: date


@dataclass
class Bill:
    """A month's line items, their total, and which price book priced them."""

    month: date
    book: str
    currency: str
    days_in_month: int
    days_covered: int  # days of the month the usage covers (a month to date has fewer)
    line_items: list[LineItem] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((li.cost for li in self.line_items), Decimal(0))

    def cost_of(self, sku_id: str) -> Decimal:
        return sum((li.cost for li in self.line_items if li.sku_id == sku_id), Decimal(0))

    def to_frame(self) -> pd.DataFrame:
        """Line items as a DataFrame (Decimal columns stay Decimal)."""
        rows = [{**li.__dict__, "book": self.book} for li in self.line_items]
        return pd.DataFrame(rows)


def price_month(usage: Usage, month: date | str, book: PriceBook) -> Bill:
    """Price one billing month of usage with `book`.

    >>> from lc_analytics.costs.pricebook import load_book
    >>> u = Usage(stream_delivery=[{"date": date(2026, 6, 1), "minutes": 1_000_001}])
    >>> price_month(u, "2026-06", load_book("cloudflare")).total   # pro rata, $1 per 1,000
    Decimal('1000.00100')
    """
    first, nxt = month_bounds(month)
    return _price(usage, first, nxt, book)


def price_period(usage: Usage, first: date, last: date, book: PriceBook) -> Bill:
    """Price the days `first`..`last` (inclusive) as one billing period, by the same rules
    as `price_month`: GB-months over the period's days, free allowances and rounding once,
    Stream capacity at its peak. For a warehouse that does not hold a whole month yet, the
    last 30 complete days price like a 30-day billing month. The bill's `month` is `first`
    and its `days_in_month` the period's length.

    >>> from lc_analytics.costs.pricebook import load_book
    >>> u = Usage(stream_storage=[{"date": date(2026, 6, 20), "stored_minutes": 2500},
    ...                           {"date": date(2026, 7, 10), "stored_minutes": 1200}])
    >>> b = price_period(u, date(2026, 6, 11), date(2026, 7, 10), load_book("cloudflare"))
    >>> b.days_in_month, b.days_covered, b.total    # peak 2,500 minutes = 3 blocks of 1,000
    (30, 2, Decimal('15.00'))
    """
    if last < first:
        raise UsageError(f"a billing period ends on or after its first day ({first} > {last})")
    return _price(usage, first, last + timedelta(days=1), book)


def _price(usage: Usage, first: date, nxt: date, book: PriceBook) -> Bill:
    """The bill of the days [first, nxt) as one billing period."""
    n_days = (nxt - first).days
    skus = {s.id: s for s in book.skus(first)}
    bill = Bill(month=first, book=book.label, currency=book.currency, days_in_month=n_days,
                days_covered=0)
    covered: set[date] = set()
    for meter, quantities in _meter_quantities(usage, first, nxt, book, covered).items():
        for selector, (qty, note) in quantities.items():
            sku = _select(skus, meter, selector)
            if sku is None:
                continue
            bill.line_items.append(_line(first, sku, qty, note))
    bill.days_covered = len(covered)
    bill.line_items.sort(key=lambda li: li.sku_id)
    return bill


# --- meters: usage records -> consumed quantities per SKU selector -----------------------

def _meter_quantities(usage: Usage, first: date, nxt: date, book: PriceBook,
                      covered: set[date]) -> dict[str, dict[tuple, tuple[Decimal, str]]]:
    n_days = (nxt - first).days
    out: dict[str, dict[tuple, tuple[Decimal, str]]] = {}
    bytes_per_gb = Decimal(book.rule("bytes_per_gb"))

    st = _in_month(usage.frame("stream_storage", ["date", "stored_minutes"]), first, nxt,
                   covered)
    if len(st):
        cap = st["capacity_minutes"] if "capacity_minutes" in st else pd.Series(np.nan,
                                                                                  st.index)
        held = cap.where(cap.notna(), st["stored_minutes"]).astype(float)
        peak = Decimal(str(held.max()))
        out["stream_capacity"] = {(): (peak, f"most minutes held on a day: {peak}")}

    dl = _in_month(usage.frame("stream_delivery", ["date", "minutes"]), first, nxt, covered)
    if len(dl):
        total = _dsum(dl["minutes"])
        out["stream_delivery"] = {(): (total, f"{total} minutes delivered in {len(dl)} day(s)")}

    daily = _daily_storage(usage, first, nxt, covered)
    if len(daily):
        per_class = daily.groupby("storage_class")["bytes"].sum()
        storage: dict[tuple, tuple[Decimal, str]] = {}
        early = _ia_minimum_byte_days(usage, first, nxt, book)
        for cls in sorted(set(per_class.index) | ({IA} if early else set())):
            byte_days = Decimal(int(per_class.get(cls, 0)))
            extra = early if cls == IA else Decimal(0)
            gbm = (byte_days + extra) / bytes_per_gb / n_days
            note = (f"sum of daily peak bytes {byte_days} / {bytes_per_gb} / {n_days} days")
            if extra:
                note += f"; + {extra} byte-days for IA objects removed before 30 days"
            storage[(cls,)] = (gbm, note)
        out["object_storage"] = storage

    ops = _in_month(usage.frame("r2_operations", ["date", "op_class", "requests"]), first,
                    nxt, covered)
    if len(ops):
        if "storage_class" not in ops:
            ops["storage_class"] = STANDARD
        ops = ops[ops["op_class"].isin(["A", "B"])]
        grouped = ops.groupby(["op_class", "storage_class"])["requests"].sum()
        out["operations"] = {
            (cls, op): (Decimal(int(n)), f"{int(n)} class {op} requests on {cls} objects")
            for (op, cls), n in grouped.items()
        }

    rt = _in_month(usage.frame("r2_retrieval", ["date", "bytes"]), first, nxt, covered)
    if len(rt):
        b = _dsum(rt["bytes"])
        out["retrieval"] = {(IA,): (b / bytes_per_gb, f"{b} bytes read from IA / {bytes_per_gb}")}

    eg = _in_month(usage.frame("egress", ["date", "bytes"]), first, nxt, covered)
    if len(eg):
        b = _dsum(eg["bytes"])
        out["egress"] = {(): (b / bytes_per_gb, f"{b} bytes delivered / {bytes_per_gb}")}
    return out


def _select(skus: dict[str, Sku], meter: str, selector: tuple) -> Sku | None:
    """The SKU of `meter` whose storage class / op class match the selector (None = any)."""
    cls = selector[0] if selector else None
    op = selector[1] if len(selector) > 1 else None
    for sku in skus.values():
        if sku.meter != meter:
            continue
        if cls is not None and sku.storage_class not in (None, cls):
            continue
        if op is not None and sku.op_class not in (None, op):
            continue
        return sku
    return None


def _line(month: date, sku: Sku, consumed: Decimal, note: str) -> LineItem:
    block = sku.pricing_block
    free = min(consumed, sku.free)
    if sku.rounding == "up":
        units = _ceil(consumed / block) - _ceil(sku.free / block)
        units = max(units, Decimal(0))
    else:
        units = max(consumed - sku.free, Decimal(0)) / block
    if sku.tiers:
        cost, tier_note = _tiered(units * block, sku, block)
        note += f"; {tier_note}"
    else:
        cost = units * sku.amount
    rounding = "rounded up to whole units, " if sku.rounding == "up" else ""
    computation = (f"{note}; {consumed} {sku.consumed_unit} - {free} free -> {rounding}"
                   f"{units} x {sku.pricing_unit} at {sku.amount} = {cost}")
    return LineItem(month=month, sku_id=sku.id, service=sku.service,
                    description=sku.description, consumed_quantity=consumed,
                    consumed_unit=sku.consumed_unit, free_quantity=free, billed_units=units,
                    pricing_unit=sku.pricing_unit, unit_price=sku.amount, cost=cost,
                    computation=computation, source=sku.source,
                    effective_from=sku.effective_from)


def _tiered(quantity: Decimal, sku: Sku, block: Decimal) -> tuple[Decimal, str]:
    """Marginal tiers over the billable quantity (after the free allowance)."""
    cost, lower, parts = Decimal(0), sku.free, []
    remaining = quantity
    for tier in sku.tiers:
        span = max(tier.up_to - lower, Decimal(0))
        take = min(remaining, span)
        if take > 0:
            cost += take / block * tier.amount
            parts.append(f"{take} at {tier.amount}")
        remaining -= take
        lower = max(lower, tier.up_to)
    if remaining > 0:
        last = sku.tiers[-1].amount
        cost += remaining / block * last
        parts.append(f"{remaining} beyond the last listed tier at {last}")
    return cost, "tiers: " + ", ".join(parts or ["none"])


def _ceil(x: Decimal) -> Decimal:
    return x.to_integral_value(rounding=ROUND_CEILING)


def _dsum(values: pd.Series) -> Decimal:
    """An exact Decimal sum (ints stay ints; floats go through their shortest repr)."""
    if pd.api.types.is_integer_dtype(values):
        return Decimal(int(values.sum()))
    return sum((Decimal(str(v)) for v in values), Decimal(0))


def _as_date(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True).dt.date if len(values) else values


def _in_month(df: pd.DataFrame, first: date, nxt: date, covered: set[date]) -> pd.DataFrame:
    if not len(df):
        return df
    df = df.assign(date=_as_date(df["date"]))
    df = df[(df["date"] >= first) & (df["date"] < nxt)]
    covered.update(df["date"])
    return df


# --- object storage ---------------------------------------------------------------------

def _daily_storage(usage: Usage, first: date, nxt: date, covered: set[date]) -> pd.DataFrame:
    """Daily peak bytes per storage class: given directly, and/or derived from objects."""
    parts = []
    given = _in_month(usage.frame("r2_storage", ["date", "storage_class", "bytes"]), first, nxt,
                      covered)
    if len(given):
        parts.append(given[["date", "storage_class", "bytes"]])
    objs = usage.frame("r2_objects", ["size_bytes", "storage_class", "stored_from"])
    if len(objs):
        parts.append(objects_daily_bytes(objs, first, nxt))
        covered.update(first + timedelta(days=i) for i in range((nxt - first).days))
    if not parts:
        return pd.DataFrame({"date": [], "storage_class": [], "bytes": []})
    return pd.concat(parts, ignore_index=True)


def _ia_removals(usage: Usage) -> pd.DataFrame:
    """Objects that left Infrequent Access: size_bytes, ia_from, removed_at (UTC)."""
    cols = ["size_bytes", "ia_from", "removed_at"]
    parts = []
    objs = usage.frame("r2_objects", ["size_bytes", "storage_class", "stored_from"])
    if len(objs) and "stored_until" in objs:
        ia_from = pd.to_datetime(objs["ia_from"], utc=True) if "ia_from" in objs else \
            pd.Series(pd.NaT, objs.index, dtype="datetime64[ns, UTC]")
        ia_from = ia_from.where(ia_from.notna(), pd.to_datetime(objs["stored_from"], utc=True)
                                .where(objs["storage_class"] == IA))
        parts.append(pd.DataFrame({"size_bytes": objs["size_bytes"], "ia_from": ia_from,
                                   "removed_at": pd.to_datetime(objs["stored_until"],
                                                                utc=True)}))
    given = usage.frame("r2_ia_removals", cols)
    if len(given):
        parts.append(given[cols].assign(ia_from=pd.to_datetime(given["ia_from"], utc=True),
                                        removed_at=pd.to_datetime(given["removed_at"],
                                                                  utc=True)))
    if not parts:
        return pd.DataFrame({c: [] for c in cols})
    return pd.concat(parts, ignore_index=True)


def _ia_minimum_byte_days(usage: Usage, first: date, nxt: date, book: PriceBook) -> Decimal:
    """Byte-days still owed for IA objects that left IA before the minimum duration."""
    owed = ia_minimum_owed(_ia_removals(usage), first, nxt, book)
    return Decimal(int(owed.sum()))


def ia_minimum_owed(removals: pd.DataFrame, first: date, nxt: date,
                    book: PriceBook) -> pd.Series:
    """Byte-days owed per removal (size_bytes, ia_from, removed_at) in [first, nxt).

    An object that leaves Infrequent Access in the month after fewer days than the book's
    minimum storage duration owes the remaining days; every other row owes 0. The result is
    aligned to `removals`' index.

    >>> from lc_analytics.costs.pricebook import load_book
    >>> gone = pd.DataFrame({"size_bytes": [10], "ia_from": [pd.Timestamp("2026-06-01", tz="UTC")],
    ...                      "removed_at": [pd.Timestamp("2026-06-11", tz="UTC")]})
    >>> ia_minimum_owed(gone, date(2026, 6, 1), date(2026, 7, 1), load_book("cloudflare")).tolist()
    [200]
    """
    if not len(removals):
        return pd.Series(0, index=removals.index, dtype="int64")
    minimum = int(book.rules.get("ia_minimum_storage_days", 0))
    until = pd.to_datetime(removals["removed_at"], utc=True)
    ia_from = pd.to_datetime(removals["ia_from"], utc=True)
    leaves = until.notna() & ia_from.notna()
    lo, hi = pd.Timestamp(first, tz="UTC"), pd.Timestamp(nxt, tz="UTC")
    in_month = leaves & (until >= lo) & (until < hi)
    held_days = (until.dt.floor("D") - ia_from.dt.floor("D")).dt.days
    short = in_month & (held_days < minimum)
    owed = pd.Series(0, index=removals.index, dtype="int64")
    owed[short] = ((minimum - held_days[short]).clip(lower=0)
                   * removals.loc[short, "size_bytes"]).astype("int64")
    return owed
