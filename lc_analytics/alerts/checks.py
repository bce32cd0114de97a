"""The conditions `alerts check` evaluates, each returning the alerts that hold now."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pandas as pd

from ..costs.engine import month_bounds
from ..costs.forecast import month_to_date
from ..costs.pricebook import PriceBook, load_book
from ..costs.runway import storage_runway
from ..errors import ConfigError, NotSyncedError
from ..money import format_usd
from ..warehouse import Warehouse
from ..warehouse.alert_log import sync_health
from .anomalies import Anomaly, daily_rows, find_anomalies, month_rows
from .budgets import Budget
from .model import Alert, Params


# --- budgets ------------------------------------------------------------------------------
def budget_alerts(wh: Warehouse, budgets: list[Budget], day: date,
                  book: PriceBook | None = None,
                  cache: dict[date, pd.DataFrame] | None = None) -> list[Alert]:
    """Budgets against the month to date (actual) and the forecast to month end.

    Service and SKU budgets read `costs.forecast.month_to_date` (forecast with its 80%
    interval; no forecast alert once the month is complete); broadcaster and bucket budgets
    sum the allocation's rows of the month to date and scale the account's forecast by
    their share of the month to date (interval alike).
    """
    if not budgets:
        return []
    check_scopes(budgets, book or load_book("cloudflare"), day)
    mtd = month_to_date(wh, day, book)
    skus = mtd[mtd["sku_id"] != "total"]
    rows = None
    if any(b.scope in ("broadcaster", "bucket") for b in budgets):
        rows = month_rows(wh, month_bounds(day)[0], day, book, cache)
    total = mtd[mtd["sku_id"] == "total"].iloc[0]
    complete = total["days_elapsed"] == total["days_in_month"]
    out: list[Alert] = []
    for b in budgets:
        actual, forecast, low, high = _spend(b, skus, rows, total)
        month = f"{day:%Y-%m}"
        out += _threshold_alert(b, "actual", actual, b.thresholds, month,
                                f"{format_usd(actual)} spent month to date (through {day})")
        if complete:  # the forecast is the month to date: one alert says it
            continue
        out += _threshold_alert(b, "forecast", forecast, b.forecast_thresholds, month,
                                f"forecast {format_usd(forecast)} by month end (80% interval "
                                f"{format_usd(low)} to {format_usd(high)}; as of {day})")
    return out


def check_scopes(budgets: list[Budget], book: PriceBook, day: date) -> None:
    """ConfigError naming file:line of each service or SKU the price book does not know."""
    known = book.skus(day)
    services = {s.service.lower() for s in known}
    known_skus = {s.id for s in known}
    problems = []
    for b in budgets:
        if b.scope == "service" and b.value.lower() not in services:
            problems.append(f"{b.origin}:{b.line}: budget {b.name!r}: unknown service "
                            f"{b.value!r} (known: {', '.join(sorted(services))})")
        if b.scope == "sku" and b.value not in known_skus:
            problems.append(f"{b.origin}:{b.line}: budget {b.name!r}: unknown sku "
                            f"{b.value!r}")
    if problems:
        raise ConfigError(problems)


def _spend(b: Budget, skus: pd.DataFrame, rows: pd.DataFrame | None,
           total: pd.Series) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    cols = ["mtd_cost", "forecast_cost", "forecast_low", "forecast_high"]
    if b.scope in ("service", "sku"):
        pick = (skus["service"].str.lower() == b.value.lower()) if b.scope == "service" \
            else (skus["sku_id"] == b.value)
        got = skus.loc[pick, cols]
        a, f, lo, hi = (Decimal(sum(got[c], Decimal(0))) for c in cols)
        return a, f, lo, hi
    assert rows is not None
    column = "creator" if b.scope == "broadcaster" else "bucket"
    actual = Decimal(sum(rows.loc[rows[column] == b.value, "cost"], Decimal(0)))
    share = actual / total["mtd_cost"] if total["mtd_cost"] else Decimal(0)
    return (actual, *(Decimal(total[c]) * share for c in cols[1:]))  # type: ignore[return-value]


def _threshold_alert(b: Budget, what: str, amount: Decimal, thresholds: tuple[int, ...],
                     month: str, detail: str) -> list[Alert]:
    percent = amount / b.monthly_usd * 100
    crossed = [t for t in thresholds if percent >= t]
    if not crossed:
        return []
    label = "month to date" if what == "actual" else "forecast"
    title = (f"Budget {b.name} ({b.scope} {b.value}): {label} at {percent:.0f}% of "
             f"{format_usd(b.monthly_usd)} (threshold {crossed[-1]}%)")
    return [Alert(f"budget/{b.name}/{what}/{month}", "budget" if what == "actual" else "forecast",
                  len(crossed), title, detail,
                  {"budget": b.name, "amount": str(amount), "percent": f"{percent:.1f}"})]


# --- anomalies ----------------------------------------------------------------------------
def anomaly_alerts(wh: Warehouse, day: date, params: Params, book: PriceBook | None = None,
                   cache: dict[date, pd.DataFrame] | None = None) -> list[Alert]:
    """Anomalous meters on `day` (see `alerts.anomalies`); level 2 at 10x the minimum effect."""
    rows = daily_rows(wh, day, params.anomaly_weeks, book, cache)
    found = find_anomalies(rows, day, params.anomaly_weeks, params.anomaly_z,
                           params.anomaly_min_usd)
    return [_anomaly_alert(a, params) for a in found]


def _anomaly_alert(a: Anomaly, params: Params) -> Alert:
    level = 2 if a.effect_usd >= 10 * params.anomaly_min_usd else 1
    drivers = "; ".join(f"{d.resource_id} +{d.excess_quantity:,.0f} {a.unit} "
                        f"({d.share:.0%})" for d in a.drivers)
    title = (f"Cost anomaly in {a.sku_id} on {a.day}: {format_usd(a.effect_usd)} above its "
             f"usual {a.day:%A}")
    body = (f"{a.quantity:,.0f} {a.unit} vs a baseline of {a.baseline:,.0f} (median of the "
            f"same weekday over {params.anomaly_weeks} weeks, spread {a.spread:,.0f}); "
            f"day's cost {format_usd(a.cost)}. Driven by: {drivers or 'no single resource'}")
    return Alert(f"anomaly/{a.sku_id}", "anomaly", level, title, body,
                 {"day": str(a.day), "effect_usd": str(a.effect_usd),
                  "drivers": ",".join(d.resource_id for d in a.drivers)})


# --- runway, syncs, live inputs -----------------------------------------------------------
def runway_alerts(wh: Warehouse, params: Params) -> list[Alert]:
    """Stream storage runway below `params.runway_days` (level 2 below half, 3 when out)."""
    try:
        summary = storage_runway(wh).iloc[0]
    except NotSyncedError:
        return []
    return runway_alert(summary, params)


def runway_alert(r: pd.Series, params: Params) -> list[Alert]:
    """`runway_alerts` on a `costs.runway.storage_runway` row."""
    days = r["days_until_exhaustion"]
    if days is None or pd.isna(days) or days >= params.runway_days:
        return []
    level = 3 if days <= 0 else 2 if days < params.runway_days / 2 else 1
    title = (f"Stream storage runs out in {int(days)} day(s), on {r['exhaustion_date']} "
             f"(threshold {params.runway_days} days)")
    body = (f"{r['stored_minutes']:,.0f} of {r['capacity_minutes']:,.0f} prepaid minutes "
            f"stored; net growth {r['net_growth_per_day']:,.0f} minutes/day; 80% interval "
            f"{r['exhaustion_earliest']} to {r['exhaustion_latest']}. New uploads and live "
            "streams are refused from that day: buy capacity or delete recordings.")
    return [Alert("runway/stream-storage", "runway", level, title, body,
                  {"days": str(int(days))})]


def sync_alerts(wh: Warehouse, now: datetime, params: Params) -> list[Alert]:
    """No successful sync for `params.stale_hours`; the latest finished sync failed."""
    h = sync_health(wh)
    out = []
    last_ok = h["last_ok_at"]
    assert last_ok is None or isinstance(last_ok, datetime)
    age = None if last_ok is None else (now - last_ok).total_seconds() / 3600
    if age is None or age >= params.stale_hours:
        seen = "never" if last_ok is None else f"{age:.0f} hours ago ({last_ok:%Y-%m-%d %H:%M} UTC)"
        out.append(Alert("sync/stale", "sync_stale", 1,
                         f"The warehouse is stale: last successful sync {seen}",
                         f"no successful `lc-analytics sync` for {params.stale_hours:g} hours; "
                         "check the cron job and its log"))
    if h["latest_status"] in ("failed", "interrupted"):
        out.append(Alert("sync/failed", "sync_failed", 1,
                         f"The latest sync {h['latest_status']} (run {h['latest_run_id']})",
                         f"error: {h['latest_error'] or 'not recorded'}"))
    return out
