"""Showback: a month's allocated bill summed per broadcaster, live input, bucket or prefix."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

import pandas as pd

from ..errors import UsageError
from ..warehouse import Warehouse
from .allocate import allocate_month
from .pricebook import PriceBook

UNALLOCATED = "unallocated"
BY = {
    "broadcaster": "creator",  # a broadcaster is a Stream creator
    "creator": "creator",
    "live_input": "live_input_uid",
    "bucket": "bucket",
    "prefix": "prefix",  # shown as bucket/prefix; bucket-level rows are unallocated
}
_CENT = Decimal("0.01")


def showback(wh: Warehouse, month: date | str, by: str,
             book: PriceBook | None = None) -> pd.DataFrame:
    """Cost per `by` value of the month, largest first, with an `unallocated` row last.

    `by` is one of "broadcaster" (= "creator"), "live_input", "bucket" or "prefix". A row of
    the allocation without that attribute (a clip without a live input, Stream costs when
    showing buckets, unused prepaid capacity, bucket-level R2 requests when showing prefixes)
    counts as `unallocated`, so the rows always add up to the bill. Columns:

    - `cost`: exact Decimal; the column adds up to the bill total exactly;
    - `cost_cents`: rounded to cents by largest remainder, so it adds up to the total
      rounded to cents (what a report shows);
    - `share`: the fraction of the total (float, for display).

    >>> wh = Warehouse("data/demo.duckdb", read_only=True)           # doctest: +SKIP
    >>> showback(wh, "2026-06", "bucket")                               # doctest: +SKIP
    """
    if by not in BY:
        raise UsageError(f"showback by {by!r}: choose one of {', '.join(BY)}")
    allocation = allocate_month(wh, month, book)
    rows = allocation.rows
    keys = _keys(rows, by)
    totals: dict[str, Decimal] = {}
    for key, cost in zip(keys, rows["cost"], strict=True):
        totals[key] = totals.get(key, Decimal(0)) + cost
    total = allocation.bill.total
    names = sorted((k for k in totals if k != UNALLOCATED), key=lambda k: (-totals[k], k))
    if UNALLOCATED in totals:
        names.append(UNALLOCATED)
    costs = [totals[k] for k in names]
    out = pd.DataFrame({by: names, "cost": costs, "cost_cents": _cents(costs, total),
                        "share": [float(c / total) if total else 0.0 for c in costs]})
    out.attrs.update(month=f"{allocation.bill.month:%Y-%m}", book=allocation.bill.book,
                     total=total)
    return out


def _keys(rows: pd.DataFrame, by: str) -> list[str]:
    column = rows[BY[by]]
    if by == "prefix":
        return [f"{b}/{p}" if isinstance(p, str) and p else UNALLOCATED
                for b, p in zip(rows["bucket"], column, strict=True)]
    return [v if isinstance(v, str) and v else UNALLOCATED for v in column]


def _cents(costs: list[Decimal], total: Decimal) -> list[Decimal]:
    """Costs in whole cents that add up to `total` rounded to cents (largest remainder)."""
    target = int(total.quantize(_CENT, rounding=ROUND_HALF_EVEN) / _CENT)
    cents = [int((c / _CENT).to_integral_value(rounding=ROUND_FLOOR)) for c in costs]
    remainders = [c / _CENT - f for c, f in zip(costs, cents, strict=True)]
    left = target - sum(cents)
    for i in sorted(range(len(costs)), key=lambda i: (-remainders[i], i))[:max(left, 0)]:
        cents[i] += 1
    return [Decimal(c) * _CENT for c in cents]
