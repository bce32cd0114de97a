"""One exception tree: bad arguments raise UsageError (never a bare ValueError/TypeError),
"nothing synced yet" raises NotSyncedError, and the tree drawn in errors.py is the real one."""

from __future__ import annotations

import re
from datetime import date, timedelta

import httpx
import pytest

import lc_analytics
from lc_analytics import errors
from lc_analytics.client.http import CloudflareClient
from lc_analytics.costs.allocate import split_integer
from lc_analytics.costs.comparison import rendition_shares
from lc_analytics.costs.engine import Usage, month_bounds, price_month, price_period
from lc_analytics.costs.focus import export_focus
from lc_analytics.costs.pricebook import load_book
from lc_analytics.costs.runway import storage_runway
from lc_analytics.costs.showback import showback
from lc_analytics.errors import LcAnalyticsError, NotSyncedError, UsageError, WarehouseError
from lc_analytics.money import format_usd
from lc_analytics.recommend._common import storage_snapshot_day
from lc_analytics.recommend.bitrate import BitrateRule, recommend_bitrate
from lc_analytics.reports.summary import jsonable
from lc_analytics.settings import Settings
from lc_analytics.sources.analytics import MINUTES_VIEWED, iter_window
from lc_analytics.warehouse import Warehouse


def _never(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request may be sent for bad input: {request.url}")


def _client() -> CloudflareClient:
    settings = Settings.from_env({"CLOUDFLARE_ACCOUNT_ID": "0" * 32,
                                  "CLOUDFLARE_API_TOKEN": "tok"}, env_file=None)
    return CloudflareClient(settings, transport=httpx.MockTransport(_never))


#: (what is called, the message it must give): every bad input converted in issue 12
BAD_INPUT = {
    "format_usd(text)": (lambda: format_usd("cheap"), "not an amount of money: 'cheap'"),
    "format_usd(bool)": (lambda: format_usd(True), "not an amount of money: True"),
    "format_usd(object)": (lambda: format_usd(object()), "not an amount of money"),
    "format_usd(inf)": (lambda: format_usd(float("inf")), "not a finite amount"),
    "month_bounds": (lambda: month_bounds("2026-13"), "not a month"),
    "price_month": (lambda: price_month(Usage(), "June", load_book()), "not a month"),
    "price_period": (lambda: price_period(Usage(), date(2026, 6, 30), date(2026, 6, 1),
                                          load_book()), "ends on or after its first day"),
    "usage columns": (lambda: price_month(Usage(egress=[{"date": date(2026, 6, 1)}]),
                                          "2026-06", load_book("aws")), "is missing column"),
    "rendition_shares(unknown)": (lambda: rendition_shares({"9k": "1"}), "unknown rendition"),
    "rendition_shares(sum)": (lambda: rendition_shares({"720p": "0.5"}), "add up to 1"),
    "split_integer": (lambda: split_integer(10, [1, -1]), "must not be negative"),
    "settings group": (lambda: Settings.from_env({}, env_file=None, require=["bogus"]),
                       "unknown settings group"),
    "jsonable": (lambda: jsonable({"x": object()}), "cannot put object"),
    "iter_window": (lambda: next(iter_window(_client(), MINUTES_VIEWED, date(2026, 1, 1),
                                             date(2026, 1, 1) + timedelta(days=40))),
                    "longer than 31 days"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUT))
def test_bad_input_raises_usage_error_not_a_bare_builtin(name):
    call, message = BAD_INPUT[name]
    with pytest.raises(UsageError, match=re.escape(message)) as caught:
        call()
    assert type(caught.value) not in (ValueError, TypeError)
    assert isinstance(caught.value, ValueError)  # callers catching ValueError still do
    assert caught.value.exit_code == 2


@pytest.fixture(scope="module")
def empty(tmp_path_factory) -> Warehouse:
    return Warehouse(tmp_path_factory.mktemp("errors") / "wh.duckdb")


def test_bad_arguments_on_a_warehouse_raise_usage_error_and_create_nothing(empty, tmp_path):
    out = tmp_path / "focus.xml"
    cases = [
        (lambda: export_focus(empty, out, "xml"), "format must be one of"),
        (lambda: showback(empty, "2026-06", "nobody"), "choose one of"),
        (lambda: recommend_bitrate(empty, rule=BitrateRule(low_bandwidth_target="8k")),
         "low_bandwidth_target must be one of"),
    ]
    for call, message in cases:
        with pytest.raises(UsageError, match=message) as caught:
            call()
        assert type(caught.value) is UsageError and caught.value.exit_code == 2
    assert list(tmp_path.iterdir()) == []


def test_nothing_synced_yet_is_not_synced_error(empty, tmp_path):
    for call in (lambda: storage_runway(empty), lambda: storage_snapshot_day(empty)):
        with pytest.raises(NotSyncedError, match="no Stream storage snapshot yet") as caught:
            call()
        assert caught.value.exit_code == 8
    gone = Warehouse(tmp_path / "gone.duckdb")
    gone.path.unlink()
    with pytest.raises(NotSyncedError, match="no warehouse at .*run `lc-analytics sync`"):
        gone.snapshot(tmp_path / "snap.duckdb")
    assert not (tmp_path / "snap.duckdb").exists()


def test_the_tree_drawn_in_the_docstring_is_the_class_tree():
    drawn = {}  # class name -> depth in the drawing (4 columns per level)
    for line in (errors.__doc__ or "").splitlines():
        m = re.search(r"\b([A-Z][A-Za-z0-9]+Error)\b", line)
        if m and set(line[:m.start()]) <= set(" │├└─"):
            drawn[m.group(1)] = m.start() // 4
    classes = {name: cls for name, cls in vars(errors).items()
               if isinstance(cls, type) and issubclass(cls, LcAnalyticsError)}
    assert set(drawn) == set(classes)
    for name, cls in classes.items():
        parent = next(b for b in cls.__mro__[1:] if b in classes.values() or b is Exception)
        if cls is LcAnalyticsError:
            continue
        assert drawn[name] == drawn[parent.__name__] + 1, name
    assert issubclass(UsageError, ValueError) and issubclass(NotSyncedError, WarehouseError)
    assert lc_analytics.UsageError is UsageError and lc_analytics.ReportError is errors.ReportError
