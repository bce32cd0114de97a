"""Month to date and forecast to month end, priced by the same engine as the bill."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ..readmodel import synced_through
from ..warehouse import Warehouse
from .engine import Bill, Usage, month_bounds, price_month
from .pricebook import PriceBook, load_book
from .usage import warehouse_usage

WINDOW_DAYS = 28  # daily values the projection learns from
INTERVAL = 0.80  # central prediction interval
RESAMPLES = 2000  # bootstrap paths per meter
SEED = 0  # the bootstrap is seeded: the same warehouse always gives the same interval
_HOW = {
    "flow": "least-squares line through the last {w} daily values, extended over {r} "
            "remaining day(s); {p}% interval: residual bootstrap ({n} refitted lines plus "
            "resampled daily residuals)",
    "sum": "last day's level + mean daily change of the last {w} days, per remaining day; "
           "{p}% interval: bootstrap paths of the daily changes ({n} resamples)",
    "max": "purchased capacity carried to month end (stored minutes: last level + mean daily "
           "change, used only where no capacity is known)",
}
_METER_KIND = {"stream_capacity": "max", "stream_delivery": "flow", "object_storage": "sum",
               "operations": "flow", "retrieval": "flow", "egress": "flow"}


def latest_synced_day(wh: Warehouse) -> date:
    """The last day every daily source has complete (`readmodel.synced_through`); refused
    with NotSyncedError before the first sync.

    >>> latest_synced_day(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    datetime.date(2026, 6, 30)
    """
    return synced_through(wh)


def month_to_date(wh: Warehouse, as_of: date | str | None = None,
                  book: PriceBook | None = None) -> pd.DataFrame:
    """Per SKU and in total: the month-to-date cost and a forecast to month end.

    How it is computed:

    - `as_of` (default: the warehouse's latest synced day, the smallest watermark of the daily
      sources) fixes the month. The month-to-date cost is the engine's bill of the month's
      usage from its first day through `as_of` (a partial month accrues storage only for its
      elapsed days: GB-months are byte-days / days in the month).
    - Each meter's daily series over the last 28 days up to `as_of` (reaching into the previous
      month when needed) is projected over the remaining days of the month:
      flows (Stream minutes delivered; R2 operations per op class and storage class; IA
      retrieval bytes) follow the least-squares line through the 28 daily values (a day
      without records counts as 0; a history shorter than 28 days is used from its first
      day), extended to month end and floored at 0 per day; levels (R2 bytes per
      storage class) continue from the last day's level by the mean daily change; Stream
      storage keeps the latest purchased capacity (the bill charges capacity, not use).
      Projected totals are rounded to whole minutes, bytes and requests.
    - The month to date plus the projected days is priced with the same engine and book as
      the bill, so rounding up, free allowances and prepaid capacity apply exactly as they will.
    - The 80% interval comes from 2,000 seeded bootstrap paths per meter: for flows, lines
      refitted to the fitted values plus resampled residuals, extended with resampled residuals
      for the remaining days; for levels, resampled daily changes. The 10th and 90th
      percentiles of each meter's remaining total (for levels: of the sum of daily levels) are
      priced like the forecast. A SKU's cost rises with its meter, so its bounds are those
      percentiles priced; the total's bounds price every meter at its bound at once, which
      makes the total's interval conservative. The interval always contains the forecast.
    - Only the month's own IA removals through `as_of` owe the 30-day minimum; removals still
      to come are not projected. The total row is the sum of the SKUs.
    - A month whose usage is complete (`as_of` is its last day) has forecast == low == high ==
      month-to-date cost.

    >>> month_to_date(Warehouse("data/demo.duckdb", read_only=True))   # doctest: +SKIP
    """
    day = latest_synced_day(wh) if as_of is None else pd.Timestamp(as_of).date()
    first, _ = month_bounds(day)
    window_start = day - timedelta(days=WINDOW_DAYS - 1)
    parts = [warehouse_usage(wh, first).usage]
    if window_start < first:
        parts.insert(0, warehouse_usage(wh, window_start).usage)
    return forecast_month(_concat(parts), day, book)


def forecast_month(history: Usage, as_of: date | str, book: PriceBook | None = None,
                   window_days: int = WINDOW_DAYS) -> pd.DataFrame:
    """`month_to_date` on usage records instead of a warehouse (see its docstring).

    `history` holds daily records through `as_of` (later days are ignored) covering the
    window; only the month's own days are billed.

    >>> u = Usage(stream_delivery=[{"date": date(2026, 6, d), "minutes": 1000}
    ...                            for d in range(1, 11)])
    >>> f = forecast_month(u, "2026-06-10")
    >>> f.loc[f["sku_id"] == "total", ["mtd_cost", "forecast_cost"]].values.tolist()
    [[Decimal('10.00'), Decimal('30.00')]]
    """
    book = book or load_book("cloudflare")
    day = pd.Timestamp(as_of).date()
    first, nxt = month_bounds(day)
    remaining = (nxt - day).days - 1
    mtd_usage = _until(history, day)
    mtd = price_month(_only(mtd_usage, first), first, book)
    if remaining == 0:
        bills = {"point": mtd, "low": mtd, "high": mtd}
        how = {m: "actual: the month is complete" for m in _METER_KIND}
    else:
        proj = _project(mtd_usage, day, remaining, window_days)
        bills = {k: price_month(_with(_only(mtd_usage, first), proj, k), first, book)
                 for k in ("point", "low", "high")}
        how = {m: _HOW[kind].format(w=window_days, r=remaining, p=round(INTERVAL * 100),
                                    n=f"{RESAMPLES:,}") for m, kind in _METER_KIND.items()}
    return _frame(mtd, bills, how, book, day, first, nxt)


# --- projection --------------------------------------------------------------------------

@dataclass
class _Meter:
    """One projected daily series: the Usage field and the columns that identify it."""

    field: str
    key: dict[str, Any]
    value: str
    kind: str  # flow | sum | max
    integer: bool
    window: np.ndarray  # the window's daily values, oldest first


def _project(usage: Usage, day: date, remaining: int, window_days: int) -> dict[str, list]:
    """Projected records for the remaining days, per scenario: {'point'|'low'|'high': [...]}"""
    dates = [day + timedelta(days=k) for k in range(1, remaining + 1)]
    rng = np.random.default_rng(SEED)
    out: dict[str, list] = {"point": [], "low": [], "high": []}
    for m in _meters(usage, day, window_days):
        paths = _paths(m, remaining, rng)
        for scenario, values in paths.items():
            out[scenario] += [(m.field, {**m.key, "date": d, m.value: v})
                              for d, v in zip(dates, values, strict=True)]
    return out


def _meters(usage: Usage, day: date, window_days: int) -> list[_Meter]:
    starts = [_dated(usage.frame(name, ["date"]))["date"].min() for name in _FIELDS]
    known = [d for d in starts if isinstance(d, date)]
    lo = max(day - timedelta(days=window_days - 1), min(known, default=day))
    grid = [lo + timedelta(days=k) for k in range((day - lo).days + 1)]
    meters = []

    def series(df: pd.DataFrame, value: str, fill: bool) -> np.ndarray:
        s = df.groupby("date")[value].sum() if len(df) else pd.Series(dtype=float)
        s = s[(s.index >= lo) & (s.index <= day)]
        return (s.reindex(grid, fill_value=0) if fill else s.sort_index()).to_numpy(float)

    delivery = _dated(usage.frame("stream_delivery", ["date", "minutes"]))
    if len(delivery):
        meters.append(_Meter("stream_delivery", {}, "minutes", "flow", True,
                             series(delivery, "minutes", True)))
    ops = _dated(usage.frame("r2_operations", ["date", "op_class", "requests"]))
    if len(ops):
        ops = ops.assign(storage_class=ops.get("storage_class", "STANDARD"))
        for (op, cls), grp in ops[ops["op_class"].isin(["A", "B"])].groupby(
                ["op_class", "storage_class"]):
            meters.append(_Meter("r2_operations", {"bucket": "(projected)", "op_class": op,
                                                   "storage_class": cls}, "requests", "flow",
                                 True, series(grp, "requests", True)))
    for name, key in (("r2_retrieval", {"bucket": "(projected)"}), ("egress", {})):
        flow = _dated(usage.frame(name, ["date", "bytes"]))
        if len(flow):
            meters.append(_Meter(name, key, "bytes", "flow", True, series(flow, "bytes", True)))
    storage = _dated(usage.frame("r2_storage", ["date", "storage_class", "bytes"]))
    if len(storage):
        days_known = sorted(set(storage["date"]))
        for cls, grp in storage.groupby("storage_class"):
            known = grp.groupby("date")["bytes"].sum().reindex(days_known, fill_value=0)
            known = known[known.index <= day]
            s = known[known.index >= lo]
            s = s if len(s) else known.iloc[-1:]  # none in the window: hold the last level
            meters.append(_Meter("r2_storage", {"bucket": "(projected)", "storage_class": cls},
                                 "bytes", "sum", True, s.to_numpy(float)))
    st = _dated(usage.frame("stream_storage", ["date", "stored_minutes"]))
    st = st[st["date"] <= day].sort_values("date") if len(st) else st
    if len(st):
        last = st.iloc[-1]
        cap = last.get("capacity_minutes", np.nan)
        held = {} if pd.isna(cap) else {"capacity_minutes": float(cap)}
        meters.append(_Meter("stream_storage", held, "stored_minutes", "max", False,
                             series(st, "stored_minutes", False)))
    return meters


def _paths(m: _Meter, n: int, rng: np.random.Generator) -> dict[str, list]:
    """Daily values for the n remaining days: the point forecast and the interval's bounds."""
    values = m.window
    q = [(1 - INTERVAL) / 2, (1 + INTERVAL) / 2]
    if m.kind == "flow":
        if not len(values):
            return {k: _spread(0, n, m.integer) for k in ("point", "low", "high")}
        x = np.arange(len(values), dtype=float)
        future = np.arange(len(values), len(values) + n, dtype=float)
        a, b = _ols(x, values[None, :])
        total = float(np.maximum(a + b * future, 0).sum())
        residuals = values - (a + b * x)
        refit = (a + b * x) + rng.choice(residuals, (RESAMPLES, len(values)))
        ra, rb = _ols(x, refit)
        paths = ra[:, None] + rb[:, None] * future + rng.choice(residuals, (RESAMPLES, n))
        lo, hi = np.quantile(np.maximum(paths, 0).sum(axis=1), q)
        return {"point": _spread(total, n, m.integer),
                "low": _spread(min(lo, total), n, m.integer),
                "high": _spread(max(hi, total), n, m.integer)}
    last = values[-1] if len(values) else 0.0
    diffs = np.diff(values) if len(values) > 1 else np.zeros(1)
    point = np.maximum(last + diffs.mean() * np.arange(1, n + 1), 0)
    paths = np.maximum(last + np.cumsum(rng.choice(diffs, (RESAMPLES, n)), axis=1), 0)
    if m.kind == "sum":  # priced on the sum of daily levels (byte-days)
        lo, hi = np.quantile(paths.sum(axis=1), q)
        total = point.sum()
        return {"point": _round(point, m.integer),
                "low": _spread(min(lo, total), n, m.integer),
                "high": _spread(max(hi, total), n, m.integer)}
    lo, hi = np.quantile(paths.max(axis=1), q)  # priced on the month's peak
    peak = point.max()
    return {"point": _round(point, m.integer), "low": [float(min(lo, peak))] * n,
            "high": [float(max(hi, peak))] * n}


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares intercept and slope of each row of y against x (exact for a constant)."""
    xc = x - x.mean()
    slope = ((y - y.mean(axis=1, keepdims=True)) * xc).sum(axis=1) / max((xc ** 2).sum(), 1.0)
    return y.mean(axis=1) - slope * x.mean(), slope


def _spread(total: float, n: int, integer: bool) -> list:
    """n daily values adding up to `total` (whole units when `integer`, the rest first)."""
    if not integer:
        return [float(total) / n] * n
    whole = int(round(float(total)))
    base, rest = divmod(whole, n)
    return [base + (1 if k < rest else 0) for k in range(n)]


def _round(values: np.ndarray, integer: bool) -> list:
    return [int(round(v)) for v in values] if integer else [float(v) for v in values]


# --- usage plumbing ----------------------------------------------------------------------

_FIELDS = ("stream_storage", "stream_delivery", "r2_storage", "r2_operations", "r2_retrieval",
           "egress")


def _dated(df: pd.DataFrame) -> pd.DataFrame:
    if not len(df):
        return df
    return df.assign(date=pd.to_datetime(df["date"], utc=True).dt.date)


def _concat(parts: list[Usage]) -> Usage:
    def cat(name: str) -> pd.DataFrame | None:
        frames = [getattr(p, name) for p in parts if getattr(p, name) is not None]
        frames = [f if isinstance(f, pd.DataFrame) else pd.DataFrame(list(f)) for f in frames]
        frames = [f for f in frames if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else None

    removals = cat("r2_ia_removals")
    if removals is not None:
        removals = removals.drop_duplicates()
    return Usage(**{n: cat(n) for n in _FIELDS}, r2_ia_removals=removals)


def _until(usage: Usage, day: date) -> Usage:
    """The records of days up to and including `day` (IA removals up to its end)."""
    out = {}
    for name in _FIELDS:
        df = _dated(usage.frame(name, ["date"]))
        out[name] = df[df["date"] <= day] if len(df) else None
    rem = usage.frame("r2_ia_removals", ["size_bytes", "ia_from", "removed_at"])
    if len(rem):
        end = pd.Timestamp(day + timedelta(days=1), tz="UTC")
        rem = rem[pd.to_datetime(rem["removed_at"], utc=True) < end]
    return Usage(**out, r2_ia_removals=rem if len(rem) else None)


def _only(usage: Usage, first: date) -> Usage:
    """Drop the window's days before the month (the engine ignores them; keep frames small)."""
    out = {}
    for name in _FIELDS:
        df = getattr(usage, name)
        out[name] = df[df["date"] >= first] if isinstance(df, pd.DataFrame) else df
    return Usage(**out, r2_ia_removals=usage.r2_ia_removals)


