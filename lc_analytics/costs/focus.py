"""Daily allocated costs as FOCUS 1.2 cost-and-usage rows: CSV, Parquet, or a warehouse view.

One row per allocation row (`allocate.py`: day x SKU x resource), with every column FOCUS 1.2
makes mandatory, the conditional ones this data can fill, and custom `x_` columns:

- BilledCost = EffectiveCost = ContractedCost = the allocated cost (no commitments, credits
  or taxes are modelled); ListCost prices the same PricingQuantity at the base book's list
  price, so it differs only under a contract overlay.
- PricingQuantity is the row's share of the billed units: cost / ContractedUnitPrice, so the
  free allowance and rounding up are in it as they are in the cost (a row inside the free
  tier has quantity 0). ConsumedQuantity is the row's usage before either.
- Units follow the FOCUS unit format ("1000 Minutes", "GB-Months", "1000000 Requests").
- ChargeCategory is "Usage" throughout; prepaid Stream capacity is ChargeFrequency
  "Recurring" (a monthly charge, spread over the days), everything else "Usage-Based".
- ChargePeriod is the UTC day, BillingPeriod the calendar month.
- Money and quantities are exact Decimals: CSV writes every digit, Parquet and the warehouse
  hold DECIMAL(38, 24) (exact for every Cloudflare price, which round to whole units).
- ResourceId is the video or live input uid, `bucket` or `bucket/prefix`, or
  `unallocated-capacity`; ResourceName is a video's or live input's name where it has one.
- InvoiceId is null: these are modelled costs, not lines of an issued invoice.
- x_LiveInputId, x_Creator, x_Bucket, x_Prefix, x_StorageClass: the allocation's attributes;
  x_AllocationBasis: what the row's share was measured by; x_PriceBook: the book and overlay.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import UsageError
from ..readmodel import covered_days, resource_names
from ..warehouse import Warehouse
from .allocate import Allocation, allocate_month
from .engine import month_bounds, price_month
from .pricebook import PriceBook, Sku, load_book

FOCUS_VERSION = "1.2"
DECIMAL_TYPE = pa.decimal128(38, 24)
_DECIMAL_PLACES = Decimal(1).scaleb(-24)
DECIMALS = ("BilledCost", "ConsumedQuantity", "ContractedCost", "ContractedUnitPrice",
            "EffectiveCost", "ListCost", "ListUnitPrice", "PricingQuantity")
DATETIMES = ("BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart")
FOCUS_COLUMNS = (
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart",
    "ConsumedQuantity", "ConsumedUnit", "ContractedCost", "ContractedUnitPrice", "EffectiveCost",
    "InvoiceId", "InvoiceIssuerName", "ListCost", "ListUnitPrice", "PricingCategory",
    "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName", "ResourceId",
    "ResourceName", "ResourceType", "ServiceCategory", "ServiceName", "ServiceSubcategory",
    "SkuId", "SkuMeter", "SkuPriceDetails", "SkuPriceId", "Tags",
)
CUSTOM_COLUMNS = ("x_LiveInputId", "x_Creator", "x_Bucket", "x_Prefix", "x_StorageClass",
                  "x_AllocationBasis", "x_PriceBook")
COLUMNS = FOCUS_COLUMNS + CUSTOM_COLUMNS
TABLE = "focus_cost_rows"  # written by refresh_focus; the view `focus_costs` reads it
FORMATS = ("csv", "parquet")

_UNITS = {"minute": "Minutes", "gb-month": "GB-Months", "request": "Requests", "gb": "GB"}
_CATEGORY = {"stream_capacity": ("Media", "Media Streaming"),
             "stream_delivery": ("Media", "Media Streaming"),
             "object_storage": ("Storage", "Object Storage"),
             "operations": ("Storage", "Object Storage"),
             "retrieval": ("Storage", "Object Storage"),
             "egress": ("Networking", "Content Delivery")}
_RESOURCE_TYPES = {"video": "Stream Video", "live_input": "Stream Live Input",
                   "capacity": "Stream Storage Capacity", "bucket": "R2 Bucket",
                   "prefix": "R2 Bucket Prefix", "unallocated": "Unallocated"}
_CLASS_NAMES = {"STANDARD": "Standard", "STANDARD_IA": "Infrequent Access"}


@dataclass(frozen=True)
class FocusExport:
    """What `export_focus` wrote: where, how many rows, which months and price book."""

    path: Path
    format: str
    rows: int
    months: tuple[str, ...]
    book: str
    total: Decimal  # sum of BilledCost
    currency: str


def focus_rows(wh: Warehouse, months: Iterable[date | str] | None = None,
               book: PriceBook | None = None, *, account_id: str | None = None,
               account_name: str | None = None) -> pd.DataFrame:
    """FOCUS 1.2 rows of `months` (default: `default_months`), costs as Decimal.

    `book` defaults to the Cloudflare list prices. `account_id` is the Cloudflare account id
    (BillingAccountId; default: the account the warehouse holds, else "unknown"),
    `account_name` its display name (or null).

    >>> rows = focus_rows(Warehouse("data/demo.duckdb", read_only=True), ["2026-06"],
    ...                   account_id="0123abcd")                     # doctest: +SKIP
    >>> sum(rows["BilledCost"])                                      # doctest: +SKIP
    Decimal('430.900000')
    """
    book = book or load_book("cloudflare")
    chosen = default_months(wh) if months is None else _month_list(months)
    names = resource_names(wh)
    account_id = account_id or wh.account_id() or "unknown"
    frames = [_month_rows(allocate_month(wh, m, book), book, account_id,
                          account_name, names) for m in chosen]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: [] for c in COLUMNS})
    return pd.concat(frames, ignore_index=True)


def default_months(wh: Warehouse) -> list[str]:
    """Every calendar month the warehouse covers completely, plus the current month to date.

    Coverage starts on the latest first day of the daily usage tables that have rows (Stream
    minutes viewed, R2 storage, R2 operations: a month only partly in one of them would be
    understated) and ends on the last day every daily source has synced.

    >>> default_months(Warehouse("data/demo.duckdb", read_only=True))   # doctest: +SKIP
    ['2026-06']
    """
    start, through = covered_days(wh)
    month, _ = month_bounds(start)
    out = []
    while month < through:
        first, nxt = month_bounds(month)
        if (first >= start and nxt <= through) or (first < through < nxt):
            out.append(f"{first:%Y-%m}")
        month = nxt
    return out


def export_focus(wh: Warehouse, path: str | Path, format: str = "csv",
                 months: Iterable[date | str] | None = None, book: PriceBook | None = None,
                 *, into_warehouse: bool = False, account_id: str | None = None,
                 account_name: str | None = None) -> FocusExport:
    """Write the FOCUS rows of `months` to a CSV or Parquet file (and, if asked, the warehouse).

    CSV writes numbers in plain notation with every digit and times as
    YYYY-MM-DDTHH:MM:SSZ; Parquet uses decimal128(38, 24) and UTC timestamps. With
    `into_warehouse=True` the same rows also replace those months in `focus_cost_rows`
    (`refresh_focus`), which needs a writable `wh`.

    >>> export_focus(Warehouse("data/demo.duckdb", read_only=True), "focus.parquet",
    ...              "parquet", account_id="0123abcd")               # doctest: +SKIP
    FocusExport(path=PosixPath('focus.parquet'), format='parquet', rows=29907, ...)
    """
    if format not in FORMATS:
        raise UsageError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    book = book or load_book("cloudflare")
    chosen = default_months(wh) if months is None else _month_list(months)
    rows = focus_rows(wh, chosen, book, account_id=account_id, account_name=account_name)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if format == "csv":
        _write_csv(rows, target)
    else:
        pq.write_table(focus_table(rows), target)
    if into_warehouse:
        refresh_focus(wh, chosen, book, rows=rows)
    return FocusExport(path=target, format=format, rows=len(rows), months=tuple(chosen),
                       book=book.label, total=sum(rows["BilledCost"], Decimal(0)),
                       currency=book.currency)


def refresh_focus(wh: Warehouse, months: Iterable[date | str] | None = None,
                  book: PriceBook | None = None, *, rows: pd.DataFrame | None = None,
                  account_id: str | None = None, account_name: str | None = None) -> int:
    """Replace `months` in the warehouse table `focus_cost_rows` (view `focus_costs`) at once.

    All months are written in one transaction, so the view never shows a half-written
    refresh; a month with no rows is emptied. Returns the rows written.

    >>> refresh_focus(Warehouse("data/demo.duckdb"), ["2026-06"])   # doctest: +SKIP
    29907
    """
    book = book or load_book("cloudflare")
    chosen = default_months(wh) if months is None else _month_list(months)
    if rows is None:
        rows = focus_rows(wh, chosen, book, account_id=account_id, account_name=account_name)
    table = focus_table(rows)
    starts = pd.Series([v.date() for v in rows["BillingPeriodStart"]], dtype=object)
    written = 0
    with wh.transaction() as tx:
        for month in chosen:
            first, nxt = month_bounds(month)
            mask = pa.array((starts == first).to_numpy(dtype=bool), type=pa.bool_())
            written += tx.replace_range(TABLE, "BillingPeriodStart", _utc(first), _utc(nxt),
                                        table.filter(mask))
    return written


def focus_table(rows: pd.DataFrame) -> pa.Table:
    """The rows as an Arrow table: decimal128(38, 24), timestamp[us, UTC], strings.

    >>> focus_table(focus_rows(wh, ["2026-06"])).schema.field("BilledCost").type  # doctest: +SKIP
    Decimal128Type(decimal128(38, 24))
    """
    arrays = []
    for name in COLUMNS:
        column = rows[name] if name in rows else pd.Series([None] * len(rows), dtype=object)
        if name in DECIMALS:
            arrays.append(_decimal_array(list(column)))
        elif name in DATETIMES:
            arrays.append(pa.array(pd.to_datetime(column, utc=True),
                                   type=pa.timestamp("us", tz="UTC")))
        else:
            arrays.append(pa.array(column, type=pa.string(), from_pandas=True))
    return pa.Table.from_arrays(arrays, names=list(COLUMNS))


def _decimal_array(values: list[Any]) -> pa.Array:
    """Decimals as decimal128(38, 24); digits beyond the 24th place are rounded half-even."""
    try:
        return pa.array(values, type=DECIMAL_TYPE)
    except pa.ArrowInvalid:  # more than 24 decimal places somewhere
        pass
    with localcontext() as ctx:
        ctx.prec = 38  # room for the integer digits in front of 24 decimals
        return pa.array([None if v is None else v.quantize(_DECIMAL_PLACES) for v in values],
                        type=DECIMAL_TYPE)


# --- one month -----------------------------------------------------------------------------

def _month_rows(allocation: Allocation, book: PriceBook, account_id: str,
                account_name: str | None, names: dict[str, str]) -> pd.DataFrame:
    rows, bill = allocation.rows, allocation.bill
    if not len(rows):
        return pd.DataFrame({c: [] for c in COLUMNS})
    first, nxt = month_bounds(bill.month)
    prices = _prices(allocation, book)
    out: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    constant = {"BillingAccountId": account_id, "BillingAccountName": account_name,
                "BillingCurrency": bill.currency, "BillingPeriodStart": pd.Timestamp(first, tz=UTC),
                "BillingPeriodEnd": pd.Timestamp(nxt, tz=UTC), "ChargeCategory": "Usage",
                "ChargeClass": None, "InvoiceId": None, "InvoiceIssuerName": book.provider,
                "PricingCategory": "Standard", "ProviderName": book.provider,
                "PublisherName": book.provider, "x_PriceBook": bill.book}
    for rec in rows.itertuples(index=False):
        p = prices[rec.sku_id]
        cost: Decimal = rec.cost
        quantity = cost / p["unit_price"] if p["unit_price"] else \
            rec.consumed_quantity / p["block"]
        list_cost = cost if p["list_price"] == p["unit_price"] else p["list_price"] * quantity
        start = pd.Timestamp(rec.date, tz=UTC)
        values = {
            **constant,
            "BilledCost": cost, "EffectiveCost": cost, "ContractedCost": cost,
            "ListCost": list_cost, "ContractedUnitPrice": p["unit_price"],
            "ListUnitPrice": p["list_price"], "PricingQuantity": quantity,
            "PricingUnit": p["pricing_unit"], "ConsumedQuantity": rec.consumed_quantity,
            "ConsumedUnit": p["consumed_unit"], "ChargeDescription": p["description"],
            "ChargeFrequency": p["frequency"], "ChargePeriodStart": start,
            "ChargePeriodEnd": start + timedelta(days=1),
            "ResourceId": rec.resource_id, "ResourceName": names.get(rec.resource_id),
            "ResourceType": _RESOURCE_TYPES.get(rec.resource_type, rec.resource_type),
            "ServiceCategory": p["category"], "ServiceSubcategory": p["subcategory"],
            "ServiceName": rec.service, "SkuId": rec.sku_id, "SkuMeter": p["meter"],
            "SkuPriceId": p["price_id"], "SkuPriceDetails": p["details"],
            "Tags": json.dumps({"creator": rec.creator}) if _present(rec.creator) else None,
            "x_LiveInputId": rec.live_input_uid if _present(rec.live_input_uid) else None,
            "x_Creator": rec.creator if _present(rec.creator) else None,
            "x_Bucket": rec.bucket if _present(rec.bucket) else None,
            "x_Prefix": rec.prefix if _present(rec.prefix) else None,
            "x_StorageClass": rec.storage_class if _present(rec.storage_class) else None,
            "x_AllocationBasis": rec.basis,
        }
        for name in COLUMNS:
            out[name].append(values[name])
    return pd.DataFrame(out)


def _prices(allocation: Allocation, book: PriceBook) -> dict[str, dict[str, Any]]:
    """Per SKU on the bill: contracted and list unit price, units, names, price id, details."""
    bill = allocation.bill
    first = bill.month
    base = _list_book(book)
    list_bill = price_month(allocation.usage.usage, first, base) if base is not book else bill
    out: dict[str, dict[str, Any]] = {}
    for sku_id in dict.fromkeys(li.sku_id for li in bill.line_items):
        sku = book.price(sku_id, first)
        items = [li for li in bill.line_items if li.sku_id == sku_id]
        listed = [li for li in list_bill.line_items if li.sku_id == sku_id]
        unit_price = _unit_price(sku, items)
        list_price = _unit_price(base.price(sku_id, first), listed)
        category, subcategory = _CATEGORY.get(sku.meter, ("Other", "Other (Other)"))
        consumed_unit = _unit(sku.consumed_unit)
        out[sku_id] = {
            "unit_price": unit_price, "list_price": list_price, "block": sku.pricing_block,
            "pricing_unit": consumed_unit if sku.pricing_block == 1 else
            f"{sku.pricing_block:f} {consumed_unit}",
            "consumed_unit": consumed_unit, "description": sku.description,
            "frequency": "Recurring" if sku.charge == "capacity" else "Usage-Based",
            "category": category, "subcategory": subcategory, "meter": _meter(sku),
            "price_id": f"{sku.id}@{sku.effective_from:%Y-%m-%d}", "details": _details(sku),
        }
    return out


def _unit_price(sku: Sku, items: list[Any]) -> Decimal:
    """The SKU's price per pricing unit; for a tiered SKU the month's average."""
    units = sum((li.billed_units for li in items), Decimal(0))
    if sku.tiers and units:
        return sum((li.cost for li in items), Decimal(0)) / units
    return sku.amount


def _list_book(book: PriceBook) -> PriceBook:
    """The book without its overlays (the published list prices)."""
    if len(book.files) <= 1:
        return book
    origin = book.files[0]
    versions = {k: tuple(v for v in vs if v.origin == origin) or vs
                for k, vs in book.versions.items()}
    return replace(book, versions=versions, files=book.files[:1])


def _unit(unit: str) -> str:
    return _UNITS.get(unit.lower(), unit)


def _meter(sku: Sku) -> str:
    storage = _CLASS_NAMES.get(sku.storage_class or "", "")
    return {"stream_capacity": "Storage Capacity", "stream_delivery": "Minutes Delivered",
            "object_storage": f"{storage} Storage".strip(),
            "operations": f"{storage} Class {sku.op_class or ''} Operations".strip(),
            "retrieval": "Data Retrieval", "egress": "Data Transfer Out"}.get(sku.meter,
                                                                               sku.meter)


def _details(sku: Sku) -> str:
    details = {"x_EffectiveFrom": f"{sku.effective_from:%Y-%m-%d}", "x_Source": sku.source,
               "x_PriceFile": sku.origin, "x_FreeAllowance": f"{sku.free:f} "
               f"{_unit(sku.consumed_unit)} per month",
               "x_Rounding": "up to whole pricing units" if sku.rounding == "up" else "none"}
    if sku.storage_class:
        details["x_StorageClass"] = sku.storage_class
    if sku.op_class:
        details["x_OperationClass"] = sku.op_class
    return json.dumps(details, sort_keys=True)


# --- small helpers --------------------------------------------------------------------------

def _month_list(months: Iterable[date | str]) -> list[str]:
    return sorted(dict.fromkeys(f"{month_bounds(m)[0]:%Y-%m}" for m in months))


def _present(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _csv_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _write_csv(rows: pd.DataFrame, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for rec in rows[list(COLUMNS)].itertuples(index=False):
            writer.writerow([_csv_value(v) for v in rec])
