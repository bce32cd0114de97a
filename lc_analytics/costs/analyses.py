"""Cost analyses over the warehouse, each a DataFrame with Decimal money.

- `month_to_date`: this month's cost so far and a forecast to month end, per SKU (forecast.py)
- `storage_runway`, `storage_runway_daily`: when Stream storage reaches its prepaid capacity
  (runway.py)
- `unit_costs`: per show, per 1,000 viewer-minutes, per GB-month in R2 (unit_costs.py)
- `aws_comparison`: the same month priced on S3 + CloudFront (comparison.py)

Each function's docstring states exactly how it is computed.

>>> from lc_analytics.costs.analyses import month_to_date, storage_runway
>>> from lc_analytics.warehouse import Warehouse
>>> wh = Warehouse("data/demo.duckdb", read_only=True)              # doctest: +SKIP
>>> storage_runway(wh)[["exhaustion_date", "days_until_exhaustion"]]  # doctest: +SKIP
"""

from .comparison import DEFAULT_MIX, RENDITION_MBPS, aws_comparison, egress_bytes
from .forecast import forecast_month, latest_synced_day, month_to_date
from .runway import storage_runway, storage_runway_daily
from .unit_costs import unit_costs

__all__ = [
    "DEFAULT_MIX",
    "RENDITION_MBPS",
    "aws_comparison",
    "egress_bytes",
    "forecast_month",
    "latest_synced_day",
    "month_to_date",
    "storage_runway",
    "storage_runway_daily",
    "unit_costs",
]
