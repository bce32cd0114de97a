"""The Cloudflare client: HTTP (REST + GraphQL) and S3 (R2), one retry loop each, and the
paginators with the one `paginate()` loop. `sources/` reads through it, `actions/` writes."""

from .http import CloudflareClient, Page
from .paginators import (
    ContinuationTokenPaginator,
    KeysetPaginator,
    Paginator,
    TimeCursorPaginator,
    paginate,
)
from .retry import Clock, RetryPolicy
from .s3 import R2Client

__all__ = ["Clock", "CloudflareClient", "ContinuationTokenPaginator", "KeysetPaginator", "Page",
           "Paginator", "R2Client", "RetryPolicy", "TimeCursorPaginator", "paginate"]
