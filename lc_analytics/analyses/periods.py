"""The days a viewer or bandwidth report covers: an inclusive period and its as-of day.

The as-of day defaults to the read model's `synced_through`: the same day under papermill,
in JupyterLab and in the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .. import readmodel
from ..errors import ReportError
from ..warehouse import Warehouse

__all__ = ["DEFAULT_DAYS", "DateLike", "Period", "data_through", "resolve_period", "to_date"]

DEFAULT_DAYS = 30  # the default period: the 30 days ending with as_of

DateLike = date | str | None


@dataclass(frozen=True)
class Period:
    """The days a report covers (inclusive) and the day it is as of.

    >>> p = Period(date(2026, 6, 1), date(2026, 6, 30), date(2026, 6, 30)); p.days
    30
    """

    start: date
    end: date
    as_of: date

    @property
    def days(self) -> int:
        """Number of days in the period."""
        return (self.end - self.start).days + 1

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d} .. {self.end:%Y-%m-%d} ({self.days} days, as of " \
               f"{self.as_of:%Y-%m-%d})"

    def as_dict(self) -> dict[str, str]:
        """ISO dates, for a summary."""
        return {"period_start": self.start.isoformat(), "period_end": self.end.isoformat(),
                "as_of": self.as_of.isoformat()}


def to_date(value: DateLike) -> date | None:
    """A date from a date, a datetime or an ISO string (None stays None).

    >>> to_date("2026-06-30"), to_date(None)
    (datetime.date(2026, 6, 30), None)
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ReportError(f"not a date (YYYY-MM-DD): {value!r}") from None


def data_through(wh: Warehouse) -> date:
    """The last day the warehouse holds whole (`readmodel.synced_through`; NotSyncedError
    before any sync).

    >>> data_through(Warehouse("data/demo.duckdb", read_only=True))   # doctest: +SKIP
    datetime.date(2026, 6, 30)
    """
    return readmodel.synced_through(wh)


def resolve_period(wh: Warehouse, period_start: DateLike = None, period_end: DateLike = None,
                   as_of: DateLike = None, *, days: int = DEFAULT_DAYS) -> Period:
    """The report's period from the notebook parameters (each may be None).

    as_of defaults to `data_through(wh)`, clipped to period_end when one is given; the
    period ends at period_end (never after as_of) and starts `days` - 1 days earlier unless
    period_start is given.

    >>> resolve_period(wh, None, None, "2026-06-30")                 # doctest: +SKIP
    Period(start=datetime.date(2026, 6, 1), end=datetime.date(2026, 6, 30), ...)
    """
    start, end, when = to_date(period_start), to_date(period_end), to_date(as_of)
    if when is None:
        when = data_through(wh)
        if end is not None:
            when = min(when, end)
    end = when if end is None else min(end, when)
    if start is None:
        start = end - timedelta(days=days - 1)
    if start > end:
        raise ReportError(f"the period starts after it ends: {start} > {end} (as of {when})")
    return Period(start, end, when)
