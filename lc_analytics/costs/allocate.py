"""Split a month's bill into daily rows per resource that add up exactly to every line item.

The bill is the pricing engine's (`price_month`) on the warehouse's usage (`warehouse_usage`).
Each line item's cost is spread over its rows in proportion to a weight, in integer
micro-dollars with a largest-remainder split: every row is a multiple of $0.000001 and the rows
of a SKU add up to its line item exactly (a line item finer than a micro-dollar, as a book
that does not round up can give, is split in its own finest unit instead). The rules:

- Stream delivery: per (day, video uid) by minutes viewed. A uid that is a video takes its
  live input and creator from `videos`; a uid that is itself a live input (recording off, so
  the minutes were watched live) maps to that live input; a uid the warehouse never listed
  (deleted before the first sync) keeps the creator `minutes_viewed_daily` reports and no
  live input.
- Stream storage (prepaid capacity): each day carries an equal share of the month's capacity
  charge; within a day every stored video takes a share in proportion to its stored minutes
  that day (rebuilt from `videos` by the same code as the bill's stored minutes; a direct
  upload still pending carries the `maxDurationSeconds` it reserves), and the capacity no
  video used that day is its own row, resource `unallocated-capacity` (it also holds videos
  deleted before the first sync). On a day when
  stored minutes exceed the capacity billed, the videos share the whole day.
- R2 storage: per (day, bucket, prefix, storage class) by bytes, the prefix being the key up to
  and including its first '/' ('' for a key without one). Each bucket's daily bytes per class
  (`r2_storage_daily`, split into Standard and Infrequent Access as for the bill) are divided
  over its prefixes in proportion to the inventory's bytes alive that day in that class; a
  bucket-day the inventory has no such bytes for stays on prefix ''. Byte-days still owed for
  IA objects removed before the 30-day minimum sit on the day of removal, at their prefix.
- R2 operations: per (day, bucket, billing class) by requests. Reads the warehouse has per
  object (successful GetObject and HeadObject) go to the object's prefix; every other request
  (writes, lists, failed reads, lifecycle transitions) is bucket-level, prefix ''.
- IA retrieval: per (day, bucket, prefix) by bytes read from Infrequent Access.
- Free allowances and rounding up to whole billing units act on the monthly total, so their
  effect is spread over the rows of their SKU in proportion to the weight: a SKU within its
  free tier costs 0 on every row, and a block rounded up is paid by all its rows alike.
- A month not yet over is allocated over the days synced so far (through the read model's
  `last_synced_day`); its prepaid capacity, bought for the whole month, is spread over them.

Rows are keyed by (date, sku_id, resource_id); `resource_id` is the video or live input uid,
`unallocated-capacity`, the bucket (prefix '') or `bucket/prefix`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from ..readmodel import last_synced_day
from ..warehouse import Warehouse
from .allocation_rows import (
    PART,
    UNALLOCATED_CAPACITY,  # noqa: F401 - re-exported: callers import it from here
    capacity,
    delivery,
    part,
    r2_operations,
    r2_storage,
    retrieval,
)
from .engine import Bill, LineItem, Usage, month_bounds, price_month
from .pricebook import PriceBook, load_book
from .split import split_integer
from .usage import MonthUsage, warehouse_usage

COLUMNS = ["month", "date", "sku_id", "service", "resource_id", "resource_type",
           "live_input_uid", "creator", "bucket", "prefix", "storage_class",
           "consumed_quantity", "consumed_unit", "cost", "basis", "book"]
MICRO_EXPONENT = -6  # costs are split in units of 10**-6 dollars (or finer, see above)

@dataclass
class Allocation:
    """A month's bill, the usage it was priced from, and its rows per day and resource.

    The rows are built on first use: a month of a large account has millions of (day, video)
    rows, and a bill, its totals or a comparison of months never needs them.
    """

    bill: Bill
    usage: MonthUsage
    _rows: pd.DataFrame | Callable[[], pd.DataFrame] = field(repr=False)
    through: date  # the first day not allocated: the next month, or the day after the last synced

    @property
    def rows(self) -> pd.DataFrame:
        """The bill as daily rows per resource (each SKU's rows add up to its line item)."""
        if callable(self._rows):
            self._rows = self._rows()
        return self._rows


def allocate(wh: Warehouse, month: date | str, book: PriceBook | None = None) -> pd.DataFrame:
    """The month's bill as daily rows per resource; each SKU's rows add up to its line item.

    `book` defaults to the Cloudflare list prices. Costs and quantities are Decimal.

    >>> rows = allocate(Warehouse("data/demo.duckdb", read_only=True), "2026-06")  # doctest: +SKIP
    >>> rows.groupby("creator")["cost"].sum()                                      # doctest: +SKIP
    """
    return allocate_month(wh, month, book).rows


def allocate_month(wh: Warehouse, month: date | str, book: PriceBook | None = None,
                   through: date | None = None) -> Allocation:
    """The bill of `month`, allocated; `through` (default: the day after the last synced day)
    ends a month not yet over.

    >>> wh = Warehouse("data/demo.duckdb", read_only=True)           # doctest: +SKIP
    >>> a = allocate_month(wh, "2026-06")                               # doctest: +SKIP
    >>> a.bill.total == sum(a.rows["cost"])                             # doctest: +SKIP
    True
    """
    book = book or load_book("cloudflare")
    first, nxt = month_bounds(month)
    last = last_synced_day(wh)
    synced = None if last is None else last + timedelta(days=1)
    end = max(first, min(nxt, through or synced or nxt))
    mu = warehouse_usage(wh, first)
    usage = _clip(mu.usage, end)
    bill = price_month(usage, first, book)
    skus = {s.id: s for s in book.skus(first)}

    def rows() -> pd.DataFrame:
        parts = [
            delivery(wh, first, end, skus),
            capacity(wh, usage, bill, first, end, skus),
            r2_storage(mu, usage, first, nxt, book, skus),
            r2_operations(mu, usage, end, skus),
            retrieval(mu, usage, end, book, skus),
        ]
        out = _distribute(bill, [p for p in parts if len(p)])
        return out.assign(month=f"{first:%Y-%m}", book=book.label)[COLUMNS]

    return Allocation(bill=bill, usage=mu, _rows=rows, through=end)


# --- splitting ------------------------------------------------------------------------------

def _distribute(bill: Bill, parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Each SKU's cost over its rows (by weight; by equal days first when rows have a group)."""
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        {c: [] for c in [*PART, "group"]})
    if "group" not in rows:
        rows["group"] = np.nan
    rows = _merge_duplicates(rows)
    out = []
    by_sku: dict[str, list[LineItem]] = {}
    for li in bill.line_items:
        by_sku.setdefault(li.sku_id, []).append(li)
    for sku_id, items in by_sku.items():
        cost = sum((li.cost for li in items), Decimal(0))
        exp = min([MICRO_EXPONENT, *(int(li.cost.as_tuple().exponent) for li in items)])
        units = int(cost.scaleb(-exp))
        if Decimal(units).scaleb(exp) != cost:
            raise ArithmeticError(f"{sku_id}: cost {cost} is not whole units of 1e{exp}")
        mine = rows[rows["sku_id"] == sku_id].sort_values(["date", "resource_id"],
                                                          kind="stable")
        if not len(mine):
            if not cost:
                continue  # e.g. a storage class that held nothing
            mine = _unallocated_row(bill.month, sku_id)
        shares = _shares(units, mine)
        mine = mine.assign(cost=[Decimal(u).scaleb(exp) for u in shares],
                           service=items[0].service, consumed_unit=items[0].consumed_unit)
        out.append(mine)
    if not out:
        return pd.DataFrame({c: [] for c in COLUMNS if c not in ("month", "book")})
    result = pd.concat(out, ignore_index=True)
    return result.sort_values(["date", "sku_id", "resource_id"], kind="stable",
                              ignore_index=True)


def _shares(units: int, rows: pd.DataFrame) -> list[int]:
    groups = rows["group"]
    if groups.isna().all():
        return split_integer(units, list(rows["weight"]))
    shares = [0] * len(rows)
    keys = sorted(groups.unique())
    positions = {k: np.flatnonzero((groups == k).to_numpy()) for k in keys}
    weights = list(rows["weight"])
    for key, per_group in zip(keys, split_integer(units, [1] * len(keys)), strict=True):
        idx = positions[key]
        for i, share in zip(idx, split_integer(per_group, [weights[i] for i in idx]),
                            strict=True):
            shares[i] = share
    return shares


def _merge_duplicates(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (date, sku_id, resource_id): a book that prices two storage classes with one
    SKU would otherwise give two rows for the same resource and day."""
    key = ["date", "sku_id", "resource_id"]
    if not len(rows) or not rows.duplicated(key).any():
        return rows

    def one(values: pd.Series) -> Any:
        return values.iloc[0] if values.nunique(dropna=False) == 1 else None

    def total(values: pd.Series) -> Decimal:
        return sum((Decimal(v) if not isinstance(v, Decimal) else v for v in values), Decimal(0))

    agg = {c: (total if c in ("weight", "consumed_quantity") else one)
           for c in rows.columns if c not in key}
    return rows.groupby(key, as_index=False, sort=False, dropna=False).agg(agg)


def _unallocated_row(month: date, sku_id: str) -> pd.DataFrame:
    """A SKU billed without anything to spread it over (not expected): one row, unallocated."""
    return part([{"date": month, "sku_id": sku_id, "resource_id": "unallocated",
                   "resource_type": "unallocated", "basis": "nothing to allocate by",
                   "weight": 1, "consumed_quantity": Decimal(0), "group": np.nan}])


# --- usage helpers --------------------------------------------------------------------------

def _clip(usage: Usage, end: date) -> Usage:
    """The usage before `end` (the month to date)."""
    cut = pd.Timestamp(end, tz="UTC")
    kept = {}
    for f in fields(usage):
        df = getattr(usage, f.name)
        col = "removed_at" if f.name == "r2_ia_removals" else "date"
        if isinstance(df, pd.DataFrame) and len(df) and col in df:
            df = df[pd.to_datetime(df[col], utc=True) < cut]
        kept[f.name] = df
    return Usage(**kept)


