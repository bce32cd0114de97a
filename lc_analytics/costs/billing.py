"""The billing month: which month a cost report covers, what the warehouse covers of it, its
bill from the pricing engine and the month-over-month comparison.

A month is *complete* for a service when every daily source behind it covers each of its days
(the read model's `month_coverage`): Stream needs the minutes viewed; R2 needs its storage,
operations and object reads. A month the warehouse does not fully cover has no comparable
total: its figure is reported as None ("n/a"), never estimated. Money stays Decimal.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd

from .. import readmodel
from ..errors import ReportError
from ..warehouse import Warehouse
from .allocate import Allocation, allocate_month
from .engine import Bill
from .months import month_bounds
from .pricebook import PriceBook, load_book

__all__ = ["SERVICES", "MonthBill", "MonthPeriod", "compare_months",
           "daily_costs", "last_complete_month", "month_bill", "month_coverage", "month_name",
           "monthly_costs", "resolve_month", "synced_days"]

SERVICES = ("Stream", "R2")


# -- months ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class MonthPeriod:
    """The billing month a cost report covers and the day it is as of.

    >>> p = MonthPeriod(date(2026, 6, 1), date(2026, 6, 30)); p.label, p.end, p.complete
    ('2026-06', datetime.date(2026, 6, 30), True)
    """

    month: date  # its first day
    as_of: date

    @property
    def end(self) -> date:
        """The month's last day."""
        return month_bounds(self.month)[1] - timedelta(days=1)

    @property
    def days(self) -> int:
        """Days in the month."""
        return (self.end - self.month).days + 1

    @property
    def previous(self) -> date:
        """The previous month's first day."""
        return (self.month - timedelta(days=1)).replace(day=1)

    @property
    def label(self) -> str:
        """'YYYY-MM'."""
        return f"{self.month:%Y-%m}"

    @property
    def complete(self) -> bool:
        """Whether the month is over by as_of."""
        return self.as_of >= self.end

    def __str__(self) -> str:
        state = "complete" if self.complete else f"to date, {(self.as_of - self.month).days + 1}" \
            f" of {self.days} days"
        return f"{month_name(self.month)} ({state}; as of {self.as_of:%Y-%m-%d})"

    def as_dict(self) -> dict[str, str]:
        """The month and dates, for a summary."""
        return {"period": self.label, "period_start": self.month.isoformat(),
                "period_end": self.end.isoformat(), "as_of": self.as_of.isoformat()}


def month_name(month: date) -> str:
    """'June 2026'.

    >>> month_name(date(2026, 6, 1))
    'June 2026'
    """
    return f"{calendar.month_name[month.month]} {month.year}"


def last_complete_month(as_of: date) -> date:
    """The first day of the last month complete by `as_of` (its own month when `as_of` is the
    month's last day).

    >>> last_complete_month(date(2026, 6, 30)), last_complete_month(date(2026, 7, 1))
    (datetime.date(2026, 6, 1), datetime.date(2026, 6, 1))
    """
    first, nxt = month_bounds(as_of)
    if as_of + timedelta(days=1) >= nxt:
        return first
    return (first - timedelta(days=1)).replace(day=1)


def resolve_month(wh: Warehouse, period: str | date | None = None,
                  as_of: date | str | None = None) -> MonthPeriod:
    """The report's month from the notebook parameters (each may be None).

    as_of defaults to the last day every daily source has synced (clipped to the month's end
    when a month is given); the month defaults to the last complete month as of as_of.

    >>> resolve_month(wh, None, "2026-06-30")                          # doctest: +SKIP
    MonthPeriod(month=datetime.date(2026, 6, 1), as_of=datetime.date(2026, 6, 30))
    """
    month = None
    if period not in (None, ""):
        try:
            month = month_bounds(period)[0]
        except (ValueError, TypeError):
            raise ReportError(f"period must be a month YYYY-MM (got {period!r})") from None
    if as_of in (None, ""):
        day = readmodel.synced_through(wh)
        if month is not None:
            day = min(day, month_bounds(month)[1] - timedelta(days=1))
    else:
        day = pd.Timestamp(as_of).date()
    month = last_complete_month(day) if month is None else month
    if month > day:
        raise ReportError(f"no data for {month:%Y-%m} as of {day}: the warehouse is synced "
                          f"through {readmodel.synced_through(wh)}")
    return MonthPeriod(month, day)


