"""Money for people: one formatter (cents, ROUND_HALF_UP), summary display strings, tables."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

import lc_analytics
from lc_analytics.money import format_usd, to_cents
from lc_analytics.reports.summary import jsonable, summary_markdown, with_display
from lc_analytics.reports.tables import header, table_html


@pytest.mark.parametrize(("value", "shown"), [
    (Decimal("55.405"), "$55.41"),        # half a cent rounds up (half-even would say 55.40)
    (Decimal("0.105"), "$0.11"),
    (Decimal("0.125"), "$0.13"),
    (Decimal("-55.405"), "-$55.41"),      # and away from zero below it
    (Decimal("1234567.891"), "$1,234,567.89"),
    (Decimal("0.0049"), "< $0.01"),       # real but tiny: never "$0.00"
    (Decimal("0.005"), "$0.01"),
    (Decimal("-0.0049"), "> -$0.01"),
    (Decimal("0"), "$0.00"),
    (Decimal("-0"), "$0.00"),
    (12, "$12.00"),
    (0.1 + 0.2, "$0.30"),                 # a float goes through its shortest repr
    (None, "n/a"),
    (float("nan"), "n/a"),
])
def test_format_usd_rounds_half_up_to_the_cent(value, shown):
    assert format_usd(value) == shown


def test_format_usd_signs_changes_and_refuses_what_is_not_money():
    assert format_usd(Decimal("3.5"), signed=True) == "+$3.50"
    assert format_usd(Decimal("-3.5"), signed=True) == "-$3.50"
    assert format_usd(Decimal("0"), signed=True) == "$0.00"
    assert to_cents("55.405") == Decimal("55.41")
    assert lc_analytics.format_usd is format_usd and "format_usd" in lc_analytics.__all__
    with pytest.raises(ValueError, match="not an amount of money: 'cheap'"):
        format_usd("cheap")
    with pytest.raises(lc_analytics.UsageError, match="not an amount of money: True"):
        format_usd(True)
    with pytest.raises(ValueError, match="not a finite amount"):
        format_usd(Decimal("Infinity"))


def test_summary_keeps_exact_strings_and_adds_the_display_string():
    values = {"bill_total": Decimal("430.985"), "bill_by_service": {
        "Stream": Decimal("404"), "R2": None}, "days": 30, "share": 0.25,
        "recommendations": [{"id": "x", "monthly_saving": Decimal("0.105")}]}
    data = jsonable(with_display(values))
    assert data["bill_total"] == "430.985" and data["bill_total_display"] == "$430.99"
    assert data["bill_by_service"] == {"Stream": "404", "R2": None}
    assert data["bill_by_service_display"] == {"Stream": "$404.00", "R2": "n/a"}
    assert data["recommendations"] == [{"id": "x", "monthly_saving": "0.105",
                                        "monthly_saving_display": "$0.11"}]
    assert "days_display" not in data and "share_display" not in data
    md = summary_markdown(values)
    assert "| bill total | $430.99 |" in md and "display" not in md
    assert "| bill by service | Stream: $404.00; R2: n/a |" in md
    import numpy as np
    assert "| calls | 12,345 |" in summary_markdown({"calls": np.int64(12345)})


def test_tables_show_no_index_and_headers_in_words():
    df = pd.DataFrame({"sku_id": ["cf-r2"], "cloudflare_cost": ["$1.00"], "gb_stored": [1.5],
                       "aws_cost": [None]}, index=[7])
    html = table_html(df)
    heads = [h.split("</th>")[0] for h in html.split("<th>")[1:]]
    assert heads == ["SKU ID", "Cloudflare cost", "GB stored", "AWS cost"]
    assert "<td>7</td>" not in html and "<td>cf-r2</td>" in html
    assert header("period_start") == "Period start" and header("Show") == "Show"
