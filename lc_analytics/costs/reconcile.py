"""Reconciliation: the engine's bill of each month against what Cloudflare billed.

Per month, product and billed metric, the modelled quantity and cost (`month_bill`, the
engine's line items) are set against the billed ones (`billed_usage`, the billable-usage API),
and every difference of a cent or more gets one explanation:

- `contract_price`: the quantities agree but the billed unit price is not the book's: the
  account has a contract price. The proposed price overlay (the format `load_book(...,
  overlay=)` reads) closes it: its `effective_from` is the first month billed at that price.
- `not_modelled`: a product the price book does not cover (no SKU prices that metric).
- `timing`: the warehouse does not hold the whole billed period for that service (R2
  analytics are kept 31 days, a window edge, a month still accruing): the model prices fewer
  days than the bill.
- `unexplained`: anything else, with both quantities, to investigate.

>>> rec = reconcile(Warehouse("data/demo.duckdb", read_only=True))    # doctest: +SKIP
>>> rec.rows[["month", "metric", "difference", "kind"]]              # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd

from .. import readmodel
from ..money import format_usd
from ..warehouse import Warehouse
from .billing import month_coverage, month_name
from .engine import Bill, price_month
from .pricebook import PriceBook, load_book
from .usage import warehouse_usage

__all__ = ["BILLED_METRICS", "KINDS", "Reconciliation", "reconcile"]

#: billed metric (V2 x_BillableMetricId, or V1 ServiceName) -> (SKU of the price book,
#: how the month's daily quantities add up: "sum", or "max" for prepaid capacity)
BILLED_METRICS: dict[str, tuple[str, str]] = {}
for _ids, _sku, _agg in (
    (("stream-minutes-delivered", "Stream Minutes Delivered"), "cf-stream-minutes-delivered",
     "sum"),
    (("stream-minutes-stored", "Stream Minutes Stored"), "cf-stream-minutes-stored", "max"),
    (("r2-storage-standard", "R2 Storage Standard"), "cf-r2-standard-storage", "sum"),
    (("r2-storage-ia", "R2 Storage Infrequent Access"), "cf-r2-ia-storage", "sum"),
    (("r2-class-a-standard", "R2 Class A Operations Standard"), "cf-r2-standard-class-a",
     "sum"),
    (("r2-class-b-standard", "R2 Class B Operations Standard"), "cf-r2-standard-class-b",
     "sum"),
    (("r2-class-a-ia", "R2 Class A Operations Infrequent Access"), "cf-r2-ia-class-a", "sum"),
    (("r2-class-b-ia", "R2 Class B Operations Infrequent Access"), "cf-r2-ia-class-b", "sum"),
    (("r2-ia-retrieval", "R2 Data Retrieval Infrequent Access"), "cf-r2-ia-retrieval", "sum"),
):
    for _id in _ids:
        BILLED_METRICS[_id] = (_sku, _agg)

KINDS = ("match", "contract_price", "not_modelled", "timing", "unexplained")
CENT = Decimal("0.01")
_COLUMNS = ["month", "product", "metric", "name", "sku_id", "consumed_unit",
            "modelled_quantity", "billed_quantity", "modelled_cost", "billed_cost",
            "difference", "kind", "explanation", "billed_unit_price"]


@dataclass
class Reconciliation:
    """The rows of the reconciliation, the overlays that close contract prices, and a note
    when nothing billed was synced."""

    rows: pd.DataFrame
    overlays: dict[str, str] = field(default_factory=dict)  # sku id -> overlay TOML text
    note: str = ""

    def months(self) -> pd.DataFrame:
        """Per month: modelled, billed, difference (Decimal) and the unexplained count."""
        if not len(self.rows):
            return pd.DataFrame(columns=["month", "modelled", "billed", "difference",
                                         "unexplained"])
        out = []
        for month, grp in self.rows.groupby("month", sort=True):
            modelled = sum(grp["modelled_cost"], Decimal(0))
            billed = sum(grp["billed_cost"], Decimal(0))
            out.append({"month": month, "modelled": modelled, "billed": billed,
                        "difference": billed - modelled,
                        "unexplained": int((grp["kind"] == "unexplained").sum())})
        return pd.DataFrame(out)

    def differences(self) -> pd.DataFrame:
        """The rows that do not match, largest first."""
        df = self.rows[self.rows["kind"] != "match"]
        return df.iloc[sorted(range(len(df)), key=lambda i: -abs(df["difference"].iloc[i]))]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: months, differences and overlays (money as exact decimal strings)."""
        def plain(df: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: (str(v) if isinstance(v, (Decimal, date)) else v) for k, v in r.items()}
                    for r in df.to_dict("records")]
        return {"note": self.note, "months": plain(self.months()),
                "differences": plain(self.differences()[
                    ["month", "product", "metric", "sku_id", "modelled_cost", "billed_cost",
                     "difference", "kind", "explanation"]]),
                "overlays": dict(self.overlays)}


