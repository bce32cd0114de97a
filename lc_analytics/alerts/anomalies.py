"""Anomalies in daily cost and usage per meter, against a robust weekday-aware baseline.

Method (one day checked: the latest synced day D):

- The series are the allocation's (`costs.allocate`): per SKU (meter) and day, the quantity
  consumed and its cost from the pricing engine; per resource too, for the explanation.
  Storage SKUs (Stream prepaid capacity, R2 storage) are levels bought or held, not daily
  flows, and are left to the budgets and the runway check.
- Baseline: the median of the same weekday over the previous `weeks` weeks (D-7, D-14, ...),
  spread: their median absolute deviation (MAD, scaled by 1.4826 to match a standard
  deviation for normal data), floored at 10% of the median and at one unit. Why: live commerce
  runs on a weekly schedule (the big shows and planned jobs fall on the same weekdays), so the
  same weekday is the right comparison; medians and MAD ignore the one odd week that a mean
  and standard deviation would chase. A seasonal decomposition needs many more weeks than a
  young warehouse has, and is not robust to the spike it is meant to find.
- D is anomalous when its quantity exceeds the baseline by more than `z` spreads (default 4)
  and the excess, priced at D's own cost per unit from the allocation (free allowances and
  rounding applied as billed), is at least `min_usd` (default $1): noise and free-tier usage
  stay quiet. Only rises are reported (a drop costs nothing); at least 3 same-weekday values
  are needed.
- Explanation: each resource's excess over its own same-weekday median on D, largest first
  (the top 3, with their share of the meter's excess).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from ..costs.allocate import allocate_month
from ..costs.engine import month_bounds
from ..costs.pricebook import PriceBook
from ..warehouse import Warehouse

WEEKS = 4
Z = 4.0
MIN_USD = Decimal("1")
MAD_SCALE = 1.4826
LEVEL_SKUS = ("cf-stream-minutes-stored", "cf-r2-standard-storage", "cf-r2-ia-storage")


@dataclass(frozen=True)
class Driver:
    """One resource that drove an anomaly: its excess over its own baseline on the day."""

    resource_id: str
    excess_quantity: float
    share: float  # of the meter's excess


@dataclass(frozen=True)
class Anomaly:
    """One meter's anomalous day: quantity vs baseline, the dollar effect, its drivers."""

    sku_id: str
    service: str
    day: date
    unit: str
    quantity: float
    baseline: float
    spread: float
    cost: Decimal
    effect_usd: Decimal
    drivers: tuple[Driver, ...]


def month_rows(wh: Warehouse, month: date, day: date, book: PriceBook | None = None,
               cache: dict[date, pd.DataFrame] | None = None) -> pd.DataFrame:
    """`allocate_month(...).rows` of `month` through `day`, once per `cache` (one check
    allocates each month once, for the budgets and the anomalies alike)."""
    cache = {} if cache is None else cache
    if month not in cache:
        cache[month] = allocate_month(wh, month, book, through=day + timedelta(days=1)).rows
    return cache[month]


def daily_rows(wh: Warehouse, day: date, weeks: int = WEEKS, book: PriceBook | None = None,
               cache: dict[date, pd.DataFrame] | None = None) -> pd.DataFrame:
    """The allocation rows (date, sku_id, service, resource_id, consumed_quantity,
    consumed_unit, cost) of the days from `weeks` weeks before `day` through `day`."""
    first = day - timedelta(days=7 * weeks)
    months, m = [], month_bounds(first)[0]
    while m <= day:
        months.append(m)
        m = month_bounds(m)[1]
    frames = [month_rows(wh, m, day, book, cache) for m in months]
    rows = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(
        len(f) for f in frames) else pd.DataFrame(columns=["date", "sku_id"])
    if not len(rows):
        return rows
    rows["date"] = pd.to_datetime(rows["date"]).dt.date
    rows = rows[(rows["date"] >= first) & (rows["date"] <= day)]
    return rows[["date", "sku_id", "service", "resource_id", "consumed_quantity",
                 "consumed_unit", "cost"]].reset_index(drop=True)


def find_anomalies(rows: pd.DataFrame, day: date, weeks: int = WEEKS, z: float = Z,
                   min_usd: Decimal = MIN_USD) -> list[Anomaly]:
    """The anomalous meters of `day` in `daily_rows` output (see the module docstring).

    >>> rows = pd.DataFrame({"date": [date(2026, 6, d) for d in (2, 9, 16, 23, 30)],
    ...     "sku_id": "b", "service": "R2", "resource_id": "r", "consumed_unit": "requests",
    ...     "consumed_quantity": [100, 110, 90, 100, 5000],
    ...     "cost": [Decimal(1), Decimal(1), Decimal(1), Decimal(1), Decimal(50)]})
    >>> [(a.sku_id, a.baseline, a.effect_usd) for a in find_anomalies(rows, date(2026, 6, 30))]
    [('b', 100.0, Decimal('49.00'))]
    """
    if not len(rows):
        return []
    same = [day - timedelta(days=7 * k) for k in range(1, weeks + 1)]
    out = []
    for sku_id, grp in rows[~rows["sku_id"].isin(LEVEL_SKUS)].groupby("sku_id"):
        anomaly = _check_meter(str(sku_id), grp, day, same, z, min_usd)
        if anomaly is not None:
            out.append(anomaly)
    return sorted(out, key=lambda a: (-a.effect_usd, a.sku_id))


def _check_meter(sku_id: str, grp: pd.DataFrame, day: date, same: list[date], z: float,
                 min_usd: Decimal) -> Anomaly | None:
    per_day = grp.groupby("date")["consumed_quantity"].sum().astype(float)
    seen = [d for d in same if d >= grp["date"].min()]
    if len(seen) < 3:
        return None
    history = per_day.reindex(seen, fill_value=0.0).to_numpy()
    quantity = float(per_day.get(day, 0.0))
    baseline = float(np.median(history))
    spread = max(MAD_SCALE * float(np.median(np.abs(history - baseline))), 0.1 * baseline, 1.0)
    excess = quantity - baseline
    if quantity <= 0 or excess <= z * spread:
        return None
    cost = Decimal(sum(grp.loc[grp["date"] == day, "cost"], Decimal(0)))
    effect = (cost * Decimal(excess) / Decimal(quantity)).quantize(Decimal("0.01"))
    if effect < min_usd:
        return None
    return Anomaly(sku_id, str(grp["service"].iloc[0]), day, str(grp["consumed_unit"].iloc[0]),
                   quantity, baseline, spread, cost, effect, _drivers(grp, day, seen, excess))


def _drivers(grp: pd.DataFrame, day: date, seen: list[date], excess: float,
             top: int = 3) -> tuple[Driver, ...]:
    wide = grp.pivot_table(index="resource_id", columns="date", values="consumed_quantity",
                           aggfunc="sum", fill_value=0)
    wide.columns = list(wide.columns)
    today = wide[day].astype(float) if day in wide.columns else pd.Series(0.0, wide.index)
    past = wide.reindex(columns=seen, fill_value=0).astype(float)
    over = (today - past.median(axis=1)).sort_values(ascending=False)
    over = over[over >= 0.01 * excess].head(top)  # a resource under 1% explains nothing
    return tuple(Driver(str(r), float(q), float(q / excess)) for r, q in over.items())
