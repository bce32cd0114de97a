"""Which days the warehouse covers: moved to `lc_analytics.readmodel.coverage`.

Re-exported here for the callers not yet switched (cli, reports, recommend).
"""

from __future__ import annotations

from ..readmodel.coverage import (  # moved to readmodel
    BILLED_SOURCES,
    check_as_of,
    check_months,
    covered_days,
    first_days,
)

__all__ = ["BILLED_SOURCES", "check_as_of", "check_months", "covered_days", "first_days"]