@dataclass(frozen=True)
class _Modelled:
    """A month's bill from the engine and the sentence per service the warehouse lacks."""

    month: date
    bill: Bill
    gaps: dict[str, tuple[int, str]]  # service -> (days the warehouse holds, sentence)


def _modelled(wh: Warehouse, month: date, book: PriceBook, through: date) -> _Modelled:
    """The engine's bill of `month` over the days the bill covers (through `through`)."""
    cov = month_coverage(wh, month)
    gaps = {}
    for service, grp in cov.groupby("service", sort=False):
        short = grp[~grp["complete"]]
        if len(short):
            held = int(short["days_covered"].min())
            gaps[str(service)] = (held, f"the warehouse holds {service} data for {held} of "
                                        f"{int(grp['days_in_month'].iloc[0])} days of "
                                        f"{month_name(month)}")
    usage = warehouse_usage(wh, month).usage
    for name in ("stream_storage", "stream_delivery", "r2_storage", "r2_operations",
                 "r2_retrieval"):
        df = getattr(usage, name)
        if isinstance(df, pd.DataFrame) and len(df) and "date" in df:
            setattr(usage, name, df[pd.to_datetime(df["date"]).dt.date <= through])
    bill = price_month(usage, month, book)
    return _Modelled(month, bill, gaps)


def reconcile(wh: Warehouse, book: PriceBook | None = None,
              months: list[date] | None = None) -> Reconciliation:
    """Reconcile every month the warehouse holds billed usage for (or only `months`, given
    as their first days); see the module docstring.

    >>> reconcile(wh).months()                                        # doctest: +SKIP
    """
    book = book or load_book("cloudflare")
    billed = readmodel.billed_monthly(wh)
    if not len(billed):
        return Reconciliation(pd.DataFrame(columns=_COLUMNS), note=(
            "no billed usage in the warehouse: the billable-usage API is not enabled for "
            "this account or the token lacks 'Account > Billing > Read' (the sync report "
            "says which)"))
    rows: list[dict[str, Any]] = []
    for month, grp in billed.groupby("month", sort=True):
        if months is None or month in months:
            rows += _month_rows(month, grp, _modelled(wh, month, book, max(grp["last_day"])))
    df = pd.DataFrame(rows, columns=_COLUMNS)
    return Reconciliation(df, _overlays(df, book))


