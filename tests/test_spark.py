"""The bill on Spark: June priced from the exported Parquet on a local Spark session equals,
to the cent and line by line, June priced from the DuckDB warehouse; the FOCUS rows too.

One local SparkSession for the module (local[1], no UI, one shuffle partition): its start-up
is most of this module's time.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from lc_analytics.costs.engine import price_month
from lc_analytics.costs.focus import focus_rows
from lc_analytics.costs.pricebook import load_book
from lc_analytics.costs.usage import warehouse_usage
from lc_analytics.export import export_parquet
from lc_analytics.warehouse import Warehouse

from .conftest import copy_warehouse
from .test_costs_usage import hand_bill

pytestmark = pytest.mark.filterwarnings(
    "ignore:PySpark does not yet fully support pandas:FutureWarning")

BOOK = load_book("cloudflare")


@pytest.fixture(scope="module")
def spark_starting():
    """The module's Spark session, starting in the background (its JVM start-up overlaps the
    synced warehouse's build when this module runs first)."""
    from concurrent.futures import ThreadPoolExecutor

    from lc_analytics.export.spark import local_spark

    with ThreadPoolExecutor(1) as pool:
        yield pool.submit(local_spark, "lc-analytics-tests")


@pytest.fixture(scope="module")
def engines(spark_starting, synced, tmp_path_factory):
    """(the DuckDB warehouse, the same warehouse exported and read on Spark, the truth)."""
    from lc_analytics.export.spark import SparkWarehouse

    sb, db, _ = synced
    folder = tmp_path_factory.mktemp("spark")
    copy = copy_warehouse(db, folder / "wh")
    export_parquet(Warehouse(copy), str(folder / "lake"))
    spark = spark_starting.result()
    try:
        yield (Warehouse(db, read_only=True), SparkWarehouse(spark, str(folder / "lake")),
               sb.account.ground_truth())
    finally:
        spark.stop()


def test_junes_bill_on_spark_equals_duckdb_to_the_cent(engines):
    duck, spark, truth = engines
    on_duck, on_spark = warehouse_usage(duck, "2026-06"), warehouse_usage(spark, "2026-06")
    assert on_spark.notes == on_duck.notes
    bill_duck = price_month(on_duck.usage, on_duck.month, BOOK)
    bill_spark = price_month(on_spark.usage, on_spark.month, BOOK)
    assert bill_spark.line_items == bill_duck.line_items  # every field, exact Decimals
    assert bill_spark.total == bill_duck.total > Decimal(100)
    assert round(bill_spark.total, 2) == round(sum(hand_bill(truth).values()), 2)
    assert {li.sku_id: li.cost for li in bill_spark.line_items if li.cost} == {
        k: v for k, v in hand_bill(truth).items() if v}


def test_focus_rows_on_spark_are_the_rows_on_duckdb(engines):
    duck, spark, _ = engines
    rows_duck = focus_rows(duck, ["2026-06"], BOOK)
    rows_spark = focus_rows(spark, ["2026-06"], BOOK)
    assert len(rows_duck) > 1000
    pd.testing.assert_frame_equal(rows_spark, rows_duck, check_exact=True)
    assert sum(rows_spark["BilledCost"]) == sum(rows_duck["BilledCost"])
