"""Cloudflare facts, each written once, with the reference section it comes from.

The sections are those of the project's Cloudflare reference (`cloudflare-api.md`): the API's
limits, the retention of the analytics datasets, the R2 operation classes, and the thresholds
the recommenders and the cost review use. Library code reads these names instead of repeating
the numbers; the sandbox keeps its own table on purpose (the two check each other), so it
never imports this module.

>>> MIN_SCHEDULED_DELETION_DAYS, RETENTION_DAYS_RANGE, STORAGE_BLOCK_MINUTES
(30, (30, 1096), 1000)
>>> r2_op_class("ListObjectsV2"), r2_op_class("GetObject"), r2_op_class("DeleteObject")
('A', 'B', 'free')
"""

from __future__ import annotations

from typing import Literal

# --- Stream API limits -----------------------------------------------------------------------
#: §1.3: a video's `scheduledDeletion` must be at least 30 days after its upload time.
MIN_SCHEDULED_DELETION_DAYS = 30
#: §1.4, §6: a live input's `deleteRecordingAfterDays` is accepted from 30 to 1096 days.
RETENTION_DAYS_RANGE: tuple[int, int] = (30, 1096)
#: §1.2 (list videos): the most videos one page returns.
LIST_VIDEOS_PAGE_SIZE = 1000
#: §3.1, §6: prepaid Stream storage is bought in blocks of 1,000 minutes.
STORAGE_BLOCK_MINUTES = 1000

# --- Analytics (GraphQL) -------------------------------------------------------------------
#: §2.1, §2.3: one Stream analytics query spans at most 31 days.
MAX_QUERY_WINDOW_DAYS = 31
#: §2.1: Stream analytics datasets are kept 90 days.
STREAM_ANALYTICS_RETENTION_DAYS = 90
#: §2.2: R2 analytics datasets are kept (and queryable) for the past 31 days.
R2_ANALYTICS_RETENTION_DAYS = 31
#: §2.1 [UNVERIFIED]: the `datetime` dimension's resolution and any narrower range for a query
#: grouped by it are not documented; the live-minutes sync asks one day per query (well inside
#: the 31 days) and floors `datetime` to the minute.
DATETIME_QUERY_DAYS = 1

# --- Rate limits ---------------------------------------------------------------------------
#: §1.9: REST, per user: 1,200 requests per 5 minutes (300 s).
REST_REQUESTS_PER_WINDOW = 1200
#: §2.3: GraphQL, per user: 300 queries per 5 minutes.
GRAPHQL_QUERIES_PER_WINDOW = 300
#: §1.9, §2.3: both limits count over a 5-minute window.
RATE_LIMIT_WINDOW_SECONDS = 300.0

# --- R2 ------------------------------------------------------------------------------------
#: §3.2: Infrequent Access objects are billed for at least 30 days.
IA_MINIMUM_STORAGE_DAYS = 30
#: §4: every bucket has a default rule aborting multipart uploads 7 days after they start.
DEFAULT_ABORT_MULTIPART_DAYS = 7
#: §3.2: the operation classes of the R2 pricing page.
R2_CLASS_A = frozenset({
    "ListBuckets", "PutBucket", "ListObjects", "ListObjectsV2", "PutObject", "CopyObject",
    "CompleteMultipartUpload", "CreateMultipartUpload", "LifecycleStorageTierTransition",
    "ListMultipartUploads", "UploadPart", "UploadPartCopy", "ListParts",
    "PutBucketEncryption", "PutBucketCors", "PutBucketLifecycleConfiguration",
})
R2_CLASS_B = frozenset({
    "HeadBucket", "HeadObject", "GetObject", "UsageSummary", "GetBucketEncryption",
    "GetBucketLocation", "GetBucketCors", "GetBucketLifecycleConfiguration",
})
R2_FREE = frozenset({"DeleteObject", "DeleteBucket", "AbortMultipartUpload"})
#: §3.2, §6: object reads (IA retrieval is charged on GetObject).
R2_READS = frozenset({"GetObject", "HeadObject"})
#: §3.2: requests refused for authentication or authorization are not billed.
NOT_BILLED_STATUS_CODES = frozenset({401, 403})

