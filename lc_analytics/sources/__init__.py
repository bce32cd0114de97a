"""Sources: one module per API, each yielding plain records; none knows about DuckDB."""

from .http import Clock, CloudflareClient, RetryPolicy

__all__ = ["Clock", "CloudflareClient", "RetryPolicy"]
