"""Bandwidth: minutes delivered and their estimated GB at a rendition mix, R2 requests per
billing class, R2 storage, and what the inventory's own listing costs (priced by the engine).

Every function reads the warehouse through the read model (`lc_analytics.readmodel`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from .. import readmodel
from ..costs.comparison import RENDITION_MBPS, egress_bytes, rendition_shares
from ..costs.listing import LISTING_SKU, listing_cost_usd
from ..costs.pricebook import PriceBook, load_book
from ..errors import ReportError
from ..warehouse import Warehouse
from .periods import Period

__all__ = ["GB", "LISTING_SKU", "MONTH_DAYS", "bandwidth_headline", "delivered_mbps",
           "delivery_by_day", "listing_calls", "listing_cost", "listing_price", "r2_operations",
           "r2_operations_by_action", "r2_operations_by_bucket", "r2_operations_by_day",
           "r2_storage_by_class", "r2_storage_by_day", "rendition_mix"]

MONTH_DAYS = 30  # a month of daily syncs, for the listing's monthly cost
GB = 10**9  # decimal gigabyte, as Cloudflare and the rendition estimate use it


def rendition_mix(mix: Mapping[str, float | str | Decimal] | None = None,
                  minutes: float | None = None) -> pd.DataFrame:
    """The assumed rendition mix: rendition, mbps, share, and (with `minutes`) estimated gb.

    Default (lc_analytics.costs.comparison): Cloudflare's recommended encodes 1080p 8 Mbps
    30%, 720p 4.8 Mbps 40%, 480p 2.4 Mbps 20%, 360p 1 Mbps 10%, i.e. 4.9 Mbps on average.

    >>> print(rendition_mix(minutes=1000).to_string(index=False))
    rendition  mbps  share    gb
        1080p   8.0    0.3 18.00
         720p   4.8    0.4 14.40
         480p   2.4    0.2  3.60
         360p   1.0    0.1  0.75
    """
    shares = _mix(mix)
    df = pd.DataFrame({"rendition": list(shares),
                       "mbps": [float(RENDITION_MBPS[r]) for r in shares],
                       "share": [float(s) for s in shares.values()]})
    if minutes is not None:
        m = Decimal(str(minutes))
        df["gb"] = [float(egress_bytes(m * s, RENDITION_MBPS[r]) / GB)
                    for r, s in shares.items()]
    return df


def delivered_mbps(mix: Mapping[str, float | str | Decimal] | None = None) -> Decimal:
    """The mix-weighted bitrate in Mbps.

    >>> delivered_mbps()
    Decimal('4.900')
    """
    return sum((s * RENDITION_MBPS[r] for r, s in _mix(mix).items()), Decimal(0))


def _mix(mix: Mapping[str, float | str | Decimal] | None) -> dict[str, Decimal]:
    """The validated mix (costs.comparison's rule), as a report parameter error."""
    try:
        return rendition_shares(mix)[0]
    except ValueError as exc:
        raise ReportError(f"rendition mix: {exc}") from exc


def delivery_by_day(wh: Warehouse, start: date, end: date,
                    mix: Mapping[str, float | str | Decimal] | None = None) -> pd.DataFrame:
    """Minutes delivered per day and the estimated GB at the mix's bitrate: date, minutes, gb.

    GB = minutes x 60 s x Mbps x 10^6 / 8 / 10^9 (decimal GB). Stream bills minutes, not
    bytes: the GB is an estimate, for comparing with per-GB delivery.

    >>> delivery_by_day(wh, date(2026, 6, 1), date(2026, 6, 30))       # doctest: +SKIP
    """
    mbps = delivered_mbps(mix)
    got = readmodel.minutes_viewed_daily(wh, start, end)
    days = pd.Index(pd.date_range(start, end, freq="D").date, name="date")
    out = got.set_index("date")["minutes"].reindex(days, fill_value=0.0).astype(float)
    out = out.reset_index()
    out["gb"] = out["minutes"] * 60 * float(mbps) * 1e6 / 8 / GB
    return out


def r2_operations(wh: Warehouse, start: date, end: date) -> pd.DataFrame:
    """R2 requests per day, bucket, action and status with the action's billing class:
    date, bucket, action_type, action_status, op_class ('A' | 'B' | 'free'), requests.

    >>> r2_operations(wh, date(2026, 6, 1), date(2026, 6, 30))         # doctest: +SKIP
    """
    df = readmodel.r2_requests(wh, start, end)
    cols = ["date", "bucket", "action_type", "action_status", "op_class", "requests"]
    df = df.groupby(cols[:5], as_index=False, sort=True)["requests"].sum()
    df["requests"] = df["requests"].astype("int64")
    return df[cols]


def r2_operations_by_bucket(wh: Warehouse, start: date, end: date) -> pd.DataFrame:
    """R2 requests per bucket and billing class in the period: bucket, op_class, requests.

    >>> r2_operations_by_bucket(wh, date(2026, 6, 1), date(2026, 6, 30))  # doctest: +SKIP
    """
    ops = r2_operations(wh, start, end)
    return ops.groupby(["bucket", "op_class"], as_index=False)["requests"].sum()


def r2_operations_by_day(wh: Warehouse, start: date, end: date) -> pd.DataFrame:
    """R2 requests per day and billing class: date, op_class, requests.

    >>> r2_operations_by_day(wh, date(2026, 6, 1), date(2026, 6, 30))  # doctest: +SKIP
    """
    ops = r2_operations(wh, start, end)
    return ops.groupby(["date", "op_class"], as_index=False)["requests"].sum()


def r2_operations_by_action(wh: Warehouse, start: date, end: date) -> pd.DataFrame:
    """R2 requests per bucket, action and status in the period, with the billing class:
    bucket, action_type, action_status, op_class, requests.

    >>> r2_operations_by_action(wh, date(2026, 6, 1), date(2026, 6, 30))  # doctest: +SKIP
    """
    ops = r2_operations(wh, start, end)
    return ops.groupby(["bucket", "action_type", "action_status", "op_class"],
                       as_index=False)["requests"].sum()


def r2_storage_by_day(wh: Warehouse, start: date, end: date) -> pd.DataFrame:
    """Each bucket's peak storage per day (R2's metrics): date, bucket, gb, objects.

    >>> r2_storage_by_day(wh, date(2026, 6, 1), date(2026, 6, 30))     # doctest: +SKIP
    """
    df = readmodel.r2_storage_totals(wh, start, end)
    gb = (df["bytes"] + df["metadata_bytes"]).astype(float) / GB
    return pd.DataFrame({"date": df["date"], "bucket": df["bucket"], "gb": gb,
                         "objects": df["objects"]}).reset_index(drop=True)


def r2_storage_by_class(wh: Warehouse) -> pd.DataFrame:
    """The inventory's objects still listed, per bucket and storage class: bucket,
    storage_class, objects, gb (as of the last listing; R2's daily metrics have no class).

    >>> r2_storage_by_class(wh)                                        # doctest: +SKIP
    """
    objs = readmodel.r2_objects(wh)
    df = objs.groupby(["bucket", "storage_class"], as_index=False, sort=True).agg(
        objects=("key", "size"), bytes=("size_bytes", "sum"))
    df["objects"] = df["objects"].astype("int64")
    df.insert(3, "gb", df.pop("bytes").astype(float) / GB)
    return df


def listing_price(on: date, book: PriceBook | None = None) -> Decimal:
    """Dollars per listing call: the Class A list price (`cf-r2-standard-class-a`) per
    request, the unit price the engine applies.

    >>> listing_price(date(2026, 6, 30))
    Decimal('0.0000045')
    """
    sku = (book or load_book("cloudflare")).price(LISTING_SKU, on)
    return sku.amount / sku.pricing_block


def listing_calls(wh: Warehouse) -> pd.DataFrame:
    """The R2 listing calls (Class A) each sync run made: run_id, started_at, bucket, calls
    (`readmodel.listing_calls`).

    >>> listing_calls(wh)                                              # doctest: +SKIP
    """
    return readmodel.listing_calls(wh)


def listing_cost(wh: Warehouse, on: date, book: PriceBook | None = None) -> dict[str, Any]:
    """What the inventory's own listing costs, at the Class A list price on `on` (before R2's
    free allowance of 1 million Class A requests a month).

    Keys: price_per_call, runs, calls_total, cost_total (all recorded runs), calls_last_run,
    cost_last_run, cost_per_month_daily (the last run's calls on each of 30 days, for a daily
    sync); every cost is the engine's (`costs.listing`); money is Decimal.

    >>> listing_cost(wh, date(2026, 6, 30))["cost_last_run"]           # doctest: +SKIP
    Decimal('0.0000225')
    """
    book = book or load_book("cloudflare")
    calls = listing_calls(wh)
    runs = calls.groupby("run_id", sort=False)["calls"].sum() if len(calls) else pd.Series(
        dtype="int64")
    last = int(runs.iloc[-1]) if len(runs) else 0
    total = int(runs.sum()) if len(runs) else 0
    return {"price_per_call": listing_price(on, book), "runs": int(len(runs)),
            "calls_total": total, "cost_total": listing_cost_usd(total, on, on, book),
            "calls_last_run": last, "cost_last_run": listing_cost_usd(last, on, on, book),
            "cost_per_month_daily": listing_cost_usd(
                last, on - timedelta(days=MONTH_DAYS - 1), on, book)}


def bandwidth_headline(wh: Warehouse, period: Period,
                       mix: Mapping[str, float | str | Decimal] | None = None,
                       ) -> dict[str, Any]:
    """The bandwidth report's headline numbers (what its summary.json holds).

    >>> bandwidth_headline(wh, resolve_period(wh))["minutes_delivered"]  # doctest: +SKIP
    """
    delivery = delivery_by_day(wh, period.start, period.end, mix)
    minutes = float(delivery["minutes"].sum())
    mbps = delivered_mbps(mix)
    ops = r2_operations_by_bucket(wh, period.start, period.end)
    by_class = ops.groupby("op_class")["requests"].sum()
    storage = r2_storage_by_day(wh, period.start, period.end)
    last_day = storage[storage["date"] == storage["date"].max()] if len(storage) else storage
    inventory = r2_storage_by_class(wh)
    listing = listing_cost(wh, period.as_of)
    return {
        **period.as_dict(),
        "minutes_delivered": minutes,
        "delivered_mbps": float(mbps),  # a rate, not money: no dollar display
        "estimated_gb": round(float(egress_bytes(Decimal(str(minutes)), mbps) / GB), 3),
        "r2_class_a_requests": int(by_class.get("A", 0)),
        "r2_class_b_requests": int(by_class.get("B", 0)),
        "r2_free_requests": int(by_class.get("free", 0)),
        "r2_storage_gb_last_day": round(float(last_day["gb"].sum()), 3),
        "r2_storage_last_day": None if last_day.empty else last_day["date"].iloc[0].isoformat(),
        "r2_ia_gb": round(float(inventory.loc[inventory["storage_class"] == "STANDARD_IA",
                                              "gb"].sum()), 3),
        "listing_calls_last_run": listing["calls_last_run"],
        "listing_cost_last_run": listing["cost_last_run"],
        "listing_cost_per_month_daily": listing["cost_per_month_daily"],
        "listing_price_per_call": listing["price_per_call"],
    }
