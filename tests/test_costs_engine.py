"""Each billing rule (reference section 6) gets its own test, with numbers worked by hand."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from lc_analytics.costs.engine import Usage, objects_daily_bytes, price_month
from lc_analytics.costs.pricebook import load_book
from lc_analytics.errors import ConfigError

CF = load_book("cloudflare")
AWS = load_book("aws")
GB = 1_000_000_000
JUNE = [date(2026, 6, d) for d in range(1, 31)]  # 30 days


def _ts(y, m, d, h=0):
    return datetime(y, m, d, h, tzinfo=UTC)


def _line(bill, sku):
    items = [li for li in bill.line_items if li.sku_id == sku]
    assert len(items) == 1, [li.sku_id for li in bill.line_items]
    return items[0]


def test_gb_month_is_the_mean_of_daily_peaks_and_rounds_up_after_the_free_tier():
    # 20 GB on 15 days and 30 GB on 15 days of a 30-day month: mean 25 GB = 25 GB-months.
    rows = [{"date": d, "bucket": "b", "storage_class": "STANDARD",
             "bytes": (20 if d.day <= 15 else 30) * GB} for d in JUNE]
    li = _line(price_month(Usage(r2_storage=rows), "2026-06", CF), "cf-r2-standard-storage")
    assert li.consumed_quantity == Decimal(25)
    assert li.billed_units == Decimal(15)  # 25 - 10 free
    assert li.cost == Decimal("0.225")  # 15 x $0.015
    # 10.1 GB-months: rounds up to 11, minus 10 free = 1 billed GB-month
    rows = [{"date": d, "bucket": "b", "storage_class": "STANDARD", "bytes": 10_100_000_000}
            for d in JUNE]
    li = _line(price_month(Usage(r2_storage=rows), "2026-06", CF), "cf-r2-standard-storage")
    assert li.billed_units == 1 and li.cost == Decimal("0.015")


def test_a_31_day_month_averages_over_31_days():
    july = [date(2026, 7, d) for d in range(1, 32)]
    rows = [{"date": d, "bucket": "b", "storage_class": "STANDARD_IA", "bytes": 31 * GB}
            for d in july]
    li = _line(price_month(Usage(r2_storage=rows), "2026-07", CF), "cf-r2-ia-storage")
    assert li.consumed_quantity == 31  # mean of 31 GB over 31 days
    assert li.cost == Decimal("0.31")


def test_gb_month_averages_over_the_billed_months_own_days_not_a_fixed_30():
    # the price book's [rules] say why: 28 GB held every day of February 2026 (28 days) is
    # 28 x 28 GB / 28 days = 28 GB-months ($0.28 in IA); /30 would give 26.13 -> 27 ($0.27)
    feb = [date(2026, 2, d) for d in range(1, 29)]
    rows = [{"date": d, "bucket": "b", "storage_class": "STANDARD_IA", "bytes": 28 * GB}
            for d in feb]
    li = _line(price_month(Usage(r2_storage=rows), "2026-02", CF), "cf-r2-ia-storage")
    assert li.consumed_quantity == 28 and li.cost == Decimal("0.28")
    # February to date (10 days): 10 x 28 GB / 28 days = 10 GB-months accrued so far
    li = _line(price_month(Usage(r2_storage=rows[:10]), "2026-02", CF), "cf-r2-ia-storage")
    assert li.consumed_quantity == 10 and li.cost == Decimal("0.10")


def test_the_free_tier_covers_standard_only():
    rows = [{"date": d, "bucket": "b", "storage_class": c, "bytes": 5 * GB}
            for d in JUNE for c in ("STANDARD", "STANDARD_IA")]
    bill = price_month(Usage(r2_storage=rows), "2026-06", CF)
    assert _line(bill, "cf-r2-standard-storage").cost == 0  # 5 GB-months under 10 free
    assert _line(bill, "cf-r2-ia-storage").cost == Decimal("0.05")  # 5 x $0.01, no free tier
    ops = [{"date": date(2026, 6, 1), "bucket": "b", "op_class": "A",
            "storage_class": "STANDARD_IA", "requests": 10},
           {"date": date(2026, 6, 1), "bucket": "b", "op_class": "A",
            "storage_class": "STANDARD", "requests": 10}]
    bill = price_month(Usage(r2_operations=ops), "2026-06", CF)
    assert _line(bill, "cf-r2-ia-class-a").cost == Decimal("9.00")  # 1 million-unit, no free
    assert _line(bill, "cf-r2-standard-class-a").cost == 0


def test_operations_round_up_to_the_next_million_before_the_free_tier():
    ops = [{"date": date(2026, 6, 2), "bucket": "b", "op_class": "A", "storage_class": "STANDARD",
            "requests": 2_000_001},
           {"date": date(2026, 6, 2), "bucket": "b", "op_class": "B", "storage_class": "STANDARD",
            "requests": 10_000_000},
           {"date": date(2026, 6, 2), "bucket": "b", "op_class": "free",
            "storage_class": "STANDARD", "requests": 99_999_999}]
    bill = price_month(Usage(r2_operations=ops), "2026-06", CF)
    a = _line(bill, "cf-r2-standard-class-a")
    assert a.billed_units == 2 and a.cost == Decimal("9.00")  # 3M - 1M free = 2 x $4.50
    assert _line(bill, "cf-r2-standard-class-b").cost == 0  # exactly the 10M free
    assert {li.sku_id for li in bill.line_items} == {"cf-r2-standard-class-a",
                                                       "cf-r2-standard-class-b"}


def test_ia_objects_are_billed_for_at_least_30_days():
    # 100 GB moved to IA on June 5 and deleted on June 15: 10 IA days held, 20 still owed.
    obj = {"bucket": "b", "key": "k", "size_bytes": 100 * GB, "storage_class": "STANDARD_IA",
           "stored_from": _ts(2026, 5, 1), "ia_from": _ts(2026, 6, 5, 2),
           "stored_until": _ts(2026, 6, 15, 9)}
    bill = price_month(Usage(r2_objects=[obj]), "2026-06", CF)
    ia = _line(bill, "cf-r2-ia-storage")
    # held: June 5..14 = 10 days x 100 GB; owed 20 days x 100 GB; / 30 days = 100 GB-months
    assert ia.consumed_quantity == Decimal(100)
    assert ia.cost == Decimal("1.00")
    std = _line(bill, "cf-r2-standard-storage")
    assert std.consumed_quantity == Decimal(4 * 100) / 30  # June 1..4 in Standard
    # kept past the minimum: nothing extra
    obj["stored_until"] = _ts(2026, 7, 20)
    assert _line(price_month(Usage(r2_objects=[obj]), "2026-06", CF),
                 "cf-r2-ia-storage").consumed_quantity == Decimal(26 * 100) / 30


def test_objects_count_from_creation_day_to_the_day_before_deletion():
    objs = [{"size_bytes": 7, "storage_class": "STANDARD", "stored_from": _ts(2026, 6, 3, 23),
             "stored_until": _ts(2026, 6, 6, 1)}]
    import pandas as pd
    daily = objects_daily_bytes(pd.DataFrame(objs), date(2026, 6, 1), date(2026, 7, 1))
    std = daily[daily["storage_class"] == "STANDARD"].set_index("date")["bytes"]
    assert [d.day for d, b in std.items() if b] == [3, 4, 5]


def test_ia_retrieval_is_per_gb_rounded_up():
    rows = [{"date": date(2026, 6, 9), "bucket": "b", "bytes": 2_500_000_000}]
    li = _line(price_month(Usage(r2_retrieval=rows), "2026-06", CF), "cf-r2-ia-retrieval")
    assert li.billed_units == 3 and li.cost == Decimal("0.03")


def test_stream_delivery_is_pro_rata_for_small_quantities():
    # $1 per 1,000 minutes delivered, not rounded up to whole thousands (reference 3.1, 6)
    one = _line(price_month(Usage(stream_delivery=[{"date": JUNE[0], "minutes": 1}]),
                            "2026-06", CF), "cf-stream-minutes-delivered")
    assert one.cost == Decimal("0.001")  # 1 minute = 1/1,000 of $1
    assert one.billed_units == Decimal("0.001")
    rows = [{"date": d, "minutes": 100} for d in JUNE]  # 3,000 minutes
    rows[0]["minutes"] = 101  # 3,001 minutes: $3.001, not 4 blocks = $4.00
    li = _line(price_month(Usage(stream_delivery=rows), "2026-06", CF),
               "cf-stream-minutes-delivered")
    assert li.consumed_quantity == 3001 and li.cost == Decimal("3.001")
    half = [{"date": JUNE[3], "minutes": 0.5}, {"date": JUNE[4], "minutes": 1499.5}]
    li = _line(price_month(Usage(stream_delivery=half), "2026-06", CF),
               "cf-stream-minutes-delivered")
    assert li.cost == Decimal("1.5")  # 1,500 minutes = $1.50


def test_stream_delivery_is_pro_rata_for_large_quantities():
    # 4,115,226.3 minutes a day for 30 days = 123,456,789 minutes = $123,456.789
    rows = [{"date": d, "minutes": 4_115_226.3} for d in JUNE]
    li = _line(price_month(Usage(stream_delivery=rows), "2026-06", CF),
               "cf-stream-minutes-delivered")
    assert li.consumed_quantity == Decimal("123456789.0")
    assert li.cost == Decimal("123456.789")
    assert "rounded up" not in li.computation


def test_stream_storage_is_prepaid_capacity_in_blocks_of_1000_minutes():
    rows = [{"date": d, "stored_minutes": 33_000.5, "capacity_minutes": 39_000} for d in JUNE]
    li = _line(price_month(Usage(stream_storage=rows), "2026-06", CF),
               "cf-stream-minutes-stored")
    assert li.billed_units == 39 and li.cost == Decimal("195.00")  # capacity, not usage
    # a what-if without purchased capacity needs enough blocks for the peak stored minutes
    for r in rows:
        r["capacity_minutes"] = None
    rows[10]["stored_minutes"] = 34_000.01
    li = _line(price_month(Usage(stream_storage=rows), "2026-06", CF),
               "cf-stream-minutes-stored")
    assert li.billed_units == 35 and li.cost == Decimal("175.00")


def test_usage_outside_the_month_is_ignored_and_days_covered_counted():
    rows = [{"date": date(2026, 5, 31), "minutes": 5000}, {"date": date(2026, 6, 1),
                                                            "minutes": 1000}]
    bill = price_month(Usage(stream_delivery=rows), "2026-06", CF)
    assert bill.total == Decimal("1.00") and bill.days_covered == 1
    assert bill.book == "cloudflare (built-in cloudflare.toml)"


def test_money_stays_decimal_and_exact():
    rows = [{"date": d, "bucket": "b", "storage_class": "STANDARD_IA", "bytes": GB // 3}
            for d in JUNE]
    li = _line(price_month(Usage(r2_storage=rows), "2026-06", CF), "cf-r2-ia-storage")
    assert isinstance(li.cost, Decimal) and li.cost == Decimal("0.01")  # 0.333.. -> 1 GB-month


def test_aws_egress_uses_marginal_tiers_after_the_free_terabyte():
    gib = 1_073_741_824
    rows = [{"date": date(2026, 6, 1), "bytes": (1024 + 10240 + 100) * gib}]
    li = _line(price_month(Usage(egress=rows), "2026-06", AWS), "aws-cloudfront-egress")
    # 1,024 GB free; then 10,240 - 1,024 = 9,216 GB at 0.085; then 1,124 GB at 0.080
    assert li.cost == Decimal(9216) * Decimal("0.085") + Decimal(1124) * Decimal("0.080")


def test_a_bad_month_is_refused():
    with pytest.raises(ValueError, match="not a month"):
        price_month(Usage(), "June", CF)


def test_ia_removals_owe_the_minimum_without_double_counting_storage():
    rows = [{"date": d, "bucket": "b", "storage_class": "STANDARD_IA", "bytes": 30 * GB}
            for d in JUNE]
    gone = [{"size_bytes": 30 * GB, "ia_from": _ts(2026, 6, 20), "removed_at": _ts(2026, 6, 25)}]
    li = _line(price_month(Usage(r2_storage=rows, r2_ia_removals=gone), "2026-06", CF),
               "cf-r2-ia-storage")
    # 30 GB all month = 30 GB-months; plus 25 days x 30 GB owed / 30 = 25 GB-months
    assert li.consumed_quantity == 55 and li.cost == Decimal("0.55")


def test_a_contract_can_bill_delivery_in_whole_blocks_again(tmp_path):
    overlay = tmp_path / "blocks.toml"
    overlay.write_text('[sku.cf-stream-minutes-delivered]\nrounding = "up"\n'
                       'effective_from = 2026-06-01\nsource = "contract 7, p. 2"\n')
    book = load_book("cloudflare", overlay=overlay)
    rows = [{"date": date(2026, 5, 31), "minutes": 3001}, {"date": JUNE[0], "minutes": 3001}]
    may = _line(price_month(Usage(stream_delivery=rows), "2026-05", book),
                "cf-stream-minutes-delivered")
    june = _line(price_month(Usage(stream_delivery=rows), "2026-06", book),
                 "cf-stream-minutes-delivered")
    assert may.cost == Decimal("3.001")  # list price: pro rata
    assert june.cost == Decimal("4.00") and june.billed_units == 4  # the contract's 4 blocks
    overlay.write_text('[sku.cf-stream-minutes-delivered]\nrounding = "down"\n'
                       'effective_from = 2026-06-01\nsource = "c"\n')
    with pytest.raises(ConfigError, match=re.escape(
            "blocks.toml:2: sku cf-stream-minutes-delivered: rounding must be up|none, "
            "not 'down'")):
        load_book("cloudflare", overlay=overlay)
