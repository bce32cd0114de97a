"""The cost review's recommendation tables, as `lc_analytics.recommend` explains them.

The functions live in `lc_analytics.recommend` (explanation.py and charts.py); this module
re-exports them for notebooks written against `reports.costs_data`.
"""

from __future__ import annotations

from ..recommend.charts import ingest_vs_audience, on_demand_share, r2_age_profile
from ..recommend.explanation import (
    KIND_TITLES,
    next_steps,
    ranked,
    recommendation_table,
    recommendations_markdown,
    target_names,
)

__all__ = ["KIND_TITLES", "ingest_vs_audience", "next_steps", "on_demand_share",
           "r2_age_profile", "ranked", "recommendation_table", "recommendations_markdown",
           "target_names"]
