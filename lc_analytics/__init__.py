"""lc_analytics: Cloudflare Stream + R2 analytics and costs for a live-commerce platform."""

from .errors import (
    ApiError,
    AuthError,
    ConfigError,
    LcAnalyticsError,
    NotSyncedError,
    PlanError,
    PlanFileError,
    QueryError,
    R2Error,
    RateLimitError,
    ReportError,
    SandboxError,
    TransportError,
    UsageError,
    WarehouseError,
    WarehouseLockedError,
)
from .money import format_usd
from .settings import Secret, Settings

__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "AuthError",
    "ConfigError",
    "LcAnalyticsError",
    "NotSyncedError",
    "PlanError",
    "PlanFileError",
    "QueryError",
    "R2Error",
    "RateLimitError",
    "ReportError",
    "SandboxError",
    "Secret",
    "Settings",
    "TransportError",
    "UsageError",
    "WarehouseError",
    "WarehouseLockedError",
    "__version__",
    "format_usd",
]
