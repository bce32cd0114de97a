"""Cloudflare's billable usage (reference 8.3): what the account is actually billed, as rows.

V2 `GET /accounts/{id}/billable/usage` (alpha, restricted: FOCUS-aligned rows with
`x_BillableMetricId`) is tried first; on 403 or 404 the source falls back to V1
`GET /accounts/{id}/billable-usage`, whose window must include the billing cycle's anchor
day (read from `billable-usage/info`). When neither answers, `BillableUsage.unavailable`
says so in plain words and the sync reports it: nothing crashes. Both need the token
permission "Account > Billing > Read"; a request spans at most 31 days.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ..client.http import CloudflareClient
from ..errors import ApiError, AuthError
from .stream import parse_time

MAX_DAYS = 31
_TEXT = ("BillingAccountId", "BillingCurrency", "ChargeCategory", "ServiceName",
         "ServiceFamilyName", "x_ProductFamilyName", "x_BillableMetricId",
         "x_BillableMetricName", "ConsumedUnit", "PricingUnit", "x_ZoneId", "SubAccountId")
_NUMBERS = ("ConsumedQuantity", "PricingQuantity", "BilledCost", "ListCost", "EffectiveCost",
            "ContractedCost", "ListUnitPrice")
_TIMES = ("ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart")


def billed_row(raw: dict[str, Any], version: str) -> dict[str, Any]:
    """One billable-usage record as a `billed_usage` row (numbers exact, times aware).

    >>> r = billed_row({"ChargePeriodStart": "2026-06-01T00:00:00Z", "BilledCost": 0.1,
    ...                 "x_BillableMetricId": "m1"}, "v2")
    >>> r["metric"], r["BilledCost"], r["ChargePeriodStart"].isoformat()
    ('m1', Decimal('0.1'), '2026-06-01T00:00:00+00:00')
    """
    row: dict[str, Any] = {"api_version": version}
    for name in _TEXT:
        value = raw.get(name)
        row[name] = None if value is None else str(value)
    for name in _NUMBERS:
        value = raw.get(name)
        row[name] = None if value is None else Decimal(str(value))
    for name in _TIMES:
        row[name] = parse_time(raw.get(name))
    row["metric"] = row["x_BillableMetricId"] or row["ServiceName"] or "unknown"
    return row


class BillableUsage:
    """Reads billed rows window by window, V2 first and V1 when V2 is refused.

    >>> usage = BillableUsage(client)                                  # doctest: +SKIP
    >>> rows = usage.window(date(2026, 6, 1), date(2026, 6, 30))       # doctest: +SKIP
    >>> usage.version                                                  # doctest: +SKIP
    'v2'
    """

    def __init__(self, client: CloudflareClient) -> None:
        self.client = client
        self.version: str | None = None  # 'v2' | 'v1' once one answered
        self.refusals: list[str] = []
        self.unavailable: str | None = None  # set when neither version answers
        self.anchor_day = 1

    def windows(self, first: date, last: date) -> Iterator[tuple[date, date]]:
        """Billing-cycle windows [lo, hi] covering [first, last], each within 31 days and
        each holding the cycle's anchor day (what V1 requires; V2 accepts them too). With V1
        the first window starts at the anchor day on or before `first`: a window without it
        would come back empty (and wipe the days it replaces)."""
        lo = _previous_anchor(first, self.anchor_day) if self.version == "v1" else first
        while lo <= last:
            nxt = _next_anchor(lo, self.anchor_day)
            hi = min(nxt - timedelta(days=1), last, lo + timedelta(days=MAX_DAYS - 1))
            yield lo, hi
            lo = hi + timedelta(days=1)

    def choose(self) -> str | None:
        """Find the version the account answers (None: neither, see `unavailable`)."""
        if self.version is not None or self.unavailable is not None:
            return self.version
        for version in ("v2", "v1"):
            try:
                if version == "v2":
                    self._get("billable/usage", date.today(), date.today())
                else:
                    info = self.client.get(self.client.account_path("billable-usage/info"),
                                           permission="billing").result or {}
                    self.anchor_day = _anchor_day(info)
                self.version = version
                return version
            except (AuthError, ApiError) as exc:
                if exc.status not in (403, 404):
                    raise
                self.refusals.append(f"{version}: HTTP {exc.status}")
        self.unavailable = (
            "billable usage is not available to this account or token: V2 "
            "(billable/usage) and V1 (billable-usage) both refused ("
            + ", ".join(self.refusals) + "). It needs the token permission "
            "'Account > Billing > Read', and Cloudflare enables it per account (alpha); "
            "without it lc-analytics cannot reconcile with the bill")
        return None

    def window(self, lo: date, hi: date) -> list[dict[str, Any]]:
        """The billed rows of the days [lo, hi] (empty when neither version is enabled)."""
        version = self.choose()
        if version is None:
            return []
        path = "billable/usage" if version == "v2" else "billable-usage"
        return [billed_row(r, version) for r in self._get(path, lo, hi)]

    def _get(self, path: str, lo: date, hi: date) -> list[dict[str, Any]]:
        page = self.client.get(self.client.account_path(path),
                               {"from": lo.isoformat(), "to": hi.isoformat()},
                               permission="billing")
        return [r for r in (page.result or []) if isinstance(r, dict)]


def _anchor_day(info: dict[str, Any]) -> int:
    for sub in info.get("subscriptions") or []:
        when = parse_time(sub.get("billing_cycle_anchor_timestamp"))
        if when is not None:
            return when.day
    return 1


def _next_anchor(day: date, anchor: int) -> date:
    """The first anchor day after `day` (anchors past a month's end fall on its last day)."""
    month = (day.replace(day=1) + timedelta(days=32)).replace(day=1) if day.day >= anchor \
        else day.replace(day=1)
    last = ((month + timedelta(days=32)).replace(day=1) - timedelta(days=1)).day
    return month.replace(day=min(anchor, last))


def _previous_anchor(day: date, anchor: int) -> date:
    """The last anchor day on or before `day`.

    >>> _previous_anchor(date(2026, 6, 28), 1), _previous_anchor(date(2026, 6, 3), 15)
    (datetime.date(2026, 6, 1), datetime.date(2026, 5, 15))
    """
    nxt = _next_anchor(day, anchor)
    month = (nxt.replace(day=1) - timedelta(days=1)).replace(day=1)
    last = ((month + timedelta(days=32)).replace(day=1) - timedelta(days=1)).day
    return month.replace(day=min(anchor, last))
