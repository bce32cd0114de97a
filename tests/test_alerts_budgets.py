"""budgets.toml: parsing, defaults, and errors that name the file and the line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from lc_analytics.alerts import load_budgets, parse_budgets
from lc_analytics.alerts.budgets import DEFAULT_THRESHOLDS
from lc_analytics.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_the_example_file_parses_with_its_defaults():
    budgets = load_budgets(ROOT / "budgets.example.toml")
    by_name = {b.name: b for b in budgets}
    assert {b.scope for b in budgets} == {"service", "sku", "broadcaster", "bucket"}
    assert by_name["stream"].monthly_usd == Decimal("500")
    assert by_name["stream"].thresholds == (50, 80, 100)
    assert by_name["stream"].forecast_thresholds == (80, 100)  # the file's [defaults]


def test_defaults_and_overrides():
    text = """
[defaults]
thresholds = [90, 50]

[[budget]]
name = "r2"
service = "R2"
monthly_usd = 120

[[budget]]
name = "exports"
bucket = "lc-recording-exports"
monthly_usd = "12.50"
forecast_thresholds = [100]
"""
    r2, exports = parse_budgets(text)
    assert (r2.scope, r2.value, r2.monthly_usd, r2.line) == ("service", "R2", Decimal(120), 5)
    assert r2.thresholds == (50, 90) and r2.forecast_thresholds == DEFAULT_THRESHOLDS
    assert (exports.scope, exports.monthly_usd, exports.line) == ("bucket", Decimal("12.50"), 10)
    assert exports.thresholds == (50, 90) and exports.forecast_thresholds == (100,)


BAD = """[defaults]
thresholds = [50, "80"]

[[budget]]
name = "stream"
service = "Stream"
sku = "cf-stream-minutes-delivered"
monthly_usd = 10.5

[[budget]]
name = "stream"
bucket = "b"
colour = "red"

[[budget]]
name = "ok"
broadcaster = "shop-1"
monthly_usd = "-3"
thresholds = []
"""


def test_every_problem_is_named_with_file_and_line(tmp_path):
    path = tmp_path / "budgets.toml"
    path.write_text(BAD)
    with pytest.raises(ConfigError) as err:
        load_budgets(path)
    assert err.value.problems == [
        f"{path}:2: defaults: thresholds must be a non-empty list of whole percentages "
        "between 1 and 1000 (got [50, '80'])",
        f"{path}:4: budget 'stream': name exactly one of service, sku, broadcaster, bucket",
        f"{path}:8: budget 'stream': monthly_usd: write amounts as strings or integers, "
        "not floats",
        f"{path}:13: budget 'stream': unknown key 'colour'",
        f"{path}:10: budget 'stream': monthly_usd is required",
        f"{path}:18: budget 'ok': monthly_usd: must be a positive amount of dollars "
        "(got '-3')",
        f"{path}:19: budget 'ok': thresholds must be a non-empty list of whole percentages "
        "between 1 and 1000 (got [])",
    ]


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read budgets file .*nope.toml"):
        load_budgets(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match=r"b\.toml: not valid TOML"):
        parse_budgets("[[budget]\n", "b.toml")
    with pytest.raises(ConfigError, match=r"b\.toml:5: budget 'a': the name is already used "
                                          r"on line 1"):
        parse_budgets('[[budget]]\nname = "a"\nservice = "r2"\nmonthly_usd = 1\n'
                      '[[budget]]\nname = "a"\nservice = "r2"\nmonthly_usd = 2\n', "b.toml")