def _with(usage: Usage, proj: dict[str, list], scenario: str) -> Usage:
    out = {name: getattr(usage, name) for name in _FIELDS}
    for name in _FIELDS:
        rows = [r for f, r in proj[scenario] if f == name]
        if rows:
            frames = [f for f in (out[name], pd.DataFrame(rows)) if f is not None and len(f)]
            out[name] = pd.concat(frames, ignore_index=True)
    return Usage(**out, r2_ia_removals=usage.r2_ia_removals)


def _frame(mtd: Bill, bills: dict[str, Bill], how: dict[str, str], book: PriceBook, day: date,
           first: date, nxt: date) -> pd.DataFrame:
    skus = {s.id: s for s in book.skus(first)}
    ids = sorted({li.sku_id for b in (mtd, *bills.values()) for li in b.line_items})
    rows = [{"sku_id": i, "service": skus[i].service, "mtd_cost": mtd.cost_of(i),
             "forecast_cost": bills["point"].cost_of(i), "forecast_low": bills["low"].cost_of(i),
             "forecast_high": bills["high"].cost_of(i), "method": how[skus[i].meter]}
            for i in ids]
    rows.append({"sku_id": "total", "service": "all", "mtd_cost": mtd.total,
                 "forecast_cost": bills["point"].total, "forecast_low": bills["low"].total,
                 "forecast_high": bills["high"].total,
                 "method": "sum of the SKUs (bounds: every meter at its bound together)"})
    df = pd.DataFrame(rows)
    df.insert(5, "days_elapsed", (day - first).days + 1)
    df.insert(6, "days_in_month", (nxt - first).days)
    return df[["sku_id", "service", "mtd_cost", "forecast_cost", "forecast_low", "forecast_high",
               "days_elapsed", "days_in_month", "method"]]
