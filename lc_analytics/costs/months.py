"""Billing months: a month's first day and the first day of the next."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from ..errors import UsageError


def month_bounds(month: date | str) -> tuple[date, date]:
    """First day of the month and first day of the next, from a date or 'YYYY-MM'.

    >>> month_bounds("2026-02")
    (datetime.date(2026, 2, 1), datetime.date(2026, 3, 1))
    """
    if isinstance(month, str):
        try:
            y, m = (int(x) for x in month.split("-")[:2])
            first = date(y, m, 1)
        except ValueError:
            raise UsageError(f"not a month (YYYY-MM): {month!r}") from None
    else:
        first = month.replace(day=1)
    days = calendar.monthrange(first.year, first.month)[1]
    return first, first + timedelta(days=days)
