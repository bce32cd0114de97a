"""What the inventory's own R2 listing calls cost, priced by the engine.

ListObjectsV2 and ListBuckets are Class A requests. The account's requests share one monthly
free allowance, so a listing's own cost is shown before it: the engine prices the calls with
the Class A SKU's list price, its allowance and whole-unit rounding left out.

>>> from lc_analytics.costs.pricebook import load_book
>>> listing_cost_usd(5, date(2026, 6, 30), date(2026, 6, 30), load_book("cloudflare"))
Decimal('0.00002250')
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from .engine import Usage, price_period
from .pricebook import PriceBook

__all__ = ["LISTING_SKU", "listing_cost_usd"]

LISTING_SKU = "cf-r2-standard-class-a"  # ListObjectsV2 / ListBuckets are Class A operations


def listing_cost_usd(calls_per_day: int, first: date, last: date, book: PriceBook) -> Decimal:
    """The engine's price of `calls_per_day` listing calls on each day `first`..`last`
    (inclusive), at the list price before the free allowance.

    >>> from lc_analytics.costs.pricebook import load_book
    >>> listing_cost_usd(1, date(2026, 6, 1), date(2026, 6, 30), load_book("cloudflare"))
    Decimal('0.0001350')
    """
    sku = book.price(LISTING_SKU, last)
    gross = replace(sku, free=Decimal(0), rounding="none", effective_from=date.min)
    list_book = replace(book, versions={**book.versions, LISTING_SKU: (gross,)})
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    usage = Usage(r2_operations=[{"date": d, "bucket": "", "op_class": "A",
                                  "requests": calls_per_day} for d in days])
    bill = price_period(usage, first, last, list_book)
    return sum((li.cost for li in bill.line_items if li.sku_id == LISTING_SKU), Decimal(0))
