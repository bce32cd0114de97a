"""Price books: sourced, dated prices; overlays with contract prices; errors naming the line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from lc_analytics.costs.engine import Usage, price_month
from lc_analytics.costs.pricebook import load_book
from lc_analytics.errors import ConfigError


def test_every_built_in_price_is_sourced_dated_and_decimal():
    for name in ("cloudflare", "aws"):
        book = load_book(name)
        for versions in book.versions.values():
            for sku in versions:
                assert sku.source.startswith("http"), sku.id
                assert isinstance(sku.effective_from, date)
                assert isinstance(sku.amount, Decimal) and sku.amount > 0
                assert sku.pricing_block > 0 and sku.pricing_unit and sku.consumed_unit
    cf = load_book("cloudflare")
    june = date(2026, 6, 1)
    assert cf.price("cf-r2-standard-storage", june).free == 10
    assert cf.price("cf-r2-standard-class-a", june).free == 1_000_000
    assert cf.price("cf-r2-standard-class-b", june).free == 10_000_000
    assert cf.price("cf-r2-ia-storage", june).free == 0
    assert cf.price("cf-stream-minutes-stored", june).amount == Decimal("5.00")


def test_an_overlay_changes_prices_from_its_effective_date(tmp_path):
    overlay = tmp_path / "contract.toml"
    overlay.write_text('[overlay]\nname = "acme-2026"\n\n'
                       '[sku.cf-stream-minutes-delivered]\namount = "0.80"\n'
                       'effective_from = 2026-06-01\nsource = "contract ACME-2026-01, p. 3"\n')
    book = load_book("cloudflare", overlay=overlay)
    assert book.label == f"cloudflare (built-in cloudflare.toml) + {overlay}"
    usage = Usage(stream_delivery=[{"date": date(2026, 5, 3), "minutes": 10_000},
                                   {"date": date(2026, 6, 3), "minutes": 10_000}])
    assert price_month(usage, "2026-05", book).total == Decimal("10.00")  # list price
    june = price_month(usage, "2026-06", book)
    assert june.total == Decimal("8.00")
    assert june.line_items[0].source == "contract ACME-2026-01, p. 3"
    assert june.book.endswith("contract.toml")


@pytest.mark.parametrize("body, expected", [
    ('[sku.cf-stream-minutes-delivered]\namount = "0.8"\neffective_from = 2026-06-01\n'
     'source = "c"\nprice = 3\n', "contract.toml:5: sku cf-stream-minutes-delivered: unknown "
                                  "field 'price'"),
    ('[sku.cf-stream-minutes-delivered]\namount = "cheap"\neffective_from = 2026-06-01\n'
     'source = "c"\n', "contract.toml:2: sku cf-stream-minutes-delivered: amount: 'cheap' is "
                       "not a number"),
    ('[sku.cf-stream-minutes-delivered]\namount = 0.8\neffective_from = 2026-06-01\n'
     'source = "c"\n', "contract.toml:2: sku cf-stream-minutes-delivered: amount: write "
                       "amounts as strings"),
    ('\n\n[sku.cf-stream-minutes-deliverd]\namount = "1"\n',
     "contract.toml:3: sku cf-stream-minutes-deliverd: not in price book cloudflare-list"),
    ('[sku.cf-r2-ia-storage]\namount = "0.009"\n',
     "contract.toml:1: sku cf-r2-ia-storage: an overlay price needs effective_from"),
    ('[sku.cf-r2-ia-storage\namount = "0.009"\n', "contract.toml: not valid TOML"),
])
def test_a_malformed_overlay_gets_an_error_naming_the_line(tmp_path, body, expected):
    overlay = tmp_path / "contract.toml"
    overlay.write_text(body)
    with pytest.raises(ConfigError) as err:
        load_book("cloudflare", overlay=overlay)
    assert expected in str(err.value)


def test_a_missing_overlay_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="cannot read price file .*nope.toml"):
        load_book("cloudflare", overlay=tmp_path / "nope.toml")
