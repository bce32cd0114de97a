"""Domain analyses behind the viewers and bandwidth reports, over the read model only.

    >>> from lc_analytics.analyses import resolve_period, minutes_by_day
    >>> p = resolve_period(wh)                                         # doctest: +SKIP
    >>> minutes_by_day(wh, p.start, p.end)                             # doctest: +SKIP
"""

from .bandwidth import (
    bandwidth_headline,
    delivered_mbps,
    delivery_by_day,
    listing_calls,
    listing_cost,
    listing_price,
    r2_operations,
    r2_operations_by_action,
    r2_operations_by_bucket,
    r2_operations_by_day,
    r2_storage_by_class,
    r2_storage_by_day,
    rendition_mix,
)
from .cdn import (
    cache_hit_ratio,
    error_rates,
    origin_offload,
    rule_status,
    traffic_by,
    traffic_by_country,
    zone_headline,
)
from .periods import DEFAULT_DAYS, Period, data_through, resolve_period, to_date
from .shows import ShowSummary, latest_recording, show_summary
from .viewers import (
    DEFAULT_MAX_AGE,
    LIVE,
    ON_DEMAND,
    minutes_by_age,
    minutes_by_broadcaster,
    minutes_by_country,
    minutes_by_day,
    minutes_by_show,
    on_demand_percentiles,
    on_demand_within,
    top_recordings,
    viewers_headline,
)

__all__ = [
    "DEFAULT_DAYS", "DEFAULT_MAX_AGE", "LIVE", "ON_DEMAND", "Period", "ShowSummary",
    "bandwidth_headline", "data_through", "delivered_mbps", "delivery_by_day", "latest_recording",
    "listing_calls", "listing_cost", "listing_price", "minutes_by_age", "minutes_by_broadcaster",
    "minutes_by_country", "minutes_by_day", "minutes_by_show", "on_demand_percentiles",
    "on_demand_within", "r2_operations", "r2_operations_by_action", "r2_operations_by_bucket",
    "r2_operations_by_day", "r2_storage_by_class", "r2_storage_by_day", "rendition_mix",
    "resolve_period", "show_summary", "to_date", "top_recordings", "viewers_headline",
    # CDN (zones)
    "cache_hit_ratio", "error_rates", "origin_offload", "rule_status", "traffic_by",
    "traffic_by_country", "zone_headline",
]
