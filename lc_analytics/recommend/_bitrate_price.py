"""Bitrate recommender: what a lower ingest bitrate changes, priced by the engine (the
R2 storage of the input's MP4 exports; the AWS alternative's egress, as information)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from .. import readmodel as rm
from ..costs.engine import Usage, month_bounds, objects_daily_bytes, price_month, price_period
from ..costs.pricebook import PriceBook, load_book
from ..costs.usage import TRAILING_DAYS, inventory_objects, period_usage, warehouse_usage
from ..warehouse import Warehouse
from ._common import CENT, money

#: Days of viewing the delivered bytes (AWS comparison) are measured over.
DELIVERY_DAYS = 30


@dataclass(frozen=True)
class R2Context:
    """What every flagged input's pricing shares: the priced period, its R2 usage, the
    objects and reads, the videos and their recent viewing."""

    first: date
    nxt: date
    usage: Usage
    objects: pd.DataFrame
    reads: pd.DataFrame  # GetObject per object per day in the period
    videos: pd.DataFrame  # uid, size_bytes, duration_seconds
    views: pd.DataFrame  # minutes per video over the last DELIVERY_DAYS days
    notes: list[str]
    priced: str  # the period, as people read it
    recordings_of: dict[str, set[str]]  # live input uid -> its recordings' uids


@dataclass(frozen=True)
class ExportsSaving:
    """The engine's R2 bill with the input's exports at target/current of their size."""

    saving: Decimal
    text: str
    info: dict[str, Any]


def r2_context(wh: Warehouse, day: date) -> R2Context:
    """R2 usage to price exports with: the last complete month, or, when the warehouse does
    not hold it whole (a first sync keeps 31 days of R2), the last 30 days up to `day`."""
    first, nxt = month_bounds(day)
    if day + timedelta(days=1) < nxt:
        first, nxt = month_bounds(first - timedelta(days=1))
    mu = warehouse_usage(wh, first)
    usage, priced = mu.usage, f"{first:%Y-%m}"
    if not mu.r2_complete:
        nxt = day + timedelta(days=1)
        first = nxt - timedelta(days=TRAILING_DAYS)
        usage, priced = period_usage(wh, first, day), f"{first} to {day}"
    objs = inventory_objects(wh)
    reads = rm.r2_object_reads(wh, first, nxt - timedelta(days=1), objects=objs)
    reads = reads.loc[reads["action_type"] == "GetObject", ["date", "bucket", "key", "requests"]]
    every = rm.videos(wh, history=True)
    videos = every.loc[every["duration_seconds"] > 0, ["uid", "size_bytes", "duration_seconds"]]
    views = rm.viewing_totals(wh, day - timedelta(days=DELIVERY_DAYS - 1), day, ["uid"])
    return R2Context(first=first, nxt=nxt, usage=usage, objects=objs, reads=reads,
                     videos=videos, views=views, notes=list(mu.notes), priced=priced,
                     recordings_of=every.groupby("live_input_uid")["uid"].agg(set).to_dict())


def exports_saving(ctx: R2Context, uid: str, factor: float, book: PriceBook) -> ExportsSaving:
    """Re-price the period's R2 account-wide with input `uid`'s MP4 exports (objects under
    exports/<uid>/) at `factor` x their size: storage, IA retrieval and the IA minimum."""
    first, nxt, usage, objs = ctx.first, ctx.nxt, ctx.usage, ctx.objects
    mine = objs[objs["key"].str.startswith(f"exports/{uid}/")]
    info: dict[str, Any] = {"objects": len(mine),
                            "bytes_stored": int(mine.loc[mine["stored_until"].isna(),
                                                         "size_bytes"].sum())}
    if not len(mine):
        return ExportsSaving(Decimal(0), "no MP4 exports of this input in R2", info)
    scaled = mine.assign(size_bytes=(mine["size_bytes"] * factor).round().astype(np.int64))
    storage = usage.frame("r2_storage", ["date", "bucket", "storage_class", "bytes"])
    parts = [storage]
    for bucket, grp in mine.groupby("bucket"):
        d = objects_daily_bytes(scaled.loc[grp.index], first, nxt).set_index(
            ["date", "storage_class"])["bytes"] - objects_daily_bytes(grp, first, nxt) \
            .set_index(["date", "storage_class"])["bytes"]
        d = d.reset_index()
        days = set(pd.to_datetime(storage.loc[storage["bucket"] == bucket, "date"]).dt.date)
        parts.append(d[d["date"].isin(days)].assign(bucket=bucket))
    reads = ctx.reads.merge(mine[["bucket", "key", "size_bytes", "ia_from"]],
                               on=["bucket", "key"])
    ia = reads["ia_from"].notna() & (pd.to_datetime(reads["date"]).dt.tz_localize("UTC")
                                     >= reads["ia_from"].dt.floor("D"))
    got = reads[ia].assign(bytes=reads["requests"] * reads["size_bytes"])
    by_bucket = got.groupby("bucket")["bytes"].sum()
    deltas = [{"date": first, "bucket": b, "bytes": int(round(float(x) * (factor - 1)))}
              for b, x in by_bucket.items() if x]
    retr_delta = sum(d["bytes"] for d in deltas)
    retrieval = usage.frame("r2_retrieval", ["date", "bucket", "bytes"])
    if deltas:
        retrieval = pd.concat([retrieval, pd.DataFrame(deltas)], ignore_index=True)
    removals = usage.frame("r2_ia_removals", ["size_bytes", "ia_from", "removed_at"])
    after = Usage(r2_storage=pd.concat(parts, ignore_index=True), r2_retrieval=retrieval,
                  r2_operations=usage.r2_operations, r2_ia_removals=removals)
    before = Usage(r2_storage=storage, r2_retrieval=usage.r2_retrieval,
                   r2_operations=usage.r2_operations, r2_ia_removals=removals)
    last = nxt - timedelta(days=1)
    b, a = price_period(before, first, last, book), price_period(after, first, last, book)
    saving = b.total - a.total
    info.update({"priced_month": ctx.priced, "bill_before": b.total,
                 "bill_after": a.total, "retrieval_bytes_delta": retr_delta})
    text = (f"engine ({book.label}) re-prices {ctx.priced} R2 account-wide with this input's "
            f"{len(mine)} MP4 exports at {factor:.3f} x their size: {money(b.total)} -> "
            f"{money(a.total)} = "
            f"{money(saving)}/month")
    return ExportsSaving(saving, text, info)


def delivery(ctx: R2Context, uid_videos: set[str], factor: float, day: date) -> dict[str, Any]:
    """Bytes delivered in the last DELIVERY_DAYS days at each video's ingest bitrate, and the
    AWS alternative's egress price before and after (information: Stream does not bill it)."""
    v = ctx.views.merge(ctx.videos, on="uid")
    per_min = v["size_bytes"] / v["duration_seconds"] * 60
    total = float((v["minutes"] * per_min).sum())
    mine = v["uid"].isin(uid_videos)
    input_bytes = float((v.loc[mine, "minutes"] * per_min[mine]).sum())
    after = total - input_bytes * (1 - factor)
    aws = load_book("aws")
    month = month_bounds(day + timedelta(days=1))[0]

    def price(b: float) -> Decimal:
        return price_month(Usage(egress=[{"date": month, "bytes": int(round(b))}]), month,
                           aws).total
    before_cost, after_cost = price(total), price(after)
    return {"days": DELIVERY_DAYS, "input_bytes": int(input_bytes),
            "input_bytes_after": int(input_bytes * factor),
            "account_bytes": int(total), "account_bytes_after": int(after),
            "aws_book": aws.label, "aws_egress_cost": before_cost.quantize(CENT),
            "aws_egress_cost_after": after_cost.quantize(CENT),
            "aws_egress_saving": (before_cost - after_cost).quantize(CENT),
            "note": "bytes at the ingest bitrate for every minute viewed (what a self-hosted "
                    "delivery without a lower ladder would send); Stream does not bill them"}


__all__ = ["DELIVERY_DAYS", "ExportsSaving", "R2Context", "delivery", "exports_saving",
           "r2_context"]
