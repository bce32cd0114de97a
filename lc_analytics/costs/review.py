"""The numbers of a cost review beside the month's bill: the trailing days a review leads with
when the warehouse does not cover the month whole, the AWS comparison, the forecast, the
storage runway, showback, and the headline numbers each cost report publishes.

Every dollar comes from the pricing engine (`costs.engine`); money stays Decimal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from .. import readmodel
from ..errors import ReportError
from ..recommend.model import Recommendation
from ..warehouse import Warehouse
from .billing import SERVICES, MonthBill, MonthPeriod, synced_days
from .comparison import aws_comparison_days, comparison_summary
from .engine import Bill, month_bounds, price_period
from .forecast import INTERVAL, month_to_date
from .pricebook import PriceBook, load_book
from .runway import storage_runway
from .showback import UNALLOCATED, showback
from .usage import TRAILING_DAYS, period_usage

__all__ = ["SHOWBACK_BY", "PeriodBill", "aws_summary", "costs_headline", "covered_since",
           "first_full_month", "forecast_summary", "review_headline", "review_lead",
           "runway_summary", "showback_table", "trailing_bill"]

SHOWBACK_BY = ("broadcaster", "live_input", "bucket", "prefix")


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
        inputs = readmodel.live_inputs(wh, history=True)
        names = dict(zip(inputs["uid"], inputs["name"], strict=True))
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
    (in the order given: pass them ranked), total_monthly_saving;
    lead (None when the month's bill leads, else
    {period_start, period_end, days, total, by_service} of `review_lead`'s trailing days) and
    first_full_month {month, priced_from} (with a lead); aws (`comparison_summary` of the
    period that leads, without its table).

    bill_total and bill_by_service are None (per service) unless the warehouse covers the
    month whole: an uncovered month has no headline figure.

    >>> review_headline(period, current, previous, forecast, runway, recs)  # doctest: +SKIP
    """
    names = dict(names or {})
    before = previous.known_total()
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
        "runway": _runway(runway),
        "recommendations": [{"id": r.id, "kind": r.kind, "target": r.target,
                             "target_name": names.get(r.id, r.target), "action": r.action,
                             "monthly_saving": r.monthly_saving, "confidence": r.confidence}
                            for r in recs],
        "total_monthly_saving": sum((r.monthly_saving for r in recs), Decimal(0)),
    }


def _runway(runway: Mapping[str, Any]) -> dict[str, Any]:
    """The headline's runway from `runway_summary`."""
    return {"date": runway.get("exhaustion_date"), "days": runway.get("days_until_exhaustion"),
            "earliest": runway.get("exhaustion_earliest"),
            "latest": runway.get("exhaustion_latest"),
            "stored_minutes": runway.get("stored_minutes"),
            "capacity_minutes": runway.get("capacity_minutes"),
            "snapshot_at": runway.get("snapshot_at")}


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