# -- what the warehouse covers ----------------------------------------------------------------

def synced_days(wh: Warehouse) -> pd.DataFrame:
    """Per daily source: service, table, first_day and last_day it holds whole (the read
    model's `coverage`); None when it holds nothing.

    >>> synced_days(wh)                                                # doctest: +SKIP
    """
    return readmodel.coverage(wh).drop(columns="days")


def month_coverage(wh: Warehouse, month: date | str) -> pd.DataFrame:
    """Per daily source: the days of `month` it covers (the read model's `month_coverage`).
    Columns: source, service, first_day, last_day, days_covered, days_in_month, complete.

    >>> month_coverage(wh, "2026-05")[["source", "days_covered"]]      # doctest: +SKIP
    """
    return readmodel.month_coverage(wh, month)


# -- bills ------------------------------------------------------------------------------------

@dataclass
class MonthBill:
    """One month's bill from the warehouse (the engine's, as allocated), and what it covers."""

    month: date
    allocation: Allocation = field(repr=False)
    coverage: pd.DataFrame = field(repr=False)

    @property
    def bill(self) -> Bill:
        """The engine's bill (a month not over: through the last synced day)."""
        return self.allocation.bill

    @property
    def total(self) -> Decimal:
        """The bill's total, whatever its coverage."""
        return self.bill.total

    @property
    def notes(self) -> list[str]:
        """What the usage could not see (from `warehouse_usage`)."""
        return list(self.allocation.usage.notes)

    def service_complete(self) -> dict[str, bool]:
        """Service -> whether every daily source behind it covers the whole month."""
        return {s: bool(g["complete"].all()) for s, g in self.coverage.groupby("service")}

    @property
    def complete(self) -> bool:
        """Whether the warehouse covers the whole month for every service."""
        return all(self.service_complete().values())

    def by_service(self) -> dict[str, Decimal]:
        """Service -> cost (every service of the report, 0 without line items)."""
        out = {s: Decimal(0) for s in SERVICES}
        for li in self.bill.line_items:
            out[li.service] = out.get(li.service, Decimal(0)) + li.cost
        return out

    def known_by_service(self) -> dict[str, Decimal | None]:
        """Service -> cost, or None where the warehouse does not cover the whole month."""
        done = self.service_complete()
        return {s: (c if done.get(s, True) else None) for s, c in self.by_service().items()}

    def known_total(self) -> Decimal | None:
        """The total, or None unless the warehouse covers the whole month."""
        return self.total if self.complete else None

    def service_gaps(self) -> dict[str, str]:
        """Service -> a sentence saying which days the warehouse lacks (complete ones left out).
        """
        out = {}
        for service, grp in self.coverage.groupby("service", sort=False):
            short = grp[~grp["complete"]]
            if len(short):
                days, n = int(short["days_covered"].min()), int(grp["days_in_month"].iloc[0])
                out[service] = f"the warehouse holds {service} data for {days} of {n} days " \
                               f"of {month_name(self.month)}"
        return out

    def gaps(self) -> list[str]:
        """One sentence per service the warehouse does not cover for the whole month."""
        return list(self.service_gaps().values())

    def line_items(self) -> pd.DataFrame:
        """The bill's line items: sku_id, service, description, consumed_quantity,
        consumed_unit, free_quantity, billed_units, pricing_unit, unit_price, cost (Decimal),
        computation, source.

        >>> month_bill(wh, "2026-06").line_items()                     # doctest: +SKIP
        """
        cols = ["sku_id", "service", "description", "consumed_quantity", "consumed_unit",
                "free_quantity", "billed_units", "pricing_unit", "unit_price", "cost",
                "computation", "source"]
        df = self.bill.to_frame()
        return df[cols] if len(df) else pd.DataFrame(columns=cols)