def _month_rows(month: date, billed: pd.DataFrame, mb: _Modelled) -> list[dict[str, Any]]:
    lines = {li.sku_id: li for li in mb.bill.line_items}
    gaps = mb.gaps
    seen: set[str] = set()
    out = []
    for r in billed.itertuples():
        sku_id, agg = BILLED_METRICS.get(r.metric, (None, "sum"))
        li = lines.get(sku_id) if sku_id else None
        seen.add(sku_id or "")
        row = {"month": month, "product": r.product, "metric": r.metric, "name": r.name,
               "sku_id": sku_id, "consumed_unit": r.consumed_unit,
               "modelled_quantity": li.consumed_quantity if li else Decimal(0),
               "billed_quantity": r.quantity_max if agg == "max" else r.quantity_sum,
               "modelled_cost": li.cost if li else Decimal(0), "billed_cost": r.billed_cost}
        row["difference"] = row["billed_cost"] - row["modelled_cost"]
        service = li.service if li else ("Stream" if r.product == "Stream" else r.product)
        kind, why, price = _explain(row, r, sku_id, gaps.get(service), mb)
        out.append({**row, "kind": kind, "explanation": why, "billed_unit_price": price})
    for sku_id, li in lines.items():  # modelled, but nothing billed for it
        if sku_id not in seen and abs(li.cost) >= CENT:
            out.append({"month": month, "product": li.service, "metric": "", "name":
                        li.description, "sku_id": sku_id, "consumed_unit": li.consumed_unit,
                        "modelled_quantity": li.consumed_quantity,
                        "billed_quantity": Decimal(0), "modelled_cost": li.cost,
                        "billed_cost": Decimal(0), "difference": -li.cost,
                        "kind": "unexplained", "explanation":
                        f"modelled {li.cost} for {sku_id} but nothing billed for it",
                        "billed_unit_price": None})
    return out


def _explain(row: dict[str, Any], billed: Any, sku_id: str | None,
             gap: tuple[int, str] | None,
             mb: _Modelled) -> tuple[str, str, Decimal | None]:
    """The kind of one row's difference and the sentence that explains it."""
    diff, label = row["difference"], month_name(mb.month)
    if sku_id is None:
        return "not_modelled", (f"{billed.product} ({billed.name}) is billed "
                                f"{format_usd(row['billed_cost'])} in {label}: a product "
                                "the price book does not cover"), None
    if abs(diff) < CENT:
        return "match", "", None
    if gap is not None and gap[0] < (billed.last_day - mb.month).days + 1:
        return "timing", (f"{gap[1]}, the bill runs to {billed.last_day}: the model prices "
                          "fewer days than the bill"), None
    modelled_q, billed_q = row["modelled_quantity"], row["billed_quantity"]
    same = abs(billed_q - modelled_q) <= max(abs(modelled_q) * Decimal("1e-9"), Decimal("1e-6"))
    if same and billed.pricing_quantity:
        price = _unit_price(billed.billed_cost, billed.pricing_quantity)
        return "contract_price", (f"same quantity ({billed_q} {billed.consumed_unit}), billed "
                                  f"at {price} per pricing unit instead of the book's "
                                  f"{_book_price(mb, sku_id)}: a contract price"), price
    return "unexplained", (f"billed {billed_q} {billed.consumed_unit}, modelled {modelled_q}; "
                           f"difference {diff}"), None


def _unit_price(cost: Decimal, units: Decimal) -> Decimal:
    """Billed cost per pricing unit, to 6 decimal places (trailing zeros dropped)."""
    price = (cost / units).quantize(Decimal("0.000001")).normalize()
    return price.quantize(CENT) if price.as_tuple().exponent > -2 else price  # type: ignore


def _book_price(mb: _Modelled, sku_id: str) -> Decimal:
    return next(li.unit_price for li in mb.bill.line_items if li.sku_id == sku_id)


def _overlays(df: pd.DataFrame, book: PriceBook) -> dict[str, str]:
    """One overlay per SKU billed at a contract price, from its first such month."""
    out: dict[str, str] = {}
    contract = df[df["kind"] == "contract_price"].sort_values("month")
    for sku_id, grp in contract.groupby("sku_id", sort=True):
        first = grp.iloc[0]
        price = first["billed_unit_price"]
        out[str(sku_id)] = (
            f'# proposed by lc-analytics reconcile: {first["name"]} is billed at {price} '
            f"per {book.price(str(sku_id), first['month']).pricing_unit}\n"
            f'[overlay]\nname = "reconciled-{first["month"]:%Y-%m}"\n\n'
            f"[sku.{sku_id}]\n"
            f'amount = "{price}"\n'
            f"effective_from = {first['month'].isoformat()}\n"
            f'source = "Cloudflare billable usage: BilledCost / PricingQuantity, '
            f'{first["month"]:%Y-%m}"\n')
    return out
