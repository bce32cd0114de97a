"""The package's one exception tree; every library error a user can see derives from it.

    LcAnalyticsError
    ├── ConfigError              settings missing or malformed (names every bad setting)
    ├── UsageError               a bad argument: a command-line value or a function's (also
    │                            a ValueError, so `except ValueError` keeps working)
    ├── SandboxError             the simulator was asked for something it cannot build
    ├── ApiError                 a Cloudflare API call failed (carries status, codes, request)
    │   ├── AuthError            401/403: the token is wrong or lacks a permission
    │   ├── RateLimitError       429 after the retry budget was spent
    │   ├── QueryError           GraphQL rejected the query (errors array or 4xx)
    │   └── TransportError       timeouts and connection failures after retries
    ├── R2Error                  an S3-API call to R2 failed (botocore translated once)
    ├── PlanError                a plan cannot be applied as it is (stale, breaks an API rule)
    │   ├── EvidenceError        a recommendation's evidence lacks a value or has a wrong one
    │   └── PlanFileError        the plan file is missing, unreadable, malformed or edited
    ├── ReportError              a report run failed (bad parameter, failing cell)
    ├── CheckFailedError         a check ran and found a problem to act on (an alert not
    │                            delivered, an audit item failing)
    └── WarehouseError           the DuckDB warehouse could not be opened or written
        ├── WarehouseLockedError another process holds the write lock
        └── NotSyncedError       no warehouse yet, or no synced data for the day or month asked

Every class's `exit_code` is a key of `EXIT_CODES`, the one table of what `lc-analytics`
exits with; the README's table is `exit_code_table()` (a test keeps them equal).
"""

from __future__ import annotations

from typing import Any

#: every exit code of `lc-analytics` and what causes it
EXIT_CODES: dict[int, str] = {
    0: "the command succeeded",
    1: "an unexpected error, a bug (one line; `-v` prints the traceback)",
    2: "bad settings or a bad command-line value (the message names each); argparse's "
       "usage errors",
    3: "a Cloudflare API or R2 call failed after its retries (server errors, rate limits, "
       "connections refused: the message names the setting to check)",
    4: "the API token was refused or lacks a permission (the message names it)",
    5: "the warehouse could not be opened, migrated or written, or another process holds it",
    6: "the plan cannot be applied: the account changed since it was made (stale), it was "
       "made for another account, or it breaks an API rule",
    7: "a report run failed (unknown report or parameter, failing cell); a good report of "
       "the same date is kept",
    8: "nothing synced for what was asked: no warehouse at the path, a day before the "
       "synced data, or a month the warehouse does not fully cover",
    9: "the plan file is missing, unreadable, not a plan, or was edited after it was made",
    10: "a check ran and found a problem: `alerts check` could not deliver a message (it "
        "stays pending and is sent by the next run), or an `audit` item fails (the output "
        "says which)",
    130: "interrupted (Ctrl-C)",
}


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


class UsageError(LcAnalyticsError, ValueError):
    """An argument cannot be used as given: a command-line value (e.g. `--since` in the
    future) or a public function's (an unknown format, a month that is not YYYY-MM).

    It is a ValueError too, so no plain ValueError or TypeError for bad input leaves the API
    and callers that catch ValueError still catch it.
    """

    exit_code = 2


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


class EvidenceError(PlanError):
    """A recommendation's evidence lacks a value its kind always records, or holds one of the
    wrong type (a plan file edited by hand, or written by another version)."""


class PlanFileError(PlanError):
    """The plan file is missing, unreadable, not a plan, or was edited after it was made."""

    exit_code = 9


class ReportError(LcAnalyticsError):
    """A report run failed; `context` names the report and, for a failing cell, the cell.

    Context keys: `report`; for a failing cell also `cell_index` (0-based, in the source
    notebook), `cell_first_line`, `ename`, `evalue` and `notebook` (the partial executed
    notebook, kept in the failed run's folder).
    """

    exit_code = 7


class CheckFailedError(LcAnalyticsError):
    """A check ran to the end and found a problem to act on; its output was printed first."""

    exit_code = 10


class WarehouseError(LcAnalyticsError):
    """The DuckDB warehouse could not be opened, migrated or written."""

    exit_code = 5


class WarehouseLockedError(WarehouseError):
    """Another process holds the warehouse's write lock."""


class NotSyncedError(WarehouseError):
    """No warehouse at the path yet, or no synced data for the day or month asked."""

    exit_code = 8


def exit_code_table() -> str:
    """The README's table of exit codes: code, the errors that exit with it, the cause.

    >>> print(exit_code_table().splitlines()[0])
    | Exit code | Raised as | Cause |
    """
    classes: dict[int, list[str]] = {}
    todo: list[type[LcAnalyticsError]] = [LcAnalyticsError]
    while todo:
        cls = todo.pop(0)
        if cls.__module__ == __name__:  # the tree drawn above (not a module's own subclass)
            classes.setdefault(cls.exit_code, []).append(f"`{cls.__name__}`")
        todo.extend(sorted(cls.__subclasses__(), key=lambda c: c.__name__))
    extra = {2: "argparse", 130: "KeyboardInterrupt"}
    lines = ["| Exit code | Raised as | Cause |", "|---|---|---|"]
    for code, cause in EXIT_CODES.items():
        raised = classes.get(code, []) + ([extra[code]] if code in extra else [])
        lines.append(f"| {code} | {', '.join(raised) or '-'} | {cause} |")
    return "\n".join(lines)
