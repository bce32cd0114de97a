"""What Cloudflare would bill the simulated account, day by day (the billable-usage API's truth).

The sandbox prices its own truth here with its OWN copy of the prices and billing rules
(reference sections 3 and 6), never with `lc_analytics.costs`: the reconciliation compares
the toolkit's engine with these rows, so the two check each other.

Each metric's month accrues like an invoice: a day's `BilledCost` is the month-to-date cost
through that day minus the month-to-date cost through the day before, so a month's daily rows
add up exactly to its monthly charge (whole billing units rounded up, free allowances once a
month). Two differences are planted for the reconciliation to find:

- `contract_price`: Stream minutes delivered are billed at a contract price (`CONTRACT_PRICE`
  per 1,000 minutes instead of the list $1.00) from the first day of a month near the end of
  the history (`contract_from`);
- `uncovered_product`: the account also uses Cloudflare Images (images delivered), a product
  the toolkit's price book does not model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from .account import SimulatedAccount
from .simulator import Planted

CONTRACT_PRICE = Decimal("0.80")  # per 1,000 minutes delivered, from `contract_from`
BYTES_PER_GB = Decimal(10**9)


@dataclass(frozen=True)
class Metric:
    """One billable metric as the sandbox prices it (its own copy of Cloudflare's rules)."""

    id: str
    name: str
    family: str
    consumed_unit: str
    pricing_unit: str
    block: int
    price: Decimal
    free: int = 0
    round_up: bool = True


METRICS = {m.id: m for m in (
    Metric("stream-minutes-delivered", "Stream Minutes Delivered", "Stream", "Minutes",
           "1,000 Minutes", 1000, Decimal("1.00"), round_up=False),
    Metric("stream-minutes-stored", "Stream Minutes Stored", "Stream", "Minutes",
           "1,000 Minutes", 1000, Decimal("5.00")),
    Metric("r2-storage-standard", "R2 Storage Standard", "R2", "GB-month", "GB-month", 1,
           Decimal("0.015"), free=10),
    Metric("r2-storage-ia", "R2 Storage Infrequent Access", "R2", "GB-month", "GB-month", 1,
           Decimal("0.01")),
    Metric("r2-class-a-standard", "R2 Class A Operations Standard", "R2", "Requests",
           "1,000,000 Requests", 1_000_000, Decimal("4.50"), free=1_000_000),
    Metric("r2-class-b-standard", "R2 Class B Operations Standard", "R2", "Requests",
           "1,000,000 Requests", 1_000_000, Decimal("0.36"), free=10_000_000),
    Metric("r2-class-a-ia", "R2 Class A Operations Infrequent Access", "R2", "Requests",
           "1,000,000 Requests", 1_000_000, Decimal("9.00")),
    Metric("r2-class-b-ia", "R2 Class B Operations Infrequent Access", "R2", "Requests",
           "1,000,000 Requests", 1_000_000, Decimal("0.90")),
    Metric("r2-ia-retrieval", "R2 Data Retrieval Infrequent Access", "R2", "GB", "GB", 1,
           Decimal("0.01")),
    Metric("images-delivered", "Images Delivered", "Images", "Images", "100,000 Images",
           100_000, Decimal("1.00"), round_up=False),
)}
_OPS = {("A", "STANDARD"): "r2-class-a-standard", ("B", "STANDARD"): "r2-class-b-standard",
        ("A", "STANDARD_IA"): "r2-class-a-ia", ("B", "STANDARD_IA"): "r2-class-b-ia"}
_STORAGE = {"STANDARD": "r2-storage-standard", "STANDARD_IA": "r2-storage-ia"}


def contract_from(account: SimulatedAccount) -> date:
    """The day the delivery contract price starts: the 1st of the month 20 days before the
    account's original last day (fixed when the clock moves)."""
    original_end = account.start + timedelta(days=account.days - 1)
    return (original_end - timedelta(days=20)).replace(day=1)


def planted(account: SimulatedAccount) -> list[Planted]:
    """The billing differences planted in the account's bill."""
    return [
        Planted("contract_price", "stream-minutes-delivered", False,
                f"minutes delivered billed at {CONTRACT_PRICE} per 1,000 from "
                f"{contract_from(account)} (list price 1.00)"),
        Planted("uncovered_product", "images-delivered", False,
                "Cloudflare Images delivered: a product the toolkit's price book does not cover"),
    ]


def daily_usage(account: SimulatedAccount, first: date, last: date) -> pd.DataFrame:
    """Consumed quantity per day and metric over [first, last] (days of the account only).

    Columns: date (datetime.date), metric, quantity (Decimal, in the consumed unit)."""
    truth = account.ground_truth(first, last)
    rows: list[tuple[date, str, Decimal]] = []
    for r in truth.minutes_viewed_daily.itertuples():
        rows.append((r.date.date(), "stream-minutes-delivered", Decimal(int(r.minutes_viewed))))
    for r in truth.stored_minutes_daily.itertuples():
        rows.append((r.date.date(), "stream-minutes-stored", Decimal(int(r.capacity_minutes))))
    days_in: dict[date, int] = {}
    for r in truth.r2_storage_daily_by_class.groupby(["date", "storage_class"],
                                                     as_index=False)["bytes"].sum().itertuples():
        day = r.date.date()
        n = days_in.setdefault(day, _days_in_month(day))
        rows.append((day, _STORAGE[r.storage_class],
                     Decimal(int(r.bytes)) / BYTES_PER_GB / n))
    ops = truth.r2_billing_operations
    ops = ops[ops["op_class"].isin(["A", "B"])]
    for r in ops.groupby(["date", "op_class", "storage_class"],
                         as_index=False)["requests"].sum().itertuples():
        rows.append((r.date.date(), _OPS[(r.op_class, r.storage_class)],
                     Decimal(int(r.requests))))
    for r in truth.r2_ia_retrieval_daily.groupby("date", as_index=False)["bytes"].sum() \
            .itertuples():
        rows.append((r.date.date(), "r2-ia-retrieval", Decimal(int(r.bytes)) / BYTES_PER_GB))
    for day, n in _images(account, truth.start, truth.end):
        rows.append((day, "images-delivered", Decimal(n)))
    return pd.DataFrame(rows, columns=["date", "metric", "quantity"])


def billed_rows(account: SimulatedAccount, first: date, last: date) -> pd.DataFrame:
    """The billed rows of the days [first, last]: date, metric, quantity, pricing_quantity,
    billed_cost, list_cost (Decimal). Each month accrues from its first day (or the
    account's), so a window's rows are the same whatever window asked for them."""
    lo = max(first, account.start)
    hi = min(last, account.end)
    if hi < lo:
        return pd.DataFrame(columns=["date", "metric", "quantity", "pricing_quantity",
                                     "billed_cost", "list_cost"])
    usage = daily_usage(account, lo.replace(day=1), hi)
    usage["month"] = [d.replace(day=1) for d in usage["date"]]
    contract = contract_from(account)
    out = []
    for (_, metric_id), grp in usage.sort_values("date").groupby(["month", "metric"]):
        metric = METRICS[metric_id]
        before = _Accrual()
        for day, qty in zip(grp["date"], grp["quantity"], strict=True):
            now = before.add(metric, qty, day >= contract)
            if lo <= day <= hi:
                out.append({"date": day, "metric": metric_id, "quantity": qty,
                            "pricing_quantity": now.units - before.units,
                            "billed_cost": now.billed - before.billed,
                            "list_cost": now.listed - before.listed})
            before = now
    return pd.DataFrame(out, columns=["date", "metric", "quantity", "pricing_quantity",
                                      "billed_cost", "list_cost"])


@dataclass(frozen=True)
class _Accrual:
    """A metric's month to date: consumed quantity (sum, or peak for capacity), units, cost."""

    quantity: Decimal = Decimal(0)
    units: Decimal = Decimal(0)
    billed: Decimal = Decimal(0)
    listed: Decimal = Decimal(0)

    def add(self, metric: Metric, qty: Decimal, contract: bool) -> _Accrual:
        peak = metric.id == "stream-minutes-stored"  # capacity: the most held on a day
        total = max(self.quantity, qty) if peak else self.quantity + qty
        if metric.round_up:
            units = max(Decimal(math.ceil(total / metric.block))
                        - Decimal(math.ceil(Decimal(metric.free) / metric.block)), Decimal(0))
            listed = units * metric.price
            return _Accrual(total, units, listed, listed)
        day_units = qty / metric.block
        price = CONTRACT_PRICE if contract and metric.id == "stream-minutes-delivered" \
            else metric.price
        return _Accrual(total, self.units + day_units, self.billed + day_units * price,
                        self.listed + day_units * metric.price)


def _days_in_month(day: date) -> int:
    nxt = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (nxt - day.replace(day=1)).days


def _images(account: SimulatedAccount, first: date, last: date) -> list[tuple[date, int]]:
    """Images delivered per day: a storefront's product images, drawn from the seed."""
    days = pd.date_range(account.start, account.horizon_end, freq="D")
    rng = np.random.default_rng([account.seed, 4242])
    counts = rng.poisson(38_000, len(days)) + np.where(days.day_of_week >= 5, 12_000, 0)
    return [(d.date(), int(n)) for d, n in zip(days, counts, strict=True)
            if first <= d.date() <= last]
