"""Which days the warehouse holds whole: the one definition of "synced through".

Every answer comes from the `coverage` table (migration 6, read through
`Warehouse.coverage()`): a day of a daily source is covered once the window holding it was
committed after the day had ended, and a re-fetch never uncovers it. So the as-of day a
report, a recommendation or a bill starts from is the same under papermill, in JupyterLab
and in the CLI, and never moves backwards.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import pandas as pd

from ..costs.months import month_bounds
from ..errors import NotSyncedError
from ..warehouse import Warehouse

#: the daily sources a bill is made of (dense: a row for every synced day); object reads
#: are sparse (a day without reads has no rows) and only refine the classing of reads
BILLED_SOURCES = ("minutes_viewed", "r2_storage", "r2_operations")
#: the service each daily source belongs to
SERVICES: dict[str, str] = {"minutes_viewed": "Stream", "r2_storage": "R2",
                            "r2_operations": "R2", "r2_object_reads": "R2"}


def daily_sources() -> dict[str, str]:
    """The daily analytics sources and the table each one fills (`sync.ANALYTICS`).

    >>> daily_sources()["minutes_viewed"]
    'minutes_viewed_daily'
    """
    from ..sync import ANALYTICS

    return {source: table for source, (_, table) in ANALYTICS.items()}


def coverage(wh: Warehouse) -> pd.DataFrame:
    """Per daily source, the days it holds whole: source, service, table, first_day,
    last_day, days (None / 0 for a source never synced), one row per source.

    >>> coverage(Warehouse("data/demo.duckdb", read_only=True))        # doctest: +SKIP
               source service                  table   first_day    last_day  days
    0  minutes_viewed  Stream  minutes_viewed_daily  2026-04-02  2026-06-30    90
    """
    got = wh.coverage().set_index("source")
    rows = []
    for source, table in daily_sources().items():
        known = source in got.index
        rows.append({"source": source, "service": SERVICES[source], "table": table,
                     "first_day": got.loc[source, "first_day"] if known else None,
                     "last_day": got.loc[source, "last_day"] if known else None,
                     "days": int(got.loc[source, "days"]) if known else 0})
    return pd.DataFrame(rows, columns=["source", "service", "table", "first_day",
                                       "last_day", "days"])


def last_synced_day(wh: Warehouse) -> date | None:
    """The last day every synced daily source holds whole: the smallest of their last
    covered days (None when nothing was synced). A re-fetch never moves it backwards.

    >>> last_synced_day(Warehouse("data/demo.duckdb", read_only=True))   # doctest: +SKIP
    datetime.date(2026, 6, 30)
    """
    cov = coverage(wh)
    last = [d for d in cov["last_day"] if d is not None]
    return min(last) if last else None


def synced_through(wh: Warehouse) -> date:
    """`last_synced_day`, refused (NotSyncedError) when nothing was synced yet: the default
    as-of day of every report, recommendation and forecast.

    >>> synced_through(Warehouse("data/demo.duckdb", read_only=True))    # doctest: +SKIP
    datetime.date(2026, 6, 30)
    """
    day = last_synced_day(wh)
    if day is None:
        raise _not_synced(wh)
    return day


def first_days(wh: Warehouse) -> list[date]:
    """The first covered day of each billed daily source that was synced (empty: none)."""
    cov = coverage(wh)
    cov = cov[cov["source"].isin(BILLED_SOURCES)]
    return [d for d in cov["first_day"] if d is not None]


def covered_days(wh: Warehouse) -> tuple[date, date]:
    """[first, through): the days every synced billed source covers.

    Coverage starts on the latest first day of those sources (a month only partly in one of
    them would be understated) and ends the day after `last_synced_day`. Raises
    NotSyncedError when no daily usage was synced yet.

    >>> covered_days(Warehouse("data/demo.duckdb", read_only=True))    # doctest: +SKIP
    (datetime.date(2026, 5, 31), datetime.date(2026, 7, 1))
    """
    last, known = last_synced_day(wh), first_days(wh)
    if last is None or not known:
        raise _not_synced(wh)
    return max(known), last + timedelta(days=1)


def check_as_of(wh: Warehouse, as_of: date | str) -> date:
    """`as_of` as a date, refused (NotSyncedError) when it is before any synced day.

    >>> check_as_of(wh, "2020-01-01")                                   # doctest: +SKIP
    NotSyncedError: ... holds no data before 2026-04-01: ...
    """
    day = pd.Timestamp(as_of).date()
    known = first_days(wh)
    if not known:
        raise _not_synced(wh)
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


def month_coverage(wh: Warehouse, month: date | str) -> pd.DataFrame:
    """Per daily source, the days of `month` it holds whole. Columns: source, service,
    first_day, last_day (of the whole coverage), days_covered, days_in_month, complete.

    >>> month_coverage(wh, "2026-05")[["source", "days_covered"]]      # doctest: +SKIP
    """
    first, nxt = month_bounds(month)
    days = wh.query("SELECT source, count(*) AS n FROM coverage WHERE day >= ? AND day < ? "
                    "GROUP BY source", [first, nxt])
    counts = dict(zip(days["source"], days["n"], strict=True))
    out = coverage(wh).drop(columns=["table", "days"])
    out["days_covered"] = [int(counts.get(s, 0)) for s in out["source"]]
    out["days_in_month"] = (nxt - first).days
    out["complete"] = out["days_covered"] == out["days_in_month"]
    return out


def _not_synced(wh: Warehouse) -> NotSyncedError:
    return NotSyncedError(f"{wh.path}: nothing synced yet (no daily usage); run a sync first: "
                          "`lc-analytics sync`", path=str(wh.path))
