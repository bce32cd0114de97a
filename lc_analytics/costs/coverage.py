"""Which days the warehouse covers: the one check that an as-of day or a month was synced."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import pandas as pd

from ..errors import NotSyncedError
from ..warehouse import Warehouse
from .engine import month_bounds
from .usage import last_synced_day

#: the daily usage tables a bill is made of (dense: a row for every synced day)
DAILY_TABLES = ("minutes_viewed_daily", "r2_storage_daily", "r2_operations_daily")


def first_days(wh: Warehouse) -> list[date]:
    """The first day of each daily usage table that has rows (empty: nothing synced)."""
    firsts = wh.query("SELECT " + ", ".join(
        f"(SELECT min(date) FROM {t}) AS {t}" for t in DAILY_TABLES)).iloc[0]
    return [pd.Timestamp(v).date() for v in firsts if not pd.isna(v)]


def covered_days(wh: Warehouse) -> tuple[date, date]:
    """[first, through): the days every daily usage table with rows covers.

    Coverage starts on the latest first day of those tables (a month only partly in one of
    them would be understated) and ends the day after the last day every daily source has
    synced. Raises NotSyncedError when no daily usage was synced yet.

    >>> covered_days(Warehouse("data/demo.duckdb", read_only=True))    # doctest: +SKIP
    (datetime.date(2026, 5, 31), datetime.date(2026, 7, 1))
    """
    last, known = last_synced_day(wh), first_days(wh)
    if last is None or not known:
        raise NotSyncedError(f"{wh.path}: no daily usage synced yet; run `lc-analytics sync`",
                             path=str(wh.path))
    return max(known), last + timedelta(days=1)


def check_as_of(wh: Warehouse, as_of: date | str) -> date:
    """`as_of` as a date, refused (NotSyncedError) when it is before any synced day.

    >>> check_as_of(wh, "2020-01-01")                                   # doctest: +SKIP
    NotSyncedError: ... holds no data before 2026-04-01: ...
    """
    day = pd.Timestamp(as_of).date()
    known = first_days(wh)
    if not known:
        raise NotSyncedError(f"{wh.path}: no daily usage synced yet; run `lc-analytics sync`",
                             path=str(wh.path))
    if day < min(known):
        raise NotSyncedError(f"as of {day}: the warehouse {wh.path} holds no data before "
                             f"{min(known)} (its first synced day); choose a later --as-of",
                             path=str(wh.path), as_of=day.isoformat())
    return day


def check_months(wh: Warehouse, months: Iterable[date | str]) -> None:
    """Refuse (NotSyncedError) any month the warehouse does not cover from first to last day.

    >>> check_months(wh, ["2026-05"])                                    # doctest: +SKIP
    NotSyncedError: 2026-05 is not fully covered: the warehouse covers 2026-05-31 to ...
    """
    first, through = covered_days(wh)
    partial = []
    for month in months:
        lo, hi = month_bounds(month)
        if lo < first or hi > through:
            partial.append(f"{lo:%Y-%m}")
    if partial:
        raise NotSyncedError(
            f"{', '.join(partial)} not fully covered: the warehouse {wh.path} covers "
            f"{first} to {through - timedelta(days=1)} (R2 metrics are kept 31 days, so the "
            "first sync covers about a month); export a covered month or leave out --month",
            path=str(wh.path), months=partial)
