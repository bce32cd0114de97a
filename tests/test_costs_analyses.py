"""Cost analyses: forecast, storage runway, unit costs and the AWS comparison, checked by hand."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from lc_analytics.costs.analyses import (
    aws_comparison,
    egress_bytes,
    forecast_month,
    latest_synced_day,
    month_to_date,
    storage_runway,
    storage_runway_daily,
    unit_costs,
)
from lc_analytics.costs.engine import Usage, price_month
from lc_analytics.costs.pricebook import load_book
from lc_analytics.costs.usage import rebuilt_stored_minutes, warehouse_usage
from lc_analytics.warehouse import Warehouse
from tests.test_costs_usage import hand_bill

CF = load_book("cloudflare")
GB, GIB = 10**9, 2**30
JUNE = (pd.Timestamp("2026-06-01", tz="UTC"), pd.Timestamp("2026-07-01", tz="UTC"))


def _june(df):
    return df[(df["date"] >= JUNE[0]) & (df["date"] < JUNE[1])]


def _units(quantity, block, free=0):
    return max(math.ceil(quantity / block) - free // block, 0)


@pytest.fixture(scope="module")
def wh(synced):
    return Warehouse(synced[1], read_only=True)


@pytest.fixture(scope="module")
def truth(synced):
    return synced[0].account.ground_truth()


@pytest.fixture(scope="module")
def june_bill(wh):
    return price_month(warehouse_usage(wh, "2026-06").usage, "2026-06", CF)


# --- month to date and forecast ---------------------------------------------------------------

def test_a_complete_month_forecasts_exactly_its_bill(wh, truth, june_bill):
    assert latest_synced_day(wh) == date(2026, 6, 30)
    f = month_to_date(wh)  # as_of = the last synced day, June 30: June is complete
    expected = hand_bill(truth)
    rows = f.set_index("sku_id")
    for sku, cost in expected.items():
        assert rows.loc[sku, "mtd_cost"] == cost == june_bill.cost_of(sku)
        assert rows.loc[sku, "forecast_cost"] == rows.loc[sku, "forecast_low"] == \
            rows.loc[sku, "forecast_high"] == cost
    assert rows.loc["total", "forecast_cost"] == sum(expected.values()) == june_bill.total
    assert set(f["days_elapsed"]) == set(f["days_in_month"]) == {30}
    assert all(isinstance(v, Decimal) for v in f["forecast_cost"])


def test_month_to_date_is_the_engine_on_the_days_so_far(wh, june_bill):
    f = month_to_date(wh, "2026-06-20").set_index("sku_id")
    u = warehouse_usage(wh, "2026-06").usage
    cut = Usage(**{name: _until(getattr(u, name), date(2026, 6, 20)) for name in
                   ("stream_storage", "stream_delivery", "r2_storage", "r2_operations",
                    "r2_retrieval")}, r2_ia_removals=u.r2_ia_removals)
    mtd = price_month(cut, "2026-06", CF)
    assert mtd.days_covered == 20
    for sku in f.index.drop("total"):
        assert f.loc[sku, "mtd_cost"] == mtd.cost_of(sku)
        assert f.loc[sku, "forecast_low"] <= f.loc[sku, "forecast_cost"] <= \
            f.loc[sku, "forecast_high"]
    assert f.loc["total", "mtd_cost"] == mtd.total
    assert f.loc["total", "days_elapsed"] == 20
    # prepaid capacity is charged whole from the first day
    assert f.loc["cf-stream-minutes-stored", "mtd_cost"] == Decimal("195.00")
    # the seeded 80% interval of the total holds June's actual bill
    assert f.loc["total", "forecast_low"] <= june_bill.total <= f.loc["total", "forecast_high"]


def _until(df, day):
    d = pd.to_datetime(df["date"], utc=True).dt.date
    return df[d <= day]


def _constant_warehouse(path) -> Warehouse:
    """May 1 to June 12: 7,500 minutes viewed, 40 GB in R2, 50,000 PUTs and 600,000 GETs a day."""
    wh = Warehouse(path)
    days = [date(2026, 5, 1) + timedelta(days=i) for i in range(43)]
    with wh.transaction() as tx:
        tx.upsert("minutes_viewed_daily", [{"date": d, "uid": "v1", "country": "US",
                                            "minutes_viewed": 7500.0} for d in days])
        tx.upsert("r2_storage_daily", [{"date": d, "bucket": "b", "payload_size": 40 * GB,
                                        "metadata_size": 0, "object_count": 40,
                                        "upload_count": 0} for d in days])
        tx.upsert("r2_operations_daily", [
            {"date": d, "bucket": "b", "action_type": action, "action_status": "success",
             "requests": n} for d in days for action, n in (("PutObject", 50_000),
                                                            ("GetObject", 600_000))])
        tx.upsert("stream_storage_snapshots", [{
            "taken_at": datetime(2026, 6, 13, tzinfo=UTC), "total_storage_minutes": 20_000.0,
            "total_storage_minutes_limit": 39_000, "video_count": 0}])
        for source in ("minutes_viewed", "r2_storage", "r2_operations", "r2_object_reads"):
            tx.set_watermark(source, date(2026, 6, 12))
            tx.cover(source, days[0], days[-1] + timedelta(days=1))  # as a sync records it
    return Warehouse(path, read_only=True)


def test_constant_daily_usage_forecasts_the_constant_times_the_days(tmp_path):
    f = month_to_date(_constant_warehouse(tmp_path / "c.duckdb")).set_index("sku_id")

    def bill(days: int) -> dict[str, Decimal]:  # June's prices by hand for `days` days
        gbm = 40 * days / 30
        return {
            "cf-stream-minutes-delivered": Decimal(7500 * days) / 1000 * Decimal("1.00"),
            "cf-stream-minutes-stored": 39 * Decimal("5.00"),
            "cf-r2-standard-storage": max(math.ceil(gbm) - 10, 0) * Decimal("0.015"),
            "cf-r2-standard-class-a": _units(50_000 * days, 10**6, 10**6) * Decimal("4.50"),
            "cf-r2-standard-class-b": _units(600_000 * days, 10**6, 10**7) * Decimal("0.36"),
        }

    mtd, full = bill(12), bill(30)
    assert full == {"cf-stream-minutes-delivered": Decimal("225.00"),
                    "cf-stream-minutes-stored": Decimal("195.00"),
                    "cf-r2-standard-storage": Decimal("0.450"),
                    "cf-r2-standard-class-a": Decimal("4.50"),
                    "cf-r2-standard-class-b": Decimal("2.88")}
    for sku in full:
        assert f.loc[sku, "mtd_cost"] == mtd[sku]
        assert f.loc[sku, "forecast_cost"] == f.loc[sku, "forecast_low"] == \
            f.loc[sku, "forecast_high"] == full[sku]
    assert f.loc["total", "forecast_cost"] == sum(full.values()) == Decimal("427.830")
    assert f.loc["total", "mtd_cost"] == sum(mtd.values()) == Decimal("285.090")
    assert f.loc["total", "days_elapsed"] == 12


def test_a_linear_trend_is_extended_to_month_end():
    start = date(2026, 5, 16)  # 28 days of history up to June 12, growing 100 minutes a day

    def minutes(d: date) -> int:
        return 5000 + 100 * (d - start).days

    history = Usage(stream_delivery=[{"date": start + timedelta(days=i),
                                      "minutes": minutes(start + timedelta(days=i))}
                                     for i in range(28)])
    f = forecast_month(history, "2026-06-12").set_index("sku_id")
    june = [date(2026, 6, d) for d in range(1, 31)]
    full = Decimal(sum(minutes(d) for d in june)) / 1000 * Decimal("1.00")  # pro rata
    so_far = Decimal(sum(minutes(d) for d in june[:12])) / 1000 * Decimal("1.00")
    row = f.loc["cf-stream-minutes-delivered"]
    # June 1 = 6,600 ... June 12 = 7,700 ... June 30 = 9,500 minutes: 12 x (6,600 + 7,700) / 2
    # = 85,800 minutes = $85.80; 30 x (6,600 + 9,500) / 2 = 241,500 minutes = $241.50
    assert (row["mtd_cost"], row["forecast_cost"]) == (so_far, full) == (Decimal("85.80"),
                                                                          Decimal("241.50"))
    assert row["forecast_low"] == row["forecast_high"] == full  # no residuals: no spread


# --- storage runway ---------------------------------------------------------------------------

def test_runway_finds_the_planted_exhaustion_date(synced, wh, truth):
    account = synced[0].account
    planted = account.exhaustion_date()
    assert planted == date(2026, 7, 22)
    assert any(p.kind == "storage_exhaustion" and str(planted) in p.detail
               for p in account.planted)
    r = storage_runway(wh).iloc[0]
    assert abs((r["exhaustion_date"] - planted).days) <= 1
    assert r["exhaustion_earliest"] <= planted <= r["exhaustion_latest"]
    assert r["days_until_exhaustion"] == (r["exhaustion_date"] - date(2026, 7, 1)).days
    assert r["capacity_minutes"] == account.capacity_minutes == 39_000
    assert r["stored_minutes"] == truth.storage_usage["totalStorageMinutes"]
    pending = truth.videos[truth.videos["state"] == "pendingupload"]
    assert r["reserved_minutes"] == pending["max_duration_seconds"].sum() / 60 == 180
    assert r["headroom_minutes"] == pytest.approx(39_000 - 33_613.2)


def test_runway_daily_reconciles_the_snapshot_with_the_rebuild(wh, truth):
    d = storage_runway_daily(wh, horizon_days=30)
    assert len(d) == 28 + 30
    past = d[d["rebuilt_minutes"].notna()]
    # the snapshot = the rebuilt stored minutes (ready videos + pending-upload reservations)
    last = past.iloc[-1]
    assert last["date"] == date(2026, 6, 30)
    assert last["snapshot_minutes"] == last["rebuilt_minutes"]  # reservations included
    # additions per day = minutes (rounded up to the second) of the videos ready that day
    v = truth.videos[truth.videos["state"] == "ready"]
    by_day = (v["stored_seconds"].groupby(v["ready_at"].dt.date).sum() / 60)
    assert past["added_minutes"].tolist() == pytest.approx(
        [by_day.get(day, 0.0) for day in past["date"]])
    future = d[d["projected_minutes"].notna()]
    assert (future["projected_low"] <= future["projected_high"]).all()
    assert (future["capacity_minutes"] == 39_000).all()


def test_runway_after_seven_more_days_still_finds_the_planted_date(account, synced_copy):
    from lc_analytics.sandbox import Sandbox
    from lc_analytics.sync import sync

    db = synced_copy  # a full sync of `account` at its clock
    with Sandbox(account) as sb:
        account.advance(7)
        sync(sb.settings(db_path=db), transport=sb.transport,
             now=lambda: account.now.to_pydatetime(), progress="none")
    r = storage_runway(Warehouse(db, read_only=True)).iloc[0]
    assert r["snapshot_at"] == pd.Timestamp("2026-07-08", tz="UTC")
    assert r["stored_minutes"] == account.storage_usage()["totalStorageMinutes"]
    planted = account.exhaustion_date()
    assert planted == date(2026, 7, 22)
    assert abs((r["exhaustion_date"] - planted).days) <= 1
    assert r["exhaustion_earliest"] <= planted <= r["exhaustion_latest"]


# --- unit costs -------------------------------------------------------------------------------

def test_unit_cost_numerators_add_up_to_the_bill(wh, truth):
    u = unit_costs(wh, "2026-06")
    total = sum(hand_bill(truth).values())
    shows = u[u["metric"] == "cost per show"]
    overall, parts = shows.iloc[0], shows.iloc[1:]
    assert overall["numerator_cost"] == total
    assert sum(parts["numerator_cost"], Decimal(0)) == total
    recordings = truth.videos[truth.videos["live_input"].notna()
                              & (truth.videos["created"] >= JUNE[0])
                              & (truth.videos["created"] < JUNE[1])]
    assert overall["denominator"] == len(recordings) > 100
    assert sum(parts["denominator"]) == len(recordings)
    assert overall["unit_cost"] == total / len(recordings)
    per_input = recordings.groupby("live_input").size()
    for row in parts[parts["live_input_uid"].notna()].itertuples():
        assert row.denominator == int(per_input.get(row.live_input_uid, 0))


def test_unit_costs_per_viewer_minute_and_per_gb_month(wh, truth):
    u = unit_costs(wh, "2026-06").set_index(["metric", "scope"])
    total = sum(hand_bill(truth).values())
    minutes = int(_june(truth.minutes_viewed_daily)["minutes_viewed"].sum())
    row = u.loc[("cost per 1,000 viewer-minutes", "whole bill")]
    assert row["denominator"] == Decimal(minutes) / 1000
    assert row["unit_cost"] == total / (Decimal(minutes) / 1000)
    row = u.loc[("cost per 1,000 viewer-minutes", "Stream delivery")]
    assert row["numerator_cost"] == Decimal(minutes) / 1000 * Decimal("1.00")  # pro rata
    byte_days = int(_june(truth.r2_storage_daily_by_class)["bytes"].sum())
    row = u.loc[("cost per GB-month stored in R2", "R2 storage")]
    assert row["denominator"] == Decimal(byte_days) / GB / 30
    bill = hand_bill(truth)
    assert row["numerator_cost"] == bill["cf-r2-standard-storage"] + bill["cf-r2-ia-storage"]
    r2_all = sum(v for k, v in bill.items() if k.startswith("cf-r2-"))
    assert u.loc[("cost per GB-month stored in R2", "all R2 charges"), "numerator_cost"] == r2_all


# --- AWS comparison ---------------------------------------------------------------------------

def test_egress_bytes_is_minutes_times_bitrate():
    # 1,000 minutes at 4.9 Mbps: 1000 x 60 x 4.9 / 8 / 1000 = 36.75 decimal GB
    assert egress_bytes(1000, Decimal("4.9")) == Decimal("36.75") * GB


def test_aws_comparison_prices_the_same_month_on_s3_and_cloudfront(wh, truth, june_bill):
    c = aws_comparison(wh, "2026-06").set_index("component")
    bill = hand_bill(truth)
    minutes = int(_june(truth.minutes_viewed_daily)["minutes_viewed"].sum())
    # the Cloudflare column is the Cloudflare bill, component by component
    cf = {"Object storage (R2 -> S3 Standard)": ["cf-r2-standard-storage", "cf-r2-ia-storage"],
          "Operations (R2 Class A/B -> S3 PUT/GET)": [
              "cf-r2-standard-class-a", "cf-r2-standard-class-b", "cf-r2-ia-class-a",
              "cf-r2-ia-class-b"],
          "IA retrieval (R2 -> S3 Standard)": ["cf-r2-ia-retrieval"],
          "Video delivery (Stream minutes delivered -> CloudFront egress)": [
              "cf-stream-minutes-delivered"],
          "Video storage (Stream minutes stored -> S3 Standard renditions)": [
              "cf-stream-minutes-stored"]}
    for component, skus in cf.items():
        assert c.loc[component, "cloudflare_cost"] == sum(bill[s] for s in skus)
    assert c.loc["Total", "cloudflare_cost"] == sum(bill.values()) == june_bill.total
    # delivery: minutes x 60 x 4.9 Mbps (30/40/20/10 of 8/4.8/2.4/1) / 8 bytes, in 2^30-byte GB
    row = c.loc["Video delivery (Stream minutes delivered -> CloudFront egress)"]
    gib = Decimal(minutes) * 60 * Decimal("4.9") * 10**6 / 8 / GIB
    assert row["aws_quantity"] == gib
    assert 1024 < gib < 11264  # past the free TB, inside the first tier
    assert row["aws_cost"] == (gib - 1024) * Decimal("0.085")
    assert "4.9 Mbps" in row["assumption"]
    # object storage: every R2 byte as S3 Standard, GB-months of 2^30 bytes
    byte_days = int(_june(truth.r2_storage_daily_by_class)["bytes"].sum())
    row = c.loc["Object storage (R2 -> S3 Standard)"]
    assert row["aws_quantity"] == Decimal(byte_days) / GIB / 30
    assert row["aws_cost"] == Decimal(byte_days) / GIB / 30 * Decimal("0.023")
    # operations: Class A at $0.005 and Class B at $0.0004 per 1,000
    ops = _june(truth.r2_billing_operations).groupby("op_class")["requests"].sum()
    assert c.loc["Operations (R2 Class A/B -> S3 PUT/GET)", "aws_cost"] == \
        Decimal(int(ops["A"])) / 1000 * Decimal("0.005") + \
        Decimal(int(ops["B"])) / 1000 * Decimal("0.0004")
    assert c.loc["IA retrieval (R2 -> S3 Standard)", "aws_cost"] == 0
    # Stream storage: stored minutes x 60 x 16.2 Mbps (all four renditions) / 8, GB-months
    days = pd.date_range("2026-06-01", "2026-06-30")
    stored = sum(Decimal(str(m)) for m in rebuilt_stored_minutes(wh, days))
    row = c.loc["Video storage (Stream minutes stored -> S3 Standard renditions)"]
    assert float(row["aws_quantity"]) == pytest.approx(
        float(stored * 60 * Decimal("16.2") * 10**6 / 8 / GIB / 30), rel=1e-12)
    # what is not priced says so; the total is the priced components
    excluded = c[c["aws_cost"].isna()]
    assert len(excluded) == 2 and (excluded["excluded"].str.startswith("not priced")).all()
    assert "IVS" in " ".join(excluded.index)
    priced = c[c["aws_cost"].notna()].drop(index="Total")
    # priced together and row by row: equal but for Decimal's 28-digit rounding of the parts
    assert abs(c.loc["Total", "aws_cost"] - sum(priced["aws_cost"], Decimal(0))) < Decimal(
        "1e-18")
    assert c.loc["Total", "difference"] == c.loc["Total", "aws_cost"] - sum(bill.values())


def test_the_bitrate_mix_is_explicit_and_overridable(wh, truth):
    c = aws_comparison(wh, "2026-06", {"720p": 1}).set_index("component")
    minutes = int(_june(truth.minutes_viewed_daily)["minutes_viewed"].sum())
    row = c.loc["Video delivery (Stream minutes delivered -> CloudFront egress)"]
    assert row["aws_quantity"] == Decimal(minutes) * 60 * Decimal("4.8") * 10**6 / 8 / GIB
    assert "720p 4.8 Mbps x 1" in row["assumption"]
    with pytest.raises(ValueError, match="add up to 1"):
        aws_comparison(wh, "2026-06", {"720p": 0.5})
    with pytest.raises(ValueError, match="unknown rendition"):
        aws_comparison(wh, "2026-06", {"4k": 1})


def test_an_empty_warehouse_says_what_to_run(tmp_path):
    from lc_analytics.errors import LcAnalyticsError

    Warehouse(tmp_path / "empty.duckdb")
    empty = Warehouse(tmp_path / "empty.duckdb", read_only=True)
    with pytest.raises(LcAnalyticsError, match="run a sync"):
        month_to_date(empty)
    with pytest.raises(LcAnalyticsError, match="no Stream storage snapshot"):
        storage_runway(empty)
