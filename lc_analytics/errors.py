"""The package's one exception tree; every library error a user can see derives from it.

    LcAnalyticsError
    ├── ConfigError              settings missing or malformed (names every bad setting)
    ├── SandboxError             the simulator was asked for something it cannot build
    ├── ApiError                 a Cloudflare API call failed (carries status, codes, request)
    │   ├── AuthError            401/403: the token is wrong or lacks a permission
    │   ├── RateLimitError       429 after the retry budget was spent
    │   ├── QueryError           GraphQL rejected the query (errors array or 4xx)
    │   └── TransportError       timeouts and connection failures after retries
    ├── R2Error                  an S3-API call to R2 failed (botocore translated once)
    ├── PlanError                a plan cannot be applied as it is (stale, breaks an API rule)
    └── WarehouseError           the DuckDB warehouse could not be opened or written
        └── WarehouseLockedError another process holds the write lock
"""

from __future__ import annotations

from typing import Any


class LcAnalyticsError(Exception):
    """Base class of every error raised by lc_analytics."""

    exit_code = 1

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    def __str__(self) -> str:
        return self.message


class ConfigError(LcAnalyticsError):
    """Settings are missing or malformed; the message names every problem."""

    exit_code = 2

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid settings ({len(self.problems)} problem(s)):\n{lines}")


class SandboxError(LcAnalyticsError):
    """The simulator was asked for something it cannot build."""

    exit_code = 2


class ApiError(LcAnalyticsError):
    """A Cloudflare API call failed."""

    exit_code = 3

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        codes: list[int] | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, status=status, codes=codes or [], method=method, url=url)
        self.status = status
        self.codes = codes or []
        self.method = method
        self.url = url


class AuthError(ApiError):
    """The token was refused (401/403): wrong token or a missing permission."""

    exit_code = 4


class RateLimitError(ApiError):
    """The API kept answering 429 after the retry budget was spent."""


class QueryError(ApiError):
    """GraphQL rejected the query: an `errors` array or a 4xx answer."""


class TransportError(ApiError):
    """Timeouts or connection failures persisted after retries."""


class R2Error(LcAnalyticsError):
    """An S3-API call to R2 failed."""

    exit_code = 3


class PlanError(LcAnalyticsError):
    """A plan cannot be applied as it is: the account changed since, or a rule forbids it."""

    exit_code = 6


class WarehouseError(LcAnalyticsError):
    """The DuckDB warehouse could not be opened, migrated or written."""

    exit_code = 5


class WarehouseLockedError(WarehouseError):
    """Another process holds the warehouse's write lock."""
