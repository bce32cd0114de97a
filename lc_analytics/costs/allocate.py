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
  that day (rebuilt from `videos` by the same code as the bill's stored minutes), and the
  capacity no video used that day is its own row, resource `unallocated-capacity` (it also
  holds pending-upload reservations and videos deleted before the first sync). On a day when
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
- A month not yet over is allocated over the days synced so far (up to the smallest watermark
  of the daily sources); its prepaid capacity, bought for the whole month, is spread over them.

Rows are keyed by (date, sku_id, resource_id); `resource_id` is the video or live input uid,
`unallocated-capacity`, the bucket (prefix '') or `bucket/prefix`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from ..errors import UsageError
from ..warehouse import Warehouse
from .engine import (
    IA,
    Bill,
    LineItem,
    Usage,
    _select,
    ia_minimum_owed,
    month_bounds,
    objects_daily_bytes,
    price_month,
)
from .pricebook import PriceBook, Sku, load_book
from .r2_classes import READS
from .usage import (
    MonthUsage,
    last_synced_day,
    stored_day_span,
    stored_videos,
    warehouse_usage,
)

COLUMNS = ["month", "date", "sku_id", "service", "resource_id", "resource_type",
           "live_input_uid", "creator", "bucket", "prefix", "storage_class",
           "consumed_quantity", "consumed_unit", "cost", "basis", "book"]
UNALLOCATED_CAPACITY = "unallocated-capacity"
MICRO_EXPONENT = -6  # costs are split in units of 10**-6 dollars (or finer, see above)
_PART = ["date", "sku_id", "resource_id", "resource_type", "live_input_uid", "creator",
         "bucket", "prefix", "storage_class", "basis", "weight", "consumed_quantity"]


@dataclass
class Allocation:
    """A month's bill, the usage it was priced from, and its rows per day and resource."""

    bill: Bill
    usage: MonthUsage
    rows: pd.DataFrame
    through: date  # the first day not allocated: the next month, or the day after the last synced


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
    end = max(first, min(nxt, through or synced_through(wh) or nxt))
    mu = warehouse_usage(wh, first)
    usage = _clip(mu.usage, end)
    bill = price_month(usage, first, book)
    skus = {s.id: s for s in book.skus(first)}
    parts = [
        _delivery(wh, first, end, skus),
        _capacity(wh, usage, bill, first, end, skus),
        _r2_storage(mu, usage, first, nxt, book, skus),
        _r2_operations(mu, usage, end, skus),
        _retrieval(mu, usage, end, book, skus),
    ]
    rows = _distribute(bill, [p for p in parts if len(p)])
    rows = rows.assign(month=f"{first:%Y-%m}", book=book.label)[COLUMNS]
    return Allocation(bill=bill, usage=mu, rows=rows, through=end)


def synced_through(wh: Warehouse) -> date | None:
    """The day after the last day every daily source has synced (None if none has).

    >>> synced_through(Warehouse("data/demo.duckdb", read_only=True))   # doctest: +SKIP
    datetime.date(2026, 7, 1)
    """
    last = last_synced_day(wh)
    return None if last is None else last + timedelta(days=1)


# --- splitting ------------------------------------------------------------------------------

def split_integer(total: int, weights: Sequence[Any]) -> list[int]:
    """Non-negative integers in proportion to `weights` that add up to `total` exactly.

    Largest remainder: each share is floored, and the units left go one each to the shares
    with the largest remainders (ties to the earlier row). Weights are ints or Decimals
    (floats go through their shortest repr); all zero weights split evenly.

    >>> split_integer(100, [1, 1, 1])
    [34, 33, 33]
    """
    w = _integer_weights(weights)
    total_w = sum(w)
    if total_w == 0:
        w, total_w = [1] * len(w), len(w)
    shares = [total * x // total_w for x in w]
    remainders = [total * x % total_w for x in w]
    left = total - sum(shares)
    for i in sorted(range(len(w)), key=lambda i: (-remainders[i], i))[:left]:
        shares[i] += 1
    return shares


def _integer_weights(weights: Sequence[Any]) -> list[int]:
    values = [v if isinstance(v, Decimal) else
              Decimal(int(v)) if isinstance(v, (int, np.integer)) else Decimal(repr(float(v)))
              for v in weights]
    if any(v < 0 for v in values):
        raise UsageError("allocation weights must not be negative")
    exp = min([0, *(int(v.as_tuple().exponent) for v in values)])
    return [int(v.scaleb(-exp)) for v in values]


def _distribute(bill: Bill, parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Each SKU's cost over its rows (by weight; by equal days first when rows have a group)."""
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        {c: [] for c in [*_PART, "group"]})
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
    return _part([{"date": month, "sku_id": sku_id, "resource_id": "unallocated",
                   "resource_type": "unallocated", "basis": "nothing to allocate by",
                   "weight": 1, "consumed_quantity": Decimal(0), "group": np.nan}])


def _part(records: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(records)
    for c in _PART:
        if c not in df:
            df[c] = None
    return df


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


def _days(values: Any) -> list[date]:
    return list(pd.to_datetime(pd.Series(values), utc=True).dt.date)


def _number(value: Any) -> Decimal:
    """A warehouse number as an exact Decimal (whole floats become integers)."""
    if isinstance(value, (int, np.integer)):
        return Decimal(int(value))
    f = float(value)
    return Decimal(int(f)) if f.is_integer() else Decimal(repr(f))


def prefix_of(key: str) -> str:
    """The key up to and including its first '/', or '' when it has none.

    >>> prefix_of("shows/abc.jpg"), prefix_of("exports/li/v.mp4"), prefix_of("robots.txt")
    ('shows/', 'exports/', '')
    """
    cut = key.find("/")
    return key[:cut + 1] if cut >= 0 else ""


def _r2_resource(bucket: str, prefix: str) -> str:
    return f"{bucket}/{prefix}" if prefix else bucket


# --- Stream ---------------------------------------------------------------------------------

_DELIVERY_SQL = """
SELECT m.date, m.uid, max(m.creator) AS viewed_creator, sum(m.minutes_viewed) AS minutes,
       any_value(v.live_input_uid) AS video_live_input, any_value(v.creator) AS video_creator,
       bool_or(li.uid IS NOT NULL) AS is_live_input
FROM minutes_viewed_daily m
LEFT JOIN videos v ON v.uid = m.uid
LEFT JOIN live_inputs li ON li.uid = m.uid
WHERE m.date >= ? AND m.date < ?
GROUP BY m.date, m.uid
ORDER BY m.date, m.uid
"""


def _delivery(wh: Warehouse, first: date, end: date, skus: dict[str, Sku]) -> pd.DataFrame:
    sku = _select(skus, "stream_delivery", ())
    if sku is None or end <= first:
        return _part([])
    v = wh.query(_DELIVERY_SQL, [first, end])
    if not len(v):
        return _part([])
    is_live = v["is_live_input"].fillna(False).astype(bool)
    known = v["video_creator"].notna() & (v["video_creator"] != "")
    creator = v["video_creator"].where(known, v["viewed_creator"])
    minutes = [_number(x) for x in v["minutes"]]
    return pd.DataFrame({
        "date": _days(v["date"]), "sku_id": sku.id, "resource_id": v["uid"],
        "resource_type": np.where(is_live, "live_input", "video"),
        "live_input_uid": v["uid"].where(is_live, v["video_live_input"]),
        "creator": creator.where(creator.notna() & (creator != ""), None),
        "bucket": None, "prefix": None, "storage_class": None, "basis": "minutes viewed",
        "weight": minutes, "consumed_quantity": minutes,
    })


def _capacity(wh: Warehouse, usage: Usage, bill: Bill, first: date, end: date,
              skus: dict[str, Sku]) -> pd.DataFrame:
    sku = _select(skus, "stream_capacity", ())
    line = next((li for li in bill.line_items if sku and li.sku_id == sku.id), None)
    if sku is None or line is None or end <= first:
        return _part([])
    days = pd.date_range(first, end - timedelta(days=1), freq="D")
    n = len(days)
    held = (line.consumed_quantity * 60).quantize(Decimal("0.001"))  # seconds held per day
    videos = stored_videos(wh)
    lo, hi = stored_day_span(videos, days)
    counts = np.clip(hi - lo, 0, None)
    which = np.repeat(np.arange(len(videos)), counts)
    day = lo[which] + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
    secs = videos["seconds"].to_numpy(dtype=np.int64)[which]
    stored = np.zeros(n, dtype=np.int64)
    np.add.at(stored, day, secs)
    scale = [min(Decimal(1), held / int(s)) if s else Decimal(1) for s in stored]
    per_day = Decimal(60 * n)
    rows = pd.DataFrame({
        "date": [d.date() for d in days[day]], "sku_id": sku.id,
        "resource_id": videos["uid"].to_numpy()[which], "resource_type": "video",
        "live_input_uid": videos["live_input_uid"].to_numpy()[which],
        "creator": videos["creator"].to_numpy()[which], "bucket": None, "prefix": None,
        "storage_class": None, "basis": "stored minutes", "group": day,
        "weight": [int(s) for s in secs],
        "consumed_quantity": [int(s) * scale[d] / per_day for s, d in zip(secs, day,
                                                                          strict=True)],
    })
    free = [(i, held - int(s)) for i, s in enumerate(stored) if held > int(s)]
    spare = pd.DataFrame({
        "date": [days[i].date() for i, _ in free], "sku_id": sku.id,
        "resource_id": UNALLOCATED_CAPACITY, "resource_type": "capacity",
        "live_input_uid": None, "creator": None, "bucket": None, "prefix": None,
        "storage_class": None, "basis": "unused capacity", "group": [i for i, _ in free],
        "weight": [s for _, s in free], "consumed_quantity": [s / per_day for _, s in free],
    })
    return pd.concat([rows, spare], ignore_index=True)


# --- R2 -------------------------------------------------------------------------------------

def _r2_storage(mu: MonthUsage, usage: Usage, first: date, nxt: date, book: PriceBook,
                skus: dict[str, Sku]) -> pd.DataFrame:
    totals = usage.frame("r2_storage", ["date", "bucket", "storage_class", "bytes"])
    objects = mu.objects if mu.objects is not None else pd.DataFrame(
        {"bucket": [], "key": []})
    alive: dict[tuple, list[tuple[str, int]]] = {}
    objects = objects.assign(prefix=[prefix_of(k) for k in objects["key"]])
    for (bucket, prefix), grp in objects.groupby(["bucket", "prefix"], sort=True):
        daily = objects_daily_bytes(grp, first, nxt)
        for rec in daily[daily["bytes"] > 0].itertuples():
            alive.setdefault((rec.date, bucket, rec.storage_class), []).append(
                (prefix, int(rec.bytes)))
    records: list[dict[str, Any]] = []
    for rec in totals.assign(date=_days(totals["date"])).itertuples():
        total = int(rec.bytes)
        if total <= 0:
            continue
        spread = alive.get((rec.date, rec.bucket, rec.storage_class)) or [("", 1)]
        for (prefix, _), share in zip(spread, split_integer(total, [b for _, b in spread]),
                                      strict=True):
            if share:
                records.append({"date": rec.date, "bucket": rec.bucket, "prefix": prefix,
                                "storage_class": rec.storage_class, "weight": share,
                                "basis": "bytes stored"})
    removals = usage.r2_ia_removals
    if isinstance(removals, pd.DataFrame) and len(removals):
        owed = ia_minimum_owed(removals, first, nxt, book)
        for idx in owed[owed > 0].index:
            gone = removals.loc[idx]
            records.append({"date": pd.Timestamp(gone["removed_at"]).date(),
                            "bucket": gone["bucket"], "prefix": prefix_of(gone["key"]),
                            "storage_class": IA, "weight": int(owed[idx]),
                            "basis": "IA minimum storage duration"})
    if not records:
        return _part([])
    gb_days = Decimal(book.rule("bytes_per_gb")) * (nxt - first).days
    df = pd.DataFrame(records)
    df = df.groupby(["date", "bucket", "prefix", "storage_class", "basis"], as_index=False,
                    sort=True)["weight"].sum()
    return _r2_part(df, "object_storage", lambda r: (r.storage_class,), skus,
                    lambda w: Decimal(int(w)) / gb_days)


def _r2_operations(mu: MonthUsage, usage: Usage, end: date,
                   skus: dict[str, Sku]) -> pd.DataFrame:
    ops = usage.frame("r2_operations", ["date", "bucket", "op_class", "requests"])
    if not len(ops):
        return _part([])
    if "storage_class" not in ops:
        ops["storage_class"] = "STANDARD"
    ops = ops[ops["op_class"].isin(["A", "B"])].assign(date=lambda d: _days(d["date"]))
    ops = ops.groupby(["date", "bucket", "op_class", "storage_class"], as_index=False,
                      sort=True)["requests"].sum()
    known: dict[tuple, list[tuple[str, int]]] = {}
    reads = _reads(mu, end)
    reads = reads[reads["action_type"].isin(READS)]
    for rec in reads.groupby(["date", "bucket", "storage_class", "prefix"], as_index=False,
                             sort=True)["requests"].sum().itertuples():
        known.setdefault((rec.date, rec.bucket, "B", rec.storage_class), []).append(
            (rec.prefix, int(rec.requests)))
    records = []
    for rec in ops.itertuples():
        total = int(rec.requests)
        if total <= 0:
            continue
        per_prefix = known.get((rec.date, rec.bucket, rec.op_class, rec.storage_class), [])
        counted = sum(n for _, n in per_prefix)
        if counted > total:  # more object reads than requests: keep the requests, spread them
            per_prefix = list(zip([p for p, _ in per_prefix],
                                  split_integer(total, [n for _, n in per_prefix]),
                                  strict=True))
        elif total > counted:
            per_prefix = [*per_prefix, ("", total - counted)]
        for prefix, n in per_prefix:
            if n:
                records.append({"date": rec.date, "bucket": rec.bucket, "prefix": prefix,
                                "storage_class": rec.storage_class, "op_class": rec.op_class,
                                "weight": n, "basis": "requests"})
    if not records:
        return _part([])
    df = pd.DataFrame(records).groupby(
        ["date", "bucket", "prefix", "storage_class", "op_class", "basis"], as_index=False,
        sort=True)["weight"].sum()
    return _r2_part(df, "operations", lambda r: (r.storage_class, r.op_class), skus,
                    lambda w: Decimal(int(w)))


def _retrieval(mu: MonthUsage, usage: Usage, end: date, book: PriceBook,
               skus: dict[str, Sku]) -> pd.DataFrame:
    rt = usage.frame("r2_retrieval", ["date", "bucket", "bytes"])
    if not len(rt):
        return _part([])
    rt = rt.assign(date=_days(rt["date"])).groupby(["date", "bucket"], as_index=False,
                                                    sort=True)["bytes"].sum()
    reads = _reads(mu, end)
    reads = reads[(reads["storage_class"] == IA) & (reads["action_type"] == "GetObject")]
    by_prefix: dict[tuple, list[tuple[str, int]]] = {}
    for rec in reads.assign(bytes=reads["requests"] * reads["size_bytes"]).groupby(
            ["date", "bucket", "prefix"], as_index=False, sort=True)["bytes"].sum().itertuples():
        by_prefix.setdefault((rec.date, rec.bucket), []).append((rec.prefix, int(rec.bytes)))
    records = []
    for rec in rt.itertuples():
        total = int(rec.bytes)
        if total <= 0:
            continue
        spread = by_prefix.get((rec.date, rec.bucket)) or [("", 1)]
        for (prefix, _), share in zip(spread, split_integer(total, [b for _, b in spread]),
                                      strict=True):
            if share:
                records.append({"date": rec.date, "bucket": rec.bucket, "prefix": prefix,
                                "storage_class": IA, "weight": share,
                                "basis": "bytes read from IA"})
    if not records:
        return _part([])
    per_gb = Decimal(book.rule("bytes_per_gb"))
    return _r2_part(pd.DataFrame(records), "retrieval", lambda r: (r.storage_class,), skus,
                    lambda w: Decimal(int(w)) / per_gb)


def _reads(mu: MonthUsage, end: date) -> pd.DataFrame:
    """The month's per-object reads before `end`, with each object's prefix."""
    cols = ["date", "bucket", "key", "action_type", "requests", "size_bytes", "storage_class"]
    reads = mu.object_reads if mu.object_reads is not None else pd.DataFrame(
        {c: [] for c in cols})
    reads = reads.assign(date=_days(reads["date"]))
    reads = reads[[d < end for d in reads["date"]]]
    return reads.assign(prefix=[prefix_of(k) for k in reads["key"]])


def _r2_part(df: pd.DataFrame, meter: str, selector: Any, skus: dict[str, Sku],
             consumed: Any) -> pd.DataFrame:
    """R2 records (date, bucket, prefix, storage_class, weight, basis) with their SKU."""
    sku_ids = [getattr(_select(skus, meter, selector(r)), "id", None) for r in df.itertuples()]
    df = df.assign(sku_id=sku_ids)
    df = df[df["sku_id"].notna()]
    return pd.DataFrame({
        "date": df["date"], "sku_id": df["sku_id"],
        "resource_id": [_r2_resource(b, p) for b, p in zip(df["bucket"], df["prefix"],
                                                           strict=True)],
        "resource_type": np.where(df["prefix"] == "", "bucket", "prefix"),
        "live_input_uid": None, "creator": None, "bucket": df["bucket"],
        "prefix": df["prefix"], "storage_class": df["storage_class"], "basis": df["basis"],
        "weight": [int(w) for w in df["weight"]],
        "consumed_quantity": [consumed(w) for w in df["weight"]],
    })
