"""Cloudflare's billable usage (reference 8.3), served from the sandbox's own bill
(`sandbox.billing_truth`): V2 `GET billable/usage` (FOCUS-aligned rows with `x_` metric ids)
and V1 `GET billable-usage` (+ `billable-usage/info`; the window must include the billing
cycle's anchor day, here the 1st of a month, or no rows come back). Both need the token
permission `billing:read`; at most 31 days per request.

`switch(emulator)` turns either version off for a test: V2 off answers 403 (alpha,
restricted), V1 off answers 404, like an account where they are not enabled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from .. import billing_truth
from ..emulator import ACCOUNT, Emulator, Problem, Request, envelope, register, route

MAX_DAYS = 31


@dataclass
class BillingSwitch:
    """Which billable-usage versions the account has, and the months already priced."""

    v2: bool = True
    v1: bool = True
    cache: dict[tuple[Any, date], pd.DataFrame] = field(default_factory=dict)


def switch(emulator: Emulator) -> BillingSwitch:
    """The emulator's billable-usage switches (set `.v2` / `.v1` False to disable)."""
    return emulator.module_state("billing", BillingSwitch)


def _window(request: Request) -> tuple[date, date]:
    try:
        lo = date.fromisoformat(request.query["from"][:10])
        hi = date.fromisoformat(request.query["to"][:10])
    except KeyError as exc:
        raise Problem(400, 1001, f"query parameter {exc.args[0]!r} is required") from None
    except ValueError:
        raise Problem(400, 1002, "from and to must be dates (YYYY-MM-DD)") from None
    if hi < lo:
        raise Problem(400, 1003, "to must not be before from")
    if (hi - lo).days + 1 > MAX_DAYS:
        raise Problem(400, 1004, f"the window spans more than {MAX_DAYS} days")
    return lo, hi


def _rows(em: Emulator, lo: date, hi: date) -> pd.DataFrame:
    """The billed rows of [lo, hi], each month priced once per clock reading."""
    sw, account = switch(em), em.account
    parts = []
    month = lo.replace(day=1)
    while month <= hi:
        key = (account.now, month)
        if key not in sw.cache:
            nxt = (month + timedelta(days=32)).replace(day=1)
            sw.cache[key] = billing_truth.billed_rows(account, month,
                                                      nxt - timedelta(days=1))
        df = sw.cache[key]
        parts.append(df[(df["date"] >= lo) & (df["date"] <= hi)])
        month = (month + timedelta(days=32)).replace(day=1)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _num(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(round(value, 12))


def _common(em: Emulator, r: Any) -> dict[str, Any]:
    metric = billing_truth.METRICS[r.metric]
    start = f"{r.date.isoformat()}T00:00:00Z"
    return {
        "BillingAccountId": em.account.account_id, "BillingCurrency": "USD",
        "ChargeCategory": "Usage", "ChargePeriodStart": start,
        "ChargePeriodEnd": f"{(r.date + timedelta(days=1)).isoformat()}T00:00:00Z",
        "ConsumedQuantity": _num(r.quantity), "ConsumedUnit": metric.consumed_unit,
        "PricingQuantity": _num(r.pricing_quantity), "PricingUnit": metric.pricing_unit,
        "BilledCost": _num(r.billed_cost), "ContractedCost": _num(r.billed_cost),
        "EffectiveCost": _num(r.billed_cost), "ListCost": _num(r.list_cost),
        "ServiceName": metric.name,
    }


def _usage_v2(em: Emulator, request: Request) -> tuple[int, dict]:
    if not switch(em).v2:
        raise Problem(403, 10000, "billable usage (v2) is not enabled for this account")
    lo, hi = _window(request)
    items = []
    for r in _rows(em, lo, hi).itertuples():
        metric = billing_truth.METRICS[r.metric]
        items.append({**_common(em, r), "ListUnitPrice": _num(metric.price),
                      "x_ProductFamilyName": metric.family, "x_BillableMetricId": metric.id,
                      "x_BillableMetricName": metric.name, "x_ZoneId": None,
                      "SubAccountId": None})
    return 200, envelope(items)


def _anchor(em: Emulator) -> date:
    return em.account.start.replace(day=1)


def _usage_v1(em: Emulator, request: Request) -> tuple[int, dict]:
    if not switch(em).v1:
        raise Problem(404, 7003, "No route for that URI")
    lo, hi = _window(request)
    anchor_day = _anchor(em).day
    if not any((lo + timedelta(days=i)).day == anchor_day for i in range((hi - lo).days + 1)):
        return 200, envelope([])  # the window must include the billing cycle's anchor day
    items = []
    cumulated: dict[tuple[date, str], Decimal] = {}
    for r in _rows(em, lo, hi).itertuples():
        metric = billing_truth.METRICS[r.metric]
        key = (r.date.replace(day=1), r.metric)
        cumulated[key] = cumulated.get(key, Decimal(0)) + r.billed_cost
        items.append({**_common(em, r), "ServiceFamilyName": metric.family,
                      "BillingPeriodStart": f"{key[0].isoformat()}T00:00:00Z",
                      "CumulatedContractedCost": _num(cumulated[key]),
                      "HostProviderName": "Cloudflare", "InvoiceIssuerName": "Cloudflare",
                      "ServiceProviderName": "Cloudflare", "SubscriptionId": None,
                      "ZoneId": None, "ZoneName": None})
    return 200, envelope(items)


def _info_v1(em: Emulator, request: Request) -> tuple[int, dict]:
    if not switch(em).v1:
        raise Problem(404, 7003, "No route for that URI")
    start = f"{_anchor(em).isoformat()}T00:00:00Z"
    return 200, envelope({"covered": True, "subscriptions": [
        {"id": f"sub-{em.account.account_id[:12]}", "billing_cycle_anchor_timestamp": start,
         "start_timestamp": start}]})


register(
    route(f"{ACCOUNT}/billable/usage", GET=(_usage_v2, "billing:read")),
    route(f"{ACCOUNT}/billable-usage", GET=(_usage_v1, "billing:read")),
    route(f"{ACCOUNT}/billable-usage/info", GET=(_info_v1, "billing:read")),
)