# --- Stream encodes ------------------------------------------------------------------------
#: §6: the recommended upload encodes: resolution -> (lines, Mbps).
RECOMMENDED_ENCODES: dict[str, tuple[int, float]] = {
    "1080p": (1080, 8.0), "720p": (720, 4.8), "480p": (480, 2.4), "360p": (360, 1.0)}

# --- Recommendation thresholds (the project's choices, not Cloudflare's) --------------------
#: Days of viewing the viewing rules read (Stream analytics keep 90 days, §2.1).
LOOKBACK_DAYS = STREAM_ANALYTICS_RETENTION_DAYS
#: Selectivity: an input whose recordings draw at most this share of on-demand minutes.
MAX_OD_SHARE = 0.01
#: Bitrate: the share of minutes from low-bandwidth countries that makes a lower ingest pay.
MIN_LOW_BANDWIDTH_SHARE = 0.60
#: Bitrate: a country's median bandwidth under this many Mbps is low.
LOW_BANDWIDTH_MBPS = 20.0
#: Bitrate: the encode proposed for a low-bandwidth audience.
LOW_BANDWIDTH_TARGET = "720p"
#: Runway: how far ahead prepaid capacity is projected.
HORIZON_DAYS = 90

# --- Zones (CDN), reference 8.1 ------------------------------------------------------------
#: Cache statuses that count as served from cache (exporters' reading, [3P]); `miss`,
#: `expired`, `bypass`, `dynamic`, `ignored` do not. Unknown statuses count as misses.
CACHE_HIT_STATUSES = frozenset({"hit", "stale", "updating", "revalidated"})
#: The daily rollup (httpRequests1dGroups) is kept 365 days on every plan (§8.1).
ZONE_DAILY_RETENTION_DAYS = 365
#: The Rulesets phase that holds a zone's cache rules (§8.1).
CACHE_RULES_PHASE = "http_request_cache_settings"


def is_cache_hit(status: str) -> bool:
    """Whether a `cacheStatus` counts as served from cache (§8.1), variants included.

    >>> is_cache_hit("hit"), is_cache_hit("revalidated"), is_cache_hit("miss")
    (True, True, False)
    """
    return status in CACHE_HIT_STATUSES or status.split("_")[0] in CACHE_HIT_STATUSES


def r2_op_class(action_type: str) -> Literal["A", "B", "free"]:
    """'A', 'B' or 'free' for an R2 action (§3.2).

    Actions not on the list are billed as Class A, the dearer class, so an unknown action
    can only overstate the bill. Requests refused with 401/403 are not billed at all
    (`NOT_BILLED_STATUS_CODES`); the cost model leaves them out before classing.
    """
    if action_type in R2_FREE:
        return "free"
    if action_type in R2_CLASS_B:
        return "B"
    return "A"


__all__ = [
    "CACHE_HIT_STATUSES", "CACHE_RULES_PHASE", "ZONE_DAILY_RETENTION_DAYS", "is_cache_hit",
    "DATETIME_QUERY_DAYS",
    "DEFAULT_ABORT_MULTIPART_DAYS", "GRAPHQL_QUERIES_PER_WINDOW", "HORIZON_DAYS",
    "IA_MINIMUM_STORAGE_DAYS", "LIST_VIDEOS_PAGE_SIZE", "LOOKBACK_DAYS", "LOW_BANDWIDTH_MBPS",
    "LOW_BANDWIDTH_TARGET", "MAX_OD_SHARE", "MAX_QUERY_WINDOW_DAYS",
    "MIN_LOW_BANDWIDTH_SHARE", "MIN_SCHEDULED_DELETION_DAYS", "NOT_BILLED_STATUS_CODES",
    "R2_ANALYTICS_RETENTION_DAYS", "R2_CLASS_A", "R2_CLASS_B", "R2_FREE", "R2_READS",
    "RATE_LIMIT_WINDOW_SECONDS", "RECOMMENDED_ENCODES", "REST_REQUESTS_PER_WINDOW",
    "RETENTION_DAYS_RANGE", "STORAGE_BLOCK_MINUTES", "STREAM_ANALYTICS_RETENTION_DAYS",
    "r2_op_class",
]
