"""What Cloudflare billed, per month and metric, from `billed_usage` (the billable-usage API).

Sums are exact: DuckDB adds the DECIMAL columns and hands them over as text, read back as
`Decimal` (a DataFrame would turn them into floats).
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from ..warehouse import Warehouse

_MONTHLY = """
SELECT CAST(date_trunc('month', ChargePeriodStart) AS DATE) AS month,
       metric,
       coalesce(any_value(x_ProductFamilyName), any_value(ServiceFamilyName), '') AS product,
       coalesce(any_value(x_BillableMetricName), any_value(ServiceName), metric) AS name,
       any_value(ConsumedUnit) AS consumed_unit,
       any_value(api_version) AS api_version,
       CAST(sum(ConsumedQuantity) AS VARCHAR) AS quantity_sum,
       CAST(max(ConsumedQuantity) AS VARCHAR) AS quantity_max,
       CAST(sum(PricingQuantity) AS VARCHAR) AS pricing_quantity,
       CAST(sum(BilledCost) AS VARCHAR) AS billed_cost,
       CAST(sum(ListCost) AS VARCHAR) AS list_cost,
       CAST(min(ChargePeriodStart) AS DATE) AS first_day,
       CAST(max(ChargePeriodStart) AS DATE) AS last_day,
       count(DISTINCT CAST(ChargePeriodStart AS DATE)) AS days
FROM billed_usage
GROUP BY 1, 2
ORDER BY month, product, metric
"""
_DECIMALS = ("quantity_sum", "quantity_max", "pricing_quantity", "billed_cost", "list_cost")


def billed_monthly(wh: Warehouse) -> pd.DataFrame:
    """Per month and billed metric: month (first day), metric, product, name, consumed_unit,
    api_version, quantity_sum, quantity_max, pricing_quantity, billed_cost, list_cost
    (Decimal), first_day, last_day (dates), days (charge days present).

    >>> billed_monthly(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    df = wh.query(_MONTHLY)
    for col in _DECIMALS:
        df[col] = [_exact(v) for v in df[col]]
    for col in ("month", "first_day", "last_day"):
        df[col] = pd.to_datetime(df[col]).dt.date
    return df


def _exact(text: str | None) -> Decimal:
    """DuckDB's DECIMAL text as a Decimal without trailing zeros ('1.500' -> 1.5, '2.00' -> 2).

    >>> _exact("12.364490000"), _exact("200.000"), _exact(None)
    (Decimal('12.36449'), Decimal('200'), Decimal('0'))
    """
    if text is None:
        return Decimal(0)
    value = Decimal(text)
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