def month_bill(wh: Warehouse, month: date | str, book: PriceBook | None = None) -> MonthBill:
    """The engine's bill of `month` from the warehouse, allocated, with its coverage.

    For a month the warehouse has whole, `.total` equals
    `price_month(warehouse_usage(wh, month).usage, month, book).total`; a month not yet over
    is billed through the last synced day.

    >>> month_bill(wh, "2026-06").total                                # doctest: +SKIP
    Decimal('430.985')
    """
    first, _ = month_bounds(month)
    return MonthBill(first, allocate_month(wh, first, book or load_book("cloudflare")),
                     month_coverage(wh, first))


def compare_months(current: MonthBill, previous: MonthBill) -> pd.DataFrame:
    """Per service and in total: this month, the previous one (None where the warehouse does
    not cover it whole), the change and its ratio (None without a previous figure).

    Columns: service, current, previous, change, change_pct (float), note.

    >>> compare_months(month_bill(wh, "2026-06"), month_bill(wh, "2026-05"))  # doctest: +SKIP
    """
    now, before = current.by_service(), previous.known_by_service()
    gaps = previous.service_gaps()
    rows = []
    for service in now:
        rows.append(_change_row(service, now[service], before.get(service),
                                gaps.get(service, "")))
    rows.append(_change_row("Total", current.total, previous.known_total(),
                            "; ".join(previous.gaps())))
    return pd.DataFrame(rows, columns=["service", "current", "previous", "change",
                                       "change_pct", "note"])


def _change_row(service: str, now: Decimal, before: Decimal | None, note: str) -> dict:
    if before is None:
        return {"service": service, "current": now, "previous": None, "change": None,
                "change_pct": None, "note": note}
    change = now - before
    pct = float(change / before) if before else None
    return {"service": service, "current": now, "previous": before, "change": change,
            "change_pct": pct, "note": ""}



def daily_costs(allocation: Allocation) -> pd.DataFrame:
    """The allocated bill per day, service and SKU: date, service, sku_id, cost (Decimal).

    Each SKU's days add up to its line item exactly.

    >>> daily_costs(month_bill(wh, "2026-06").allocation)              # doctest: +SKIP
    """
    rows = allocation.rows
    if not len(rows):
        return pd.DataFrame(columns=["date", "service", "sku_id", "cost"])
    out = rows.groupby(["date", "service", "sku_id"], as_index=False, sort=True)["cost"].agg(
        lambda s: sum(s, Decimal(0)))
    out["date"] = pd.to_datetime(out["date"]).dt.date
    return out


def monthly_costs(wh: Warehouse, book: PriceBook | None = None) -> pd.DataFrame:
    """Every month the warehouse holds data for, per service: month ('YYYY-MM'), service,
    cost (Decimal), complete (the warehouse covers the month whole for the service),
    days_covered (the fewest days of its sources), days_in_month.

    A month not complete for a service is billed on what the warehouse holds: its cost is not
    that month's bill (show it as partial, never compare it).

    >>> monthly_costs(wh)                                              # doctest: +SKIP
    """
    spans = synced_days(wh)
    firsts = [d for d in spans["first_day"] if d is not None]
    lasts = [d for d in spans["last_day"] if d is not None]
    rows = []
    if not firsts:
        return pd.DataFrame(columns=["month", "service", "cost", "complete", "days_covered",
                                     "days_in_month"])
    month, stop = min(firsts).replace(day=1), max(lasts)
    book = book or load_book("cloudflare")
    while month <= stop:
        mb = month_bill(wh, month, book)
        done = mb.service_complete()
        cov = mb.coverage.groupby("service")["days_covered"].min()
        for service, cost in mb.by_service().items():
            rows.append({"month": f"{month:%Y-%m}", "service": service, "cost": cost,
                         "complete": done.get(service, True),
                         "days_covered": int(cov.get(service, 0)),
                         "days_in_month": int(mb.coverage["days_in_month"].iloc[0])})
        month = month_bounds(month)[1]
    return pd.DataFrame(rows)
