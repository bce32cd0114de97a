"""The weekday-aware anomaly check on the planted anomaly and its weekly look-alike, across
seeds and end dates (the default end date's full pipeline is in test_alerts.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from lc_analytics.alerts import find_anomalies
from lc_analytics.sandbox import SimulatedAccount
from lc_analytics.sandbox.op_classes import operation_class


def _truth_rows(acct: SimulatedAccount, weeks: int = 4) -> pd.DataFrame:
    """The account's billable R2 requests of the last `weeks` weeks + 1 day, per day, billing
    class and resource (bucket/prefix for per-object reads, else the bucket), as
    `daily_rows` shapes them; cost 0 (the dollar gate is tested on the real pipeline)."""
    first = pd.Timestamp(acct.end - timedelta(days=7 * weeks), tz="UTC")
    ops = acct.r2_operations(first=first)
    ops = ops[~ops["response_status_code"].isin([401, 403])]
    per_object = ops["object_name"].ne("") & ops["action_type"].isin(["GetObject",
                                                                      "HeadObject"])
    prefix = ops["object_name"].str.split("/", n=1).str[0] + "/"
    return pd.DataFrame({
        "date": ops["date"].dt.date, "sku_id": ops["action_type"].map(operation_class),
        "service": "R2", "consumed_unit": "requests",
        "resource_id": np.where(per_object, ops["bucket"] + "/" + prefix, ops["bucket"]),
        "consumed_quantity": ops["requests"], "cost": Decimal(0)})


YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)  # SimulatedAccount.build's default


# seed 7 at 2026-06-30 (the tests' pinned end) runs the whole pipeline in test_alerts.py
@pytest.mark.parametrize(("seed", "end"), [(3, date(2026, 3, 14)), (11, date(2025, 12, 1)),
                                           (5, YESTERDAY)])
def test_the_planted_anomaly_is_caught_and_the_weekly_peak_left_alone(seed, end):
    acct = SimulatedAccount.build("small", seed=seed, end=end, days=36)
    anomaly, = [p for p in acct.planted if p.kind == "cost_anomaly" and not p.healthy]
    lookalike, = [p for p in acct.planted if p.kind == "cost_anomaly" and p.healthy]
    rows = _truth_rows(acct)
    found = find_anomalies(rows, end, min_usd=Decimal(0))
    assert [a.sku_id for a in found] == ["B"]
    b = found[0]
    assert b.drivers[0].resource_id == anomaly.target and b.drivers[0].share > 0.99
    extra = int(anomaly.detail.split(": ")[1].split(" extra")[0].replace(",", ""))
    day_b = rows[(rows["date"] == end) & (rows["sku_id"] == "B")]["consumed_quantity"].sum()
    assert b.quantity == day_b and day_b - extra < 4 * b.baseline + 100  # the rest is usual
    # The look-alike is real: its day towers over a plain 28-day median, but not over its
    # own weekday's.
    a_days = rows[rows["sku_id"] == "A"].groupby("date")["consumed_quantity"].sum()
    assert a_days[end] > 20 * a_days[a_days.index < end].median()
    assert lookalike.target in set(rows.loc[rows["sku_id"] == "A", "resource_id"])


def test_noise_and_small_effects_stay_quiet():
    days = [date(2026, 6, 2) + timedelta(days=7 * k) for k in range(5)]
    rows = pd.DataFrame({"date": days, "sku_id": "b", "service": "R2", "resource_id": "r",
                         "consumed_unit": "requests",
                         "consumed_quantity": [1000, 1300, 900, 1100, 1600],
                         "cost": [Decimal("2.00")] * 4 + [Decimal("3.20")]})
    assert find_anomalies(rows, days[-1]) == []  # within 4 spreads (MAD 100 -> 148; 10%)
    spike = rows.assign(consumed_quantity=[1000, 1300, 900, 1100, 9000],
                        cost=[Decimal("0.20")] * 4 + [Decimal("1.80")])
    assert find_anomalies(spike, days[-1], min_usd=Decimal("1.59")) != []
    assert find_anomalies(spike, days[-1], min_usd=Decimal("1.61")) == []  # a $1.59 effect
    assert find_anomalies(spike.iloc[2:], days[-1]) == []  # two weeks of history: too few
