"""The tables behind the costs and cost_review notebooks: bills, coverage, forecast, runway,
showback, recommendations and the charts that support them.

Every function reads the warehouse through the cost and recommendation libraries (read-only,
one query at a time) and returns a DataFrame or a dict that a notebook shows or plots as it
is. Money stays Decimal: `plottable` turns it into floats for a chart and
`lc_analytics.money.format_usd` into text for a table, at the last moment.

A month is *complete* for a service when every daily source behind it covers each of its days
(a source covers the days from the first it holds to its watermark): Stream needs the
minutes viewed; R2 needs its storage, operations and object reads. A month the warehouse does
not fully cover has no comparable total: its figure is reported as None ("n/a"), never
estimated.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from ..costs.allocate import Allocation, allocate_month
from ..costs.comparison import aws_comparison_days, comparison_summary
from ..costs.engine import Bill, month_bounds, price_period
from ..costs.forecast import INTERVAL, latest_synced_day, month_to_date
from ..costs.pricebook import PriceBook, load_book
from ..costs.runway import storage_runway
from ..costs.showback import UNALLOCATED, showback
from ..costs.usage import TRAILING_DAYS, period_usage
from ..money import format_usd
from ..recommend.explanation import ranked
from ..recommend.model import Recommendation
from ..warehouse import Warehouse
from .errors import ReportError

#: daily source -> (service it bills, warehouse table)
DAILY_SOURCES: dict[str, tuple[str, str]] = {
    "minutes_viewed": ("Stream", "minutes_viewed_daily"),
    "r2_storage": ("R2", "r2_storage_daily"),
    "r2_operations": ("R2", "r2_operations_daily"),
    "r2_object_reads": ("R2", "r2_object_reads_daily"),
}
SERVICES = ("Stream", "R2")
SHOWBACK_BY = ("broadcaster", "live_input", "bucket", "prefix")


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
        day = latest_synced_day(wh)
        if month is not None:
            day = min(day, month_bounds(month)[1] - timedelta(days=1))
    else:
        day = pd.Timestamp(as_of).date()
    month = last_complete_month(day) if month is None else month
    if month > day:
        raise ReportError(f"no data for {month:%Y-%m} as of {day}: the warehouse is synced "
                          f"through {latest_synced_day(wh)}")
    return MonthPeriod(month, day)


# -- what the warehouse covers ----------------------------------------------------------------

def synced_days(wh: Warehouse) -> pd.DataFrame:
    """Per daily source: service, table, first_day (the first day it holds) and last_day (its
    watermark, else the last day it holds); None when it holds nothing.

    A source without rows of its own starts where the service's other sources start.

    >>> synced_days(wh)                                                # doctest: +SKIP
    """
    union = " UNION ALL ".join(
        f"SELECT '{src}' AS source, min(date) AS first_day, max(date) AS last_day FROM {table}"
        for src, (_, table) in DAILY_SOURCES.items())
    spans = wh.query(union).set_index("source")
    marks = wh.query("SELECT source, watermark FROM sync_state WHERE watermark IS NOT NULL")
    marks = dict(zip(marks["source"], marks["watermark"], strict=True))
    rows = []
    for src, (service, table) in DAILY_SOURCES.items():
        first, last = spans.loc[src, "first_day"], spans.loc[src, "last_day"]
        mark = marks.get(src)
        rows.append({"source": src, "service": service, "table": table,
                     "first_day": _day(first),
                     "last_day": _day(mark) if mark is not None else _day(last)})
    out = pd.DataFrame(rows)
    for service, grp in out.groupby("service"):
        known = [d for d in grp["first_day"] if d is not None]
        fill = min(known) if known else None
        out.loc[(out["service"] == service) & out["first_day"].isna(), "first_day"] = fill
    return out


def month_coverage(wh: Warehouse, month: date | str) -> pd.DataFrame:
    """Per daily source: the days of `month` it covers. Columns: source, service, first_day,
    last_day, days_covered, days_in_month, complete.

    >>> month_coverage(wh, "2026-05")[["source", "days_covered"]]      # doctest: +SKIP
    """
    first, nxt = month_bounds(month)
    n = (nxt - first).days
    out = synced_days(wh).drop(columns="table")
    covered = []
    for lo, hi in zip(out["first_day"], out["last_day"], strict=True):
        if lo is None or hi is None:
            covered.append(0)
            continue
        start, stop = max(lo, first), min(hi, nxt - timedelta(days=1))
        covered.append(max((stop - start).days + 1, 0))
    out["days_covered"] = covered
    out["days_in_month"] = n
    out["complete"] = out["days_covered"] == n
    return out


def _day(value: Any) -> date | None:
    if value is None or (not isinstance(value, date) and pd.isna(value)):
        return None
    return pd.Timestamp(value).date()


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


# -- what a review leads with ------------------------------------------------------------------

@dataclass
class PeriodBill:
    """The engine's bill of whole days `first`..`last` (`engine.price_period`): what a review
    leads with when the warehouse does not cover its month whole."""

    first: date
    last: date
    bill: Bill = field(repr=False)

    @property
    def days(self) -> int:
        """Days in the period."""
        return (self.last - self.first).days + 1

    @property
    def total(self) -> Decimal:
        return self.bill.total

    @property
    def label(self) -> str:
        """'the last 30 complete days (2026-06-04 to 2026-07-03)'."""
        return f"the last {self.days} complete days ({self.first} to {self.last})"

    def by_service(self) -> dict[str, Decimal]:
        """Service -> cost (every service of the report, 0 without line items)."""
        out = {s: Decimal(0) for s in SERVICES}
        for li in self.bill.line_items:
            out[li.service] = out.get(li.service, Decimal(0)) + li.cost
        return out


def covered_since(wh: Warehouse) -> date | None:
    """The first day every daily source holds (None before any sync).

    >>> covered_since(wh)                                              # doctest: +SKIP
    datetime.date(2026, 5, 31)
    """
    firsts = list(synced_days(wh)["first_day"])
    return None if any(d is None for d in firsts) else max(firsts)


def first_full_month(wh: Warehouse) -> tuple[date, date] | None:
    """The first month the warehouse covers whole, and the first day its bill can be priced
    (the day after it ends, once that day's sync has run); None before any sync.

    >>> first_full_month(wh)                                           # doctest: +SKIP
    (datetime.date(2026, 7, 1), datetime.date(2026, 8, 1))
    """
    since = covered_since(wh)
    if since is None:
        return None
    month = since if since.day == 1 else month_bounds(since)[1]
    return month, month_bounds(month)[1]


def trailing_bill(wh: Warehouse, as_of: date, days: int = TRAILING_DAYS,
                  book: PriceBook | None = None) -> PeriodBill:
    """The last `days` complete days up to `as_of` that every source covers, priced whole by
    the engine (`price_period`): fewer days only when the warehouse holds fewer.

    >>> trailing_bill(wh, date(2026, 7, 3)).total                      # doctest: +SKIP
    """
    first = as_of - timedelta(days=days - 1)
    since = covered_since(wh)
    if since is None or since > as_of:
        raise ReportError(f"the warehouse holds no complete day up to {as_of}: run "
                          "`lc-analytics sync` first")
    first = max(first, since)
    book = book or load_book("cloudflare")
    return PeriodBill(first, as_of, price_period(period_usage(wh, first, as_of), first, as_of,
                                                 book))


def review_lead(wh: Warehouse, period: MonthPeriod, current: MonthBill,
                book: PriceBook | None = None) -> PeriodBill | None:
    """What a cost review leads with: None when the warehouse covers `period`'s month whole
    (the month's bill leads), else the trailing days up to `period.as_of` (`trailing_bill`).
    A month the warehouse does not cover never gets a headline figure.

    >>> review_lead(wh, period, month_bill(wh, period.month))          # doctest: +SKIP
    """
    if current.complete and period.complete:
        return None
    return trailing_bill(wh, period.as_of, book=book)


def aws_summary(wh: Warehouse, first: date, last: date,
                book: PriceBook | None = None) -> dict[str, Any]:
    """The AWS comparison of the days `first`..`last` (`costs.comparison`), as the review's
    headline holds it (see `comparison_summary`), with the table behind it under "table".

    >>> aws_summary(wh, date(2026, 6, 1), date(2026, 6, 30))["saving"]  # doctest: +SKIP
    """
    table = aws_comparison_days(wh, first, last, book=book)
    return {**comparison_summary(table, first, last), "table": table}


def comparison_sentence(s: Mapping[str, Any]) -> str:
    """What the account actually saves against AWS, in words (Markdown), with the seed's
    90% claim checked against R2 vs S3 alone, the rendition mix assumed and what is excluded.

    >>> print(comparison_sentence(aws_summary(wh, first, last)))       # doctest: +SKIP
    """
    mix = ", ".join(f"{r} {x:.0%}" for r, x in s["rendition_mix"].items())
    claim = s["claimed_r2_saving_share"]
    r2 = _versus(s["r2_saving"], s["r2_saving_share"], "R2", "S3")
    return (f"{s['period_start']} to {s['period_end']}: Cloudflare "
            f"{format_usd(s['cloudflare_total'])}, the same usage on AWS (S3 + CloudFront) "
            f"{format_usd(s['aws_total'])}: "
            + _versus(s["saving"], s["saving_share"], "Cloudflare", "AWS")
            + f". R2 alone against S3 (storage, requests, retrieval): "
            f"{format_usd(s['r2_total'])} vs {format_usd(s['s3_total'])}, so {r2} (the "
            f"project's seed claimed {claim:.0%}). Assumed rendition mix: {mix} "
            f"({s['delivered_mbps']:g} Mbps delivered on average). Not priced on AWS: "
            + "; ".join(s["excluded"]) + "."
            + (" Prices not confirmed on AWS's own page (see the AWS price book): "
               + ", ".join(s["unverified_prices"]) + "." if s.get("unverified_prices") else ""))


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


# -- forecast and runway ---------------------------------------------------------------------

def forecast_summary(wh: Warehouse, as_of: date | str,
                     book: PriceBook | None = None) -> dict[str, Any]:
    """The month of `as_of` to date and its forecast (the total row of `month_to_date`).

    Keys: month ('YYYY-MM'), as_of, days_elapsed, days_in_month, complete, mtd_cost,
    forecast_cost, forecast_low, forecast_high (Decimal), interval (0.8).

    >>> forecast_summary(wh, "2026-06-15")["forecast_cost"]            # doctest: +SKIP
    Decimal('436.080')
    """
    day = pd.Timestamp(as_of).date()
    total = month_to_date(wh, day, book).set_index("sku_id").loc["total"]
    elapsed, n = int(total["days_elapsed"]), int(total["days_in_month"])
    return {"month": f"{day:%Y-%m}", "as_of": day, "days_elapsed": elapsed,
            "days_in_month": n, "complete": elapsed == n, "mtd_cost": total["mtd_cost"],
            "forecast_cost": total["forecast_cost"], "forecast_low": total["forecast_low"],
            "forecast_high": total["forecast_high"], "interval": INTERVAL}


def runway_summary(wh: Warehouse, horizon_days: int = 90) -> dict[str, Any]:
    """`storage_runway` as a dict: snapshot_at, stored_minutes, capacity_minutes,
    headroom_minutes, net_growth_per_day, exhaustion_date, days_until_exhaustion,
    exhaustion_earliest, exhaustion_latest, horizon_days, notes.

    >>> runway_summary(wh)["exhaustion_date"]                          # doctest: +SKIP
    datetime.date(2026, 7, 22)
    """
    r = storage_runway(wh, horizon_days).iloc[0]
    keys = ["stored_minutes", "capacity_minutes", "headroom_minutes", "net_growth_per_day",
            "exhaustion_date", "days_until_exhaustion", "exhaustion_earliest",
            "exhaustion_latest", "horizon_days", "notes"]
    out = {"snapshot_at": pd.Timestamp(r["snapshot_at"]).to_pydatetime()}
    for k in keys:
        v = r[k]
        out[k] = None if v is None or (not isinstance(v, (str, date)) and pd.isna(v)) else v
    for k in ("days_until_exhaustion", "horizon_days"):
        if out[k] is not None:
            out[k] = int(out[k])
    for k in ("stored_minutes", "capacity_minutes", "headroom_minutes", "net_growth_per_day"):
        if out[k] is not None:
            out[k] = round(float(out[k]), 1)
    return out


# -- showback --------------------------------------------------------------------------------

def showback_table(wh: Warehouse, month: date | str, by: str,
                   book: PriceBook | None = None) -> pd.DataFrame:
    """`showback(wh, month, by)` with a readable `label` (a live input's name) first.

    Columns: label, <by>, cost (Decimal, adds up to the bill), cost_cents, share.

    >>> showback_table(wh, "2026-06", "live_input").head(3)            # doctest: +SKIP
    """
    df = showback(wh, month, by, book)
    labels = df[by].astype(str)
    if by == "live_input":
        names = wh.query("SELECT uid, name FROM live_inputs")
        names = dict(zip(names["uid"], names["name"], strict=True))
        labels = [names.get(v) or v for v in df[by]]
    df.insert(0, "label", [f"{x} (not attributable)" if x == UNALLOCATED else x
                           for x in labels])
    return df


# -- headlines -------------------------------------------------------------------------------

def review_headline(period: MonthPeriod, current: MonthBill, previous: MonthBill,
                    forecast: Mapping[str, Any], runway: Mapping[str, Any],
                    recs: Sequence[Recommendation],
                    names: Mapping[str, str] | None = None, *,
                    lead: PeriodBill | None = None,
                    first_full: tuple[date, date] | None = None,
                    aws: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The cost review's headline numbers (what its summary.json holds); money is Decimal.

    Keys: period, period_start, period_end, as_of, currency, book, bill_total, bill_complete,
    bill_by_service, bill_gaps, previous_period, previous_total (None unless the warehouse
    covers the previous month whole), previous_by_service (None per service not covered),
    previous_gaps, change_vs_previous, forecast {month, as_of, days_elapsed, days_in_month,
    complete, mtd_cost, forecast_cost, forecast_low, forecast_high, interval}, runway {date,
    days, earliest, latest, stored_minutes, capacity_minutes, snapshot_at},
    recommendations [{id, kind, target, target_name, action, monthly_saving, confidence}]
    (in `ranked` order), total_monthly_saving; lead (None when the month's bill leads, else
    {period_start, period_end, days, total, by_service} of `review_lead`'s trailing days) and
    first_full_month {month, priced_from} (with a lead); aws (`comparison_summary` of the
    period that leads, without its table).

    bill_total and bill_by_service are None (per service) unless the warehouse covers the
    month whole: an uncovered month has no headline figure.

    >>> review_headline(period, current, previous, forecast, runway, recs)  # doctest: +SKIP
    """
    names = dict(names or {})
    before = previous.known_total()
    ordered = ranked(recs)
    return {
        **period.as_dict(),
        "currency": current.bill.currency,
        "book": current.bill.book,
        "bill_total": current.known_total(),
        "bill_complete": current.complete,
        "bill_by_service": current.known_by_service(),
        "bill_gaps": current.gaps(),
        "lead": None if lead is None else {
            "period_start": lead.first, "period_end": lead.last, "days": lead.days,
            "total": lead.total, "by_service": lead.by_service()},
        "first_full_month": None if lead is None or first_full is None else {
            "month": f"{first_full[0]:%Y-%m}", "priced_from": first_full[1]},
        "aws": None if aws is None else {k: v for k, v in aws.items() if k != "table"},
        "previous_period": f"{previous.month:%Y-%m}",
        "previous_total": before,
        "previous_by_service": previous.known_by_service(),
        "previous_gaps": previous.gaps(),
        "change_vs_previous": None if before is None or not current.complete
        else current.total - before,
        "forecast": dict(forecast),
        "runway": {"date": runway.get("exhaustion_date"),
                   "days": runway.get("days_until_exhaustion"),
                   "earliest": runway.get("exhaustion_earliest"),
                   "latest": runway.get("exhaustion_latest"),
                   "stored_minutes": runway.get("stored_minutes"),
                   "capacity_minutes": runway.get("capacity_minutes"),
                   "snapshot_at": runway.get("snapshot_at")},
        "recommendations": [{"id": r.id, "kind": r.kind, "target": r.target,
                             "target_name": names.get(r.id, r.target), "action": r.action,
                             "monthly_saving": r.monthly_saving, "confidence": r.confidence}
                            for r in ordered],
        "total_monthly_saving": sum((r.monthly_saving for r in recs), Decimal(0)),
    }


def headline_markdown(h: Mapping[str, Any]) -> str:
    """The review's headline as a two-column Markdown table, for a manager: the month's bill
    when the warehouse covers it whole, else the trailing days it can price whole and when
    the first whole month will be available (never a figure for an uncovered month).

    >>> print(headline_markdown(review_headline(...)))                 # doctest: +SKIP
    """
    month = month_bounds(h["period"])[0]
    rows = _lead_rows(h, month) if h.get("lead") else _month_rows(h, month)
    f = h["forecast"]
    fmonth = month_name(month_bounds(f["month"])[0])
    if f["complete"]:
        forecast = f"{format_usd(f['forecast_cost'])}: {fmonth} is complete (actual)"
    else:
        forecast = (f"**{format_usd(f['forecast_cost'])}** ({f['interval']:.0%} interval "
                    f"{format_usd(f['forecast_low'])} – {format_usd(f['forecast_high'])}); "
                    f"{format_usd(f['mtd_cost'])} so far, {f['days_elapsed']} of "
                    f"{f['days_in_month']} days")
    r = h["runway"]
    if r["date"] is None:
        runway = "not within the projection's horizon"
        if r["capacity_minutes"] is None:
            runway = "no prepaid capacity set"
    else:
        runway = (f"**{r['date']}**, in **{r['days']} days** (80%: {r['earliest']} – "
                  f"{r['latest'] or 'later'}); {r['stored_minutes']:,.0f} of "
                  f"{r['capacity_minutes']:,.0f} minutes used")
    recs = h["recommendations"]
    saving = (f"**{len(recs)}**, worth **{format_usd(h['total_monthly_saving'])}/month**"
              if recs else "none")
    rows += [(f"Forecast for {fmonth}", forecast), ("Prepaid Stream storage runs out", runway),
             ("Recommendations", saving)]
    if h.get("aws"):
        rows.append(("Against AWS (S3 + CloudFront)", _aws_cell(h["aws"])))
    when = (f"the last {h['lead']['days']} complete days" if h.get("lead")
            else month_name(month))
    caption = (f"*{when}, as of {h['as_of']}; list prices of {h['book']}; "
               f"{h['currency']}.*\n\n")
    return caption + "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)


def _month_rows(h: Mapping[str, Any], month: date) -> list[tuple[str, str]]:
    services = ", ".join(f"{s} {format_usd(c)}" for s, c in h["bill_by_service"].items())
    bill = f"**{format_usd(h['bill_total'])}** ({services})"
    prev_month = month_name(month_bounds(h["previous_period"])[0])
    if h["previous_total"] is not None:
        change = h["change_vs_previous"]
        ratio = f" ({float(change / h['previous_total']):+.1%})" if h["previous_total"] else ""
        vs = (f"{format_usd(h['previous_total'])} → {format_usd(h['bill_total'])}: "
              f"{format_usd(change, signed=True)}{ratio}")
    else:
        known = [f"{s} {format_usd(c)} → {format_usd(h['bill_by_service'][s])}"
                 for s, c in h["previous_by_service"].items() if c is not None]
        vs = "**n/a**: " + "; ".join(h["previous_gaps"] or ["no data"])
        if known:
            vs += " (known: " + ", ".join(known) + ")"
    return [(f"Bill for {month_name(month)}", bill), (f"vs {prev_month}", vs)]


def _lead_rows(h: Mapping[str, Any], month: date) -> list[tuple[str, str]]:
    lead = h["lead"]
    services = ", ".join(f"{s} {format_usd(c)}" for s, c in lead["by_service"].items())
    rows = [(f"Last {lead['days']} complete days ({lead['period_start']} to "
             f"{lead['period_end']})", f"**{format_usd(lead['total'])}** ({services})")]
    full = h.get("first_full_month")
    if full:
        first = month_name(month_bounds(full["month"])[0])
        rows.append(("First whole month", f"{first}: the first month the warehouse holds "
                     f"whole, so its bill is available from {full['priced_from']}. "
                     f"{month_name(month)} has no figure here: "
                     + "; ".join(h["bill_gaps"] or ["it is not over"])))
    return rows


def _aws_cell(a: Mapping[str, Any]) -> str:
    return (f"Cloudflare {format_usd(a['cloudflare_total'])}, AWS "
            f"{format_usd(a['aws_total'])}: "
            + _versus(a["saving"], a["saving_share"], "Cloudflare", "AWS") + "; R2 alone "
            + _versus(a["r2_saving"], a["r2_saving_share"], "", "S3").strip()
            + f" (the project's seed claimed R2 saves {a['claimed_r2_saving_share']:.0%})")


def _versus(saving: Decimal, share: float | None, us: str, them: str) -> str:
    pct = "" if share is None else f" ({abs(share):.1%})"
    if saving >= 0:
        return f"{us} saves **{format_usd(saving)}{pct}** against {them}"
    return f"{us} costs **{format_usd(-saving)}{pct} more** than {them}"


def costs_headline(period: MonthPeriod, current: MonthBill, forecast: Mapping[str, Any],
                   runway: Mapping[str, Any], unit: pd.DataFrame,
                   aws: pd.DataFrame) -> dict[str, Any]:
    """The costs report's headline numbers (what its summary.json holds); money is Decimal.

    >>> costs_headline(period, current, forecast, runway, unit, aws)    # doctest: +SKIP
    """
    def unit_cost(metric: str, scope: str) -> Decimal | None:
        hit = unit[(unit["metric"] == metric) & (unit["scope"] == scope)]
        return None if hit.empty else hit["unit_cost"].iloc[0]

    total = aws[aws["component"] == "Total"].iloc[0]
    return {
        **period.as_dict(),
        "bill_total": current.total,
        "bill_complete": current.complete,
        "bill_by_service": current.by_service(),
        "bill_by_sku": {li.sku_id: li.cost for li in current.bill.line_items},
        "mtd_month": forecast["month"],
        "mtd_cost": forecast["mtd_cost"],
        "forecast_cost": forecast["forecast_cost"],
        "forecast_low": forecast["forecast_low"],
        "forecast_high": forecast["forecast_high"],
        "runway_date": runway.get("exhaustion_date"),
        "runway_days": runway.get("days_until_exhaustion"),
        "cost_per_show": unit_cost("cost per show", "all shows"),
        "cost_per_1000_minutes": unit_cost("cost per 1,000 viewer-minutes", "whole bill"),
        "cost_per_r2_gb_month": unit_cost("cost per GB-month stored in R2", "R2 storage"),
        "aws_total": total["aws_cost"],
        "aws_minus_cloudflare": total["difference"],
    }


# -- presentation ----------------------------------------------------------------------------

def plottable(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` with its Decimal (and None-holding money) columns as floats, for a
    chart; the numbers shown in tables stay Decimal.

    >>> plottable(pd.DataFrame({"cost": [Decimal("1.5"), None]}))["cost"].tolist()
    [1.5, nan]
    """
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object and out[col].map(
                lambda v: isinstance(v, Decimal) or v is None).all() and \
                out[col].map(lambda v: isinstance(v, Decimal)).any():
            out[col] = [float(v) if v is not None else np.nan for v in out[col]]
    return out


def money_table(df: pd.DataFrame, columns: Iterable[str] | None = None, *,
                quantities: Iterable[str] = (), shares: Iterable[str] = ()) -> pd.DataFrame:
    """A copy of `df` for display: the money `columns` (default: every Decimal column) as
    dollar text (`usd`), `quantities` as numbers to 3 decimals, `shares` as percentages;
    missing values blank.

    >>> money_table(pd.DataFrame({"cost": [Decimal("2.5")], "q": [Decimal("964.0516")],
    ...                           "s": [0.2162]}), quantities=["q"], shares=["s"]).iloc[0].tolist()
    ['$2.50', '964.052', '21.6%']
    """
    out = df.copy()
    quantities, shares = list(quantities), list(shares)
    cols = list(columns) if columns is not None else [
        c for c in out.columns if c not in quantities and
        out[c].map(lambda v: isinstance(v, Decimal)).any()]
    for col in cols:
        out[col] = [format_usd(v) if isinstance(v, (Decimal, int, float)) or v is None else v
                    for v in out[col]]
    for col in quantities:
        out[col] = [_quantity(v) for v in out[col]]
    for col in shares:
        out[col] = ["" if _missing(v) else f"{float(v):.1%}" for v in out[col]]
    out = out.astype(object)
    return out.where(~out.isna(), "")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def _quantity(value: Any) -> str:
    if _missing(value):
        return ""
    x = float(value)
    if x.is_integer():
        return f"{int(x):,}"
    return f"{x:,.3f}".rstrip("0").rstrip(".")
