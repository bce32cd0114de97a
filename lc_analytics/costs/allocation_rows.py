"""The rows each meter of a bill is allocated over: resources per day, with their weights.

`allocate.allocate_month` spreads each line item over these rows (the rules are in its
docstring); every figure comes from the read model (`readmodel.viewing`, the rebuilt stored
minutes, and the month's R2 usage read by `usage.warehouse_usage`).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from ..readmodel import stored_day_span, stored_videos, upload_reservations, viewing
from ..warehouse import Warehouse
from .engine import IA, Bill, Usage, _select, ia_minimum_owed, objects_daily_bytes
from .pricebook import PriceBook, Sku
from .r2_classes import READS
from .split import split_integer
from .usage import MonthUsage

UNALLOCATED_CAPACITY = "unallocated-capacity"
PART = ["date", "sku_id", "resource_id", "resource_type", "live_input_uid", "creator",
        "bucket", "prefix", "storage_class", "basis", "weight", "consumed_quantity"]


def part(records: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(records)
    for c in PART:
        if c not in df:
            df[c] = None
    return df


def days(values: Any) -> list[date]:
    return list(pd.to_datetime(pd.Series(values), utc=True).dt.date)


def number(value: Any) -> Decimal:
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

def delivery(wh: Warehouse, first: date, end: date, skus: dict[str, Sku]) -> pd.DataFrame:
    """Stream delivery per (day, uid) by minutes viewed (`readmodel.viewing`)."""
    sku = _select(skus, "stream_delivery", ())
    if sku is None or end <= first:
        return part([])
    v = viewing(wh, first, end - timedelta(days=1))
    if not len(v):
        return part([])
    is_live = v["kind"] == "live_input"
    creator = v["creator"]
    minutes = [number(x) for x in v["minutes"]]
    return pd.DataFrame({
        "date": v["date"].tolist(), "sku_id": sku.id, "resource_id": v["uid"],
        "resource_type": np.where(is_live, "live_input", "video"),
        "live_input_uid": v["live_input_uid"],
        "creator": creator.where(creator.notna() & (creator != ""), None),
        "bucket": None, "prefix": None, "storage_class": None, "basis": "minutes viewed",
        "weight": minutes, "consumed_quantity": minutes,
    })


def capacity(wh: Warehouse, usage: Usage, bill: Bill, first: date, end: date,
              skus: dict[str, Sku]) -> pd.DataFrame:
    sku = _select(skus, "stream_capacity", ())
    line = next((li for li in bill.line_items if sku and li.sku_id == sku.id), None)
    if sku is None or line is None or end <= first:
        return part([])
    days = pd.date_range(first, end - timedelta(days=1), freq="D")
    n = len(days)
    held = (line.consumed_quantity * 60).quantize(Decimal("0.001"))  # seconds held per day
    # what Stream counts as stored (as the bill's stored minutes): ready videos and the
    # reservations of direct uploads still pending, each on its video's uid
    videos = pd.concat([stored_videos(wh), upload_reservations(wh)], ignore_index=True)
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

def r2_storage(mu: MonthUsage, usage: Usage, first: date, nxt: date, book: PriceBook,
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
    for rec in totals.assign(date=days(totals["date"])).itertuples():
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
        return part([])
    gb_days = Decimal(book.rule("bytes_per_gb")) * (nxt - first).days
    df = pd.DataFrame(records)
    df = df.groupby(["date", "bucket", "prefix", "storage_class", "basis"], as_index=False,
                    sort=True)["weight"].sum()
    return _r2_part(df, "object_storage", lambda r: (r.storage_class,), skus,
                    lambda w: Decimal(int(w)) / gb_days)


def r2_operations(mu: MonthUsage, usage: Usage, end: date,
                   skus: dict[str, Sku]) -> pd.DataFrame:
    ops = usage.frame("r2_operations", ["date", "bucket", "op_class", "requests"])
    if not len(ops):
        return part([])
    if "storage_class" not in ops:
        ops["storage_class"] = "STANDARD"
    ops = ops[ops["op_class"].isin(["A", "B"])].assign(date=lambda d: days(d["date"]))
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
        return part([])
    df = pd.DataFrame(records).groupby(
        ["date", "bucket", "prefix", "storage_class", "op_class", "basis"], as_index=False,
        sort=True)["weight"].sum()
    return _r2_part(df, "operations", lambda r: (r.storage_class, r.op_class), skus,
                    lambda w: Decimal(int(w)))


def retrieval(mu: MonthUsage, usage: Usage, end: date, book: PriceBook,
               skus: dict[str, Sku]) -> pd.DataFrame:
    rt = usage.frame("r2_retrieval", ["date", "bucket", "bytes"])
    if not len(rt):
        return part([])
    rt = rt.assign(date=days(rt["date"])).groupby(["date", "bucket"], as_index=False,
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
        return part([])
    per_gb = Decimal(book.rule("bytes_per_gb"))
    return _r2_part(pd.DataFrame(records), "retrieval", lambda r: (r.storage_class,), skus,
                    lambda w: Decimal(int(w)) / per_gb)


def _reads(mu: MonthUsage, end: date) -> pd.DataFrame:
    """The month's per-object reads before `end`, with each object's prefix."""
    cols = ["date", "bucket", "key", "action_type", "requests", "size_bytes", "storage_class"]
    reads = mu.object_reads if mu.object_reads is not None else pd.DataFrame(
        {c: [] for c in cols})
    reads = reads.assign(date=days(reads["date"]))
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
