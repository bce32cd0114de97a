"""Unit costs of one month: per show, per 1,000 viewer-minutes, per GB-month kept in R2."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd

from ..readmodel import live_inputs, videos
from ..warehouse import Warehouse
from .allocate import allocate_month
from .engine import month_bounds
from .pricebook import PriceBook, load_book

NOT_A_LIVE_INPUT = "(not attributable to a live input)"
_COLUMNS = ["metric", "scope", "live_input_uid", "numerator_cost", "numerator", "denominator",
            "denominator_unit", "unit_cost"]


def unit_costs(wh: Warehouse, month: date | str, book: PriceBook | None = None) -> pd.DataFrame:
    """The month's bill divided by what it bought, numerator and denominator side by side.

    How it is computed: the bill and its split per resource are `allocate_month(wh, month,
    book)` (the engine's bill of the warehouse's usage; a month not yet over runs through the
    last synced day), so these numbers agree with the showback and FOCUS rows.

    - cost per show: a show is a live recording (a video with a live input), counted in the
      month its recording was created (shows of an input with recording off leave no video
      and are not counted). Overall: the whole bill / all shows. Per live input: the
      allocation rows carrying that live input (Stream delivery of its recordings and of its
      live playback, Stream storage of its recordings) / its shows. What no live input
      carries (uploads, unused prepaid capacity, videos never listed, all of R2) is one more
      row without shows, so the per-input numerators plus that row add up to the bill exactly.
    - cost per 1,000 viewer-minutes: the whole bill, and the Stream delivery line alone, over
      the minutes delivered on the bill / 1,000.
    - cost per GB-month stored in R2: the R2 storage lines, and all R2 lines, over the
      GB-months consumed on the bill (decimal GB, before rounding and the free allowance,
      Standard and Infrequent Access together).
    - unit_cost = numerator_cost / denominator, Decimal; None when the denominator is 0.

    >>> unit_costs(Warehouse("data/demo.duckdb", read_only=True), "2026-06")  # doctest: +SKIP
    """
    book = book or load_book("cloudflare")
    first, _ = month_bounds(month)
    alloc = allocate_month(wh, first, book)
    bill = alloc.bill
    meter = {li.sku_id: book.price(li.sku_id, first).meter for li in bill.line_items}
    rows = _per_show(wh, alloc.rows, bill.total, first, alloc.through)

    delivery = [li for li in bill.line_items if meter[li.sku_id] == "stream_delivery"]
    minutes = sum((li.consumed_quantity for li in delivery), Decimal(0))
    rows += [
        _row("cost per 1,000 viewer-minutes", "whole bill", None, bill.total, "all SKUs",
             minutes / 1000, "1,000 minutes delivered"),
        _row("cost per 1,000 viewer-minutes", "Stream delivery", None, _sum(delivery),
             ", ".join(li.sku_id for li in delivery), minutes / 1000,
             "1,000 minutes delivered"),
    ]
    r2 = [li for li in bill.line_items if li.service == "R2"]
    storage = [li for li in r2 if meter[li.sku_id] == "object_storage"]
    gbm = sum((li.consumed_quantity for li in storage), Decimal(0))
    rows += [
        _row("cost per GB-month stored in R2", "R2 storage", None, _sum(storage),
             ", ".join(li.sku_id for li in storage), gbm, "GB-month (10^9 bytes)"),
        _row("cost per GB-month stored in R2", "all R2 charges", None, _sum(r2),
             "all R2 SKUs", gbm, "GB-month (10^9 bytes)"),
    ]
    return pd.DataFrame(rows, columns=_COLUMNS)


def _per_show(wh: Warehouse, rows: pd.DataFrame, total: Decimal, first: date,
              through: date) -> list[dict]:
    inputs = live_inputs(wh, history=True)
    v = videos(wh, history=True)
    lo, hi = (pd.Timestamp(d, tz="UTC") for d in (first, through))
    made = v[v["live_input_uid"].notna() & (v["created"] >= lo) & (v["created"] < hi)]
    counts = made.groupby("live_input_uid").size().to_dict()
    names = dict(zip(inputs["uid"], inputs["name"], strict=True))
    carried = rows[rows["live_input_uid"].notna()]
    cost = {uid: _sum(grp["cost"]) for uid, grp in carried.groupby("live_input_uid")}
    uids = sorted(set(names) | set(cost) | set(counts))
    out = [_row("cost per show", "all shows", None, total, "whole bill",
                Decimal(int(sum(counts.values()))), "shows")]
    for uid in uids:
        out.append(_row("cost per show", names.get(uid) or uid, uid, cost.get(uid, Decimal(0)),
                        "allocated Stream delivery and storage",
                        Decimal(int(counts.get(uid, 0))), "shows"))
    rest = total - sum(cost.values(), Decimal(0))
    out.append(_row("cost per show", NOT_A_LIVE_INPUT, None, rest,
                    "uploads, unused capacity, unlisted videos, R2", Decimal(0), "shows"))
    return out


def _sum(items) -> Decimal:
    return sum((getattr(x, "cost", x) for x in items), Decimal(0))


def _row(metric: str, scope: str, uid: str | None, cost: Decimal, numerator: str,
         denominator: Decimal, unit: str) -> dict:
    return {"metric": metric, "scope": scope, "live_input_uid": uid, "numerator_cost": cost,
            "numerator": numerator, "denominator": denominator, "denominator_unit": unit,
            "unit_cost": cost / denominator if denominator else None}
