"""Allocation, showback and the FOCUS 1.2 export of the synced sandbox, checked exactly."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from lc_analytics.costs.allocate import COLUMNS, UNALLOCATED_CAPACITY, allocate_month, split_integer
from lc_analytics.costs.engine import price_month
from lc_analytics.costs.focus import COLUMNS as FOCUS_TABLE
from lc_analytics.costs.focus import (
    FOCUS_COLUMNS,
    default_months,
    export_focus,
    focus_rows,
    refresh_focus,
)
from lc_analytics.costs.pricebook import load_book
from lc_analytics.costs.showback import BY, UNALLOCATED, showback
from lc_analytics.costs.usage import warehouse_usage
from lc_analytics.errors import WarehouseError
from lc_analytics.warehouse import Warehouse

JUNE = "2026-06"
FIRST, NEXT = date(2026, 6, 1), date(2026, 7, 1)
MICRO = Decimal("0.000001")
# A Cloudflare account id is 32 hex digits. (An all-digit id would fail TypeString in the CSV:
# the validator's CSV loader infers column types from the values.)
ACCOUNT = "0123456789abcdef0123456789abcdef"
EXE = Path(sys.executable).parent / "lc-analytics"
VALIDATOR = Path(__file__).parents[2] / "shared/tools/focus-validate"
UNWATCHED = "f6e81a0e584d730660f56bb8b588475f"  # planted: recordings nobody watches on demand
LOOKALIKE = "7066c1cd7109c5079a933ee857db751f"  # healthy: small live audience, watched on demand
# Rules of focus-validator 2.2.1 (model 1.2.0.1) that no dataset can pass, reported upstream-
# worthy rather than worked around: InvoiceId-C-004-C ("MUST be null when the charge is not
# associated with an invoice") and InvoiceId-C-005-C ("MUST NOT be null when it is") are the two
# alternatives of the OR rule InvoiceId-C-003-C, but both are encoded without their condition,
# so every row must be null AND non-null. The OR passes; the leaf the data does not take is
# still counted as a failure. Our rows carry no invoice (they are modelled costs), so
# InvoiceId is null and C-005-C "fails". Leaving InvoiceId out instead fails the RECOMMENDED
# presence rule CostAndUsage-D-033-O and its five dependents.
KNOWN_VALIDATOR_DEFECTS = {"InvoiceId-C-005-C"}


@pytest.fixture(scope="module")
def june(synced):
    sb, db, _ = synced
    wh = Warehouse(db, read_only=True)
    mu = warehouse_usage(wh, JUNE)
    bill = price_month(mu.usage, mu.month, load_book("cloudflare"))  # priced independently
    return sb.account.ground_truth(), wh, bill, allocate_month(wh, JUNE)


def _env(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("CLOUDFLARE_", "R2_", "LC_ANALYTICS_"))}
    return {**keep, **extra}


# -- allocation ------------------------------------------------------------------------------

def test_every_sku_allocates_back_to_its_line_item_to_the_micro_dollar(june):
    _, _, bill, allocation = june
    rows = allocation.rows
    assert list(rows.columns) == COLUMNS
    assert allocation.bill.total == bill.total > Decimal(400)
    for li in bill.line_items:
        mine = rows[rows["sku_id"] == li.sku_id]
        assert len(mine) > 0, li.sku_id
        assert all(isinstance(c, Decimal) and c >= 0 and c == c.quantize(MICRO)
                   for c in mine["cost"]), li.sku_id
        assert sum(mine["cost"], Decimal(0)) == li.cost, li.sku_id
        consumed = sum(mine["consumed_quantity"], Decimal(0))
        assert abs(consumed - li.consumed_quantity) <= Decimal("1e-18") * max(
            1, li.consumed_quantity), li.sku_id
    assert set(rows["sku_id"]) == {li.sku_id for li in bill.line_items}
    assert sum(rows["cost"], Decimal(0)) == bill.total
    assert not rows.duplicated(["date", "sku_id", "resource_id"]).any()
    assert rows["date"].between(FIRST, NEXT - timedelta(days=1)).all()
    assert (rows["month"] == JUNE).all() and (rows["book"] == bill.book).all()


def items_cost(bill, sku_id: str) -> Decimal:
    return next(li.cost for li in bill.line_items if li.sku_id == sku_id)


def test_free_tier_and_rounding_are_spread_in_proportion_over_a_skus_rows(june):
    _, _, bill, allocation = june
    rows = allocation.rows
    for li in bill.line_items:
        mine = rows[rows["sku_id"] == li.sku_id]
        weights = mine["consumed_quantity"]
        total = sum(weights, Decimal(0))
        # every row is its exact proportional share, give or take the last micro-dollar
        assert all(abs(c - li.cost * w / total) < MICRO for c, w in
                   zip(mine["cost"], weights, strict=True)), li.sku_id
    # Class A in June: 2,975,427 requests (the planted weekly re-index lists the product
    # bucket ~600k times a week) - 1,000,000 free = 1,975,427 -> 2 whole millions x $4.50:
    # the free tier and the rounding are spread over the rows, which sum to the bill exactly
    class_a = rows[rows["sku_id"] == "cf-r2-standard-class-a"]
    assert len(class_a) > 100 and sum(class_a["consumed_quantity"]) == 2_975_427
    assert sum(class_a["cost"], Decimal(0)) == items_cost(bill, "cf-r2-standard-class-a") \
        == Decimal("9.00")
    items = {li.sku_id: li for li in bill.line_items}
    delivery = items["cf-stream-minutes-delivered"]
    assert delivery.billed_units * 1000 == delivery.consumed_quantity  # pro rata: no rounding
    ia = items["cf-r2-ia-storage"]
    assert ia.billed_units > ia.consumed_quantity  # GB-months still round up to whole units


def test_delivery_follows_minutes_viewed_and_maps_live_inputs(june):
    truth, wh, _, allocation = june
    rows = allocation.rows
    delivery = rows[rows["sku_id"] == "cf-stream-minutes-delivered"]
    views = truth.minutes_viewed
    in_june = views[(views["date"] >= pd.Timestamp(FIRST, tz="UTC"))
                    & (views["date"] < pd.Timestamp(NEXT, tz="UTC"))]
    assert sum(delivery["consumed_quantity"]) == int(in_june["minutes_viewed"].sum())
    per_uid = in_june.groupby("uid")["minutes_viewed"].sum()
    got = delivery.groupby("resource_id")["consumed_quantity"].sum()
    assert {k: int(v) for k, v in got.items()} == {k: int(v) for k, v in per_uid.items()}
    off = wh.query("SELECT uid FROM live_inputs WHERE recording_mode = 'off'")["uid"].tolist()
    live = delivery[delivery["resource_type"] == "live_input"]
    assert set(live["resource_id"]) == set(off) and len(off) == 1
    assert (live["live_input_uid"] == live["resource_id"]).all()
    videos = truth.videos.set_index("uid")
    known = delivery[delivery["resource_id"].isin(videos.index)]
    assert (known["creator"] == videos.loc[known["resource_id"], "creator"].to_numpy()).all()
    unknown = delivery[~delivery["resource_id"].isin(videos.index)
                       & (delivery["resource_type"] == "video")]
    assert len(unknown) and unknown["live_input_uid"].isna().all()  # deleted before the sync
    assert unknown["creator"].notna().all()  # from minutes_viewed_daily


def test_storage_splits_each_day_equally_and_keeps_unused_capacity_apart(june):
    truth, _, bill, allocation = june
    rows = allocation.rows
    storage = rows[rows["sku_id"] == "cf-stream-minutes-stored"]
    per_day = storage.groupby("date")["consumed_quantity"].sum()
    assert len(per_day) == 30
    assert all(abs(q - Decimal(truth.capacity_minutes) / 30) < Decimal("1e-20")
               for q in per_day)
    line = bill.line_items[[li.sku_id for li in bill.line_items].index(
        "cf-stream-minutes-stored")]
    assert all(c == line.cost / 30 for c in storage.groupby("date")["cost"].sum())  # $6.50
    spare = storage[storage["resource_id"] == UNALLOCATED_CAPACITY].set_index("date")
    stored = pd.DataFrame(allocation.usage.usage.stream_storage).set_index("date")
    for day, row in spare.iterrows():
        used = Decimal(repr(float(stored.at[day, "stored_minutes"])))
        expected = Decimal(truth.capacity_minutes) - used
        assert abs(row["consumed_quantity"] * 30 - expected) < Decimal("1e-9")
    assert len(spare) == 30 and (storage["resource_type"] != "video").sum() == 30


def test_r2_rows_are_per_prefix_where_the_inventory_or_object_reads_allow(june):
    _, _, _, allocation = june
    r2 = allocation.rows[allocation.rows["service"] == "R2"]
    assert all(p == "" or (p.endswith("/") and p.count("/") == 1) for p in r2["prefix"])
    ia = r2[r2["sku_id"].isin(["cf-r2-ia-storage", "cf-r2-ia-retrieval", "cf-r2-ia-class-b"])]
    truth = june[0].r2_objects
    truth = truth[truth["storage_class"] == "STANDARD_IA"]
    ia_prefixes = {f"{b}/{k.split('/')[0]}/" for b, k in zip(truth["bucket"], truth["key"],
                                                              strict=True)}
    # the truth's IA prefixes: exports/ and the planted archive/ (an IA rule that costs more)
    assert set(ia["resource_id"]) == ia_prefixes == {"lc-recording-exports/exports/",
                                                     "lc-recording-exports/archive/"}
    transitions = r2[r2["sku_id"] == "cf-r2-ia-class-a"]  # lifecycle: bucket-level
    assert set(transitions["resource_id"]) == {"lc-recording-exports"}
    reads = r2[r2["sku_id"] == "cf-r2-standard-class-b"]
    assert {"lc-thumbnails/shows/", "lc-thumbnails/channels/"} <= set(reads["resource_id"])
    stored = r2[r2["sku_id"] == "cf-r2-standard-storage"]
    assert (stored["prefix"] != "").all()  # every stored byte found its prefix


def test_the_unwatched_broadcaster_pays_delivery_only_for_its_live_minutes(june):
    truth, _, _, allocation = june
    rows = allocation.rows
    views = truth.minutes_viewed
    views = views[(views["date"] >= pd.Timestamp(FIRST, tz="UTC"))
                  & (views["date"] < pd.Timestamp(NEXT, tz="UTC"))]
    for live_input, on_demand_expected in ((UNWATCHED, False), (LOOKALIKE, True)):
        uids = set(truth.videos.loc[truth.videos["live_input"] == live_input, "uid"])
        mine = views[views["uid"].isin(uids)]
        live, on_demand = (int(mine.loc[mine["is_live"] == flag, "minutes_viewed"].sum())
                           for flag in (True, False))
        delivered = rows[(rows["live_input_uid"] == live_input)
                         & (rows["sku_id"] == "cf-stream-minutes-delivered")]
        assert sum(delivered["consumed_quantity"]) == live + on_demand
        assert (on_demand > 0) is on_demand_expected
    stored = rows[(rows["live_input_uid"] == UNWATCHED)
                  & (rows["sku_id"] == "cf-stream-minutes-stored")]
    assert sum(stored["cost"]) > Decimal(10)  # it keeps paying to store what nobody replays


def test_a_month_to_date_is_allocated_over_the_days_synced(june):
    _, wh, bill, _ = june
    partial = allocate_month(wh, JUNE, through=date(2026, 6, 16))
    rows = partial.rows
    assert rows["date"].max() == date(2026, 6, 15) and partial.through == date(2026, 6, 16)
    for li in partial.bill.line_items:
        assert sum(rows.loc[rows["sku_id"] == li.sku_id, "cost"], Decimal(0)) == li.cost
    capacity = rows[rows["sku_id"] == "cf-stream-minutes-stored"]
    assert sum(capacity["cost"]) == bill.cost_of("cf-stream-minutes-stored")  # prepaid month
    assert set(capacity.groupby("date")["cost"].sum()) == {Decimal(195) / 15}
    assert partial.bill.total < bill.total


def test_split_integer_is_exact_and_largest_remainder():
    assert split_integer(100, [1, 1, 1]) == [34, 33, 33]
    # 3.5, 1.75, 1.75: floors 3, 1, 1; the two units left go to the largest remainders
    assert split_integer(7, [Decimal("0.5"), Decimal("0.25"), Decimal("0.25")]) == [3, 2, 2]
    assert split_integer(5, [0, 0]) == [3, 2]
    assert sum(split_integer(10**9 + 7, [3.3, 1e-9, 7])) == 10**9 + 7


# -- showback --------------------------------------------------------------------------------

@pytest.mark.parametrize("by", sorted(BY))
def test_showback_adds_up_to_the_bill_for_every_view(june, by):
    _, wh, bill, allocation = june
    table = showback(wh, JUNE, by)
    assert sum(table["cost"], Decimal(0)) == bill.total
    assert sum(table["cost_cents"], Decimal(0)) == bill.total.quantize(Decimal("0.01"))
    assert abs(sum(table["share"]) - 1) < 1e-9
    assert table[by].is_unique and table[by].iloc[-1] == UNALLOCATED
    named = table[table[by] != UNALLOCATED]
    assert list(named["cost"]) == sorted(named["cost"], reverse=True)
    rows = allocation.rows
    if by == "bucket":
        stream = sum(rows.loc[rows["service"] == "Stream", "cost"], Decimal(0))
        assert table.set_index(by).at[UNALLOCATED, "cost"] == stream
    if by in ("broadcaster", "creator"):
        assert len(named) == 10
    if by == "live_input":
        assert set(named[by]) == set(wh.query("SELECT uid FROM live_inputs")["uid"])


def test_showback_rejects_an_unknown_view(june):
    with pytest.raises(ValueError, match="choose one of"):
        showback(june[1], JUNE, "country")


# -- FOCUS -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def focus(synced, june):
    return focus_rows(june[1], [JUNE], account_id=synced[0].account.account_id)


def test_default_months_are_the_complete_months_covered(june):
    # R2 metrics reach back 31 days (to May 31), so June is the only complete month, and the
    # clock (July 1, 00:00) leaves no synced day of July yet
    assert default_months(june[1]) == [JUNE]


def test_focus_rows_hold_the_allocation_with_consistent_prices(june, focus):
    _, _, bill, allocation = june
    assert len(focus) == len(allocation.rows)
    assert sum(focus["BilledCost"], Decimal(0)) == bill.total
    for a, b, c in zip(focus["BilledCost"], focus["EffectiveCost"], focus["ContractedCost"],
                       strict=True):
        assert a == b == c
    assert (focus["ListCost"] == focus["BilledCost"]).all()  # list prices: no overlay
    for price, quantity, cost in zip(focus["ListUnitPrice"], focus["PricingQuantity"],
                                     focus["ListCost"], strict=True):
        assert abs(price * quantity - cost) < Decimal("1e-20")
    assert ((focus["ChargePeriodEnd"] - focus["ChargePeriodStart"]) == pd.Timedelta(days=1)).all()
    assert set(focus["ChargeFrequency"]) == {"Recurring", "Usage-Based"}
    assert set(focus["PricingUnit"]) == {"1000 Minutes", "GB-Months", "1000000 Requests", "GB"}
    assert focus["InvoiceId"].isna().all() and focus["ChargeClass"].isna().all()
    by_service = focus.groupby("ServiceName")["ServiceCategory"].unique()
    assert {k: list(v) for k, v in by_service.items()} == {"R2": ["Storage"], "Stream": ["Media"]}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_focus_export_passes_the_finops_validator(june, tmp_path, fmt):
    truth, wh, bill, _ = june
    out = export_focus(wh, tmp_path / f"focus.{fmt}", fmt, [JUNE],
                       account_id=ACCOUNT)
    assert out.rows > 20_000 and out.total == bill.total and out.months == (JUNE,)
    if fmt == "csv":
        with out.path.open(newline="") as fh:
            read = list(csv.DictReader(fh))
        assert sum(Decimal(r["BilledCost"]) for r in read) == bill.total
        assert list(read[0]) == list(FOCUS_TABLE)
        assert all(c.startswith("x_") for c in FOCUS_TABLE[len(FOCUS_COLUMNS):])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT00:00:00Z", read[0]["ChargePeriodStart"])
    else:
        table = pq.read_table(out.path)
        assert str(table.schema.field("BilledCost").type) == "decimal128(38, 24)"
        assert sum(table.column("BilledCost").to_pylist()) == bill.total
    if not VALIDATOR.exists():
        pytest.skip(f"the FOCUS validator wrapper is not installed at {VALIDATOR}")
    res = subprocess.run([str(VALIDATOR), str(out.path)], capture_output=True, text=True,
                         timeout=600)
    summary = re.search(r"Total: (\d+) \| Pass: (\d+) \| Fail: (\d+) \| Skipped: (\d+)",
                        res.stdout)
    assert summary, res.stdout + res.stderr
    failed = set(re.findall(r"^❌ (\S+): FAIL", res.stdout, re.M))
    assert failed <= KNOWN_VALIDATOR_DEFECTS, res.stdout
    assert int(summary[3]) == len(failed) and int(summary[2]) > 100
    assert res.returncode == (1 if failed else 0), res.stdout + res.stderr


def test_a_month_without_usage_exports_an_empty_file(june, tmp_path):
    out = export_focus(june[1], tmp_path / "empty.parquet", "parquet", ["2026-08"],
                       account_id=ACCOUNT)
    assert out.rows == 0 and out.total == 0
    assert pq.read_table(out.path).schema.names == list(FOCUS_TABLE)


def test_a_contract_overlay_changes_contracted_not_list_prices(june, tmp_path):
    _, wh, _, _ = june
    overlay = tmp_path / "contract.toml"
    overlay.write_text('[sku.cf-stream-minutes-delivered]\namount = "0.80"\n'
                       'effective_from = 2026-06-01\nsource = "contract 42"\n')
    book = load_book("cloudflare", overlay=overlay)
    rows = focus_rows(wh, [JUNE], book, account_id=ACCOUNT)
    delivered = rows[rows["SkuId"] == "cf-stream-minutes-delivered"]
    views = june[0].minutes_viewed
    minutes = int(views[(views["date"] >= pd.Timestamp(FIRST, tz="UTC"))
                        & (views["date"] < pd.Timestamp(NEXT, tz="UTC"))]["minutes_viewed"].sum())
    thousands = Decimal(minutes) / 1000  # pro rata: minutes / 1,000, not rounded up
    assert sum(delivered["BilledCost"]) == Decimal("0.80") * thousands
    assert sum(delivered["PricingQuantity"]).quantize(MICRO) == thousands
    assert set(delivered["ContractedUnitPrice"]) == {Decimal("0.80")}
    assert set(delivered["ListUnitPrice"]) == {Decimal("1.00")}
    assert abs(sum(delivered["ListCost"]) - thousands) < Decimal("1e-18")
    assert set(delivered["SkuPriceId"]) == {"cf-stream-minutes-delivered@2026-06-01"}
    assert rows["x_PriceBook"].str.endswith("contract.toml").all()
    other = rows[rows["SkuId"] != "cf-stream-minutes-delivered"]
    assert (other["ListCost"] == other["BilledCost"]).all()


def test_refresh_focus_replaces_whole_months_in_one_transaction(synced, june, focus, tmp_path):
    _, db, _ = synced
    bill = june[2]
    copy = tmp_path / "wh.duckdb"
    shutil.copy(db, copy)
    wh = Warehouse(copy)
    assert refresh_focus(wh, [JUNE], account_id=ACCOUNT) == len(focus)
    view = "SELECT count(*) AS n, sum(BilledCost)::VARCHAR AS total FROM focus_costs"
    first = wh.query(view).iloc[0]
    assert first["n"] == len(focus) and Decimal(first["total"]) == bill.total
    assert list(wh.query("SELECT * FROM focus_costs LIMIT 1").columns) == list(FOCUS_TABLE)
    export_focus(wh, tmp_path / "f.parquet", "parquet", [JUNE], into_warehouse=True,
                 account_id=ACCOUNT)
    assert wh.query(view).iloc[0]["n"] == first["n"]  # replaced, not appended
    utc = {"tz": "UTC"}
    may = focus.iloc[:5].assign(BillingPeriodStart=pd.Timestamp("2026-05-01", **utc),
                                BillingPeriodEnd=pd.Timestamp(FIRST, **utc),
                                ChargePeriodStart=pd.Timestamp("2026-05-31", **utc),
                                ChargePeriodEnd=pd.Timestamp(FIRST, **utc))
    broken = pd.concat([may, focus.assign(SkuId=None)], ignore_index=True)
    with pytest.raises(WarehouseError, match="SkuId"):
        refresh_focus(wh, ["2026-05", JUNE], rows=broken)
    after = wh.query("SELECT strftime(BillingPeriodStart, '%Y-%m') AS m, count(*) AS n, "
                     "sum(BilledCost)::VARCHAR AS total FROM focus_costs GROUP BY m")
    assert after[["m", "n"]].values.tolist() == [[JUNE, first["n"]]]  # May not half-written
    assert Decimal(after["total"].iloc[0]) == bill.total


# -- CLI -------------------------------------------------------------------------------------

def test_cli_costs_export_writes_the_file_and_reports_it(synced, tmp_path):
    sb, db, _ = synced
    res = subprocess.run([EXE, "costs", "export", "--format", "csv", "--db", str(db),
                          "--month", JUNE], capture_output=True, text=True, cwd=tmp_path,
                         env=_env())
    assert res.returncode == 0, res.stderr
    out = tmp_path / "data" / "focus-costs.csv"
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    n = len(rows)
    # the account comes from the warehouse (recorded by the sync), not the environment
    assert {r["BillingAccountId"] for r in rows} == {sb.account.account_id}
    assert f"wrote {n:,} FOCUS 1.2 rows ({JUNE}) to data/focus-costs.csv" in res.stdout
    assert "prices: cloudflare (built-in cloudflare.toml)" in res.stdout
    assert res.stderr == ""


@pytest.mark.parametrize("argv, code, message", [
    (["--month", "2026-13"], 2, "not a month (YYYY-MM): '2026-13'"),
    (["--month", "June"], 2, "not a month"),
    (["--db", "missing.duckdb"], 8, "no warehouse at"),
])
def test_cli_costs_export_errors(tmp_path, argv, code, message):
    res = subprocess.run([EXE, "costs", "export", "--format", "parquet", *argv],
                         capture_output=True, text=True, cwd=tmp_path,
                         env=_env(CLOUDFLARE_ACCOUNT_ID=ACCOUNT))
    assert res.returncode == code and message in res.stderr
    assert not (tmp_path / "data").exists()
