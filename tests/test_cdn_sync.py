"""Zone (CDN) sync against the sandbox's zone: exact daily rollup, hourly estimates within the
error the sampling reports, cache rules, per-plan limits, settings and permissions."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from lc_analytics.errors import AuthError, ConfigError
from lc_analytics.sandbox import Sandbox, SimulatedAccount
from lc_analytics.settings import Settings
from lc_analytics.sources.zone import extension, path_prefix, status_class
from lc_analytics.sync import sync
from lc_analytics.warehouse import Warehouse

from .conftest import END, SEED

HOURLY_DAYS = 2


def _sync(sb: Sandbox, db, **overrides):
    settings = sb.settings(db_path=db, zone=True, **overrides)
    return sync(settings, sources=["zone"], transport=sb.transport,
                now=lambda: sb.account.now.to_pydatetime(), progress="none")


@pytest.fixture(scope="module")
def zone_synced(tmp_path_factory):
    """One zone-only sync of a fresh small account (Enterprise-like plan), hourly capped."""
    sb = Sandbox(SimulatedAccount.build("small", seed=SEED, end=END, days=31), r2=False)
    db = tmp_path_factory.mktemp("zone") / "wh.duckdb"
    report = _sync(sb, db, zone_hourly_days=HOURLY_DAYS)
    return sb, db, report


def _table(db, sql: str) -> pd.DataFrame:
    frame = Warehouse(db, read_only=True).query(sql)
    if "date" in frame:
        frame["date"] = frame["date"].dt.date
    return frame


def test_daily_rollup_and_countries_equal_the_truth_exactly(zone_synced):
    sb, db, report = zone_synced
    zone, now = sb.account.zone, sb.account.now
    got = _table(db, "SELECT * EXCLUDE (zone_id) FROM zone_traffic_daily ORDER BY date")
    truth = zone.daily(now)
    truth = truth[truth["date"] >= (now - pd.Timedelta(days=365)).date()]
    assert len(got) == 365 == report.rows["zone_traffic_daily"]
    assert got["date"].tolist() == truth["date"].tolist()
    for col in truth.columns.drop("date"):
        assert got[col].tolist() == truth[col].tolist(), col
    countries = _table(db, "SELECT date, country, requests, bytes FROM "
                           "zone_traffic_daily_countries ORDER BY date, country")
    expect = zone.daily_countries(now)
    expect = expect[expect["date"] >= truth["date"].iloc[0]].sort_values(["date", "country"])
    assert countries.to_dict("list") == expect.reset_index(drop=True).to_dict("list")


def _truth_groups(zone, since, now) -> pd.DataFrame:
    h = zone.hourly(now, since)
    return h.assign(path_prefix=h["path"].map(path_prefix),
                    extension=h["path"].map(extension),
                    status_class=h["status"].map(status_class))


def test_hourly_estimates_fall_within_the_error_the_sampling_reports(zone_synced):
    sb, db, _ = zone_synced
    now = sb.account.now
    since = now - pd.Timedelta(days=HOURLY_DAYS)
    got = _table(db, "SELECT * FROM zone_traffic_hourly")
    assert got["hour"].min() == since and got["hour"].max() == now - pd.Timedelta(hours=1)
    keys = ["host", "path_prefix", "extension", "cache_status", "status_class"]
    est = got.groupby(keys)[["requests", "requests_variance"]].sum()
    truth = _truth_groups(sb.account.zone, since, now).groupby(keys)["requests"].sum()
    joined = est.join(truth.rename("truth"), how="outer").fillna(0)
    sampled = joined["requests_variance"] > 0
    assert sampled.sum() >= 5  # busy groups were sampled: their counts are estimates
    assert (joined.loc[sampled, "requests"] != joined.loc[sampled, "truth"]).any()
    # every group within 4 standard errors of its own reported variance (exact when 0)
    bound = 4 * np.sqrt(joined["requests_variance"])
    assert ((joined["requests"] - joined["truth"]).abs() <= bound).all(), joined
    # the error is real: the total's z-score is computed, not assumed
    z = (joined["requests"].sum() - joined["truth"].sum()) / math.sqrt(
        joined["requests_variance"].sum())
    assert abs(z) < 4
    exact = got[got["sample_interval"] == 1.0]
    assert len(exact) and (exact["requests_variance"] == 0).all()


def test_cache_rules_inventory_holds_the_seeds_static_rule(zone_synced):
    _, db, _ = zone_synced
    rules = _table(db, "SELECT * FROM zone_cache_rules")
    assert len(rules) == 1
    rule = rules.iloc[0]
    assert rule["expression"] == 'starts_with(http.request.uri.path, "/static/")'
    assert (rule["cache"], rule["edge_ttl_seconds"], rule["browser_ttl_seconds"]) == (
        True, 2_592_000, 86_400)
    assert pd.isna(rule["missing_since"])


def test_a_free_like_plan_syncs_what_it_allows_and_says_what_it_could_not(tmp_path):
    acct = SimulatedAccount.build("small", seed=SEED + 4, end=END - timedelta(days=9), days=31)
    acct.zone.plan = "free"
    with Sandbox(acct, r2=False) as sb:
        db = tmp_path / "wh.duckdb"
        report = _sync(sb, db)
        now = acct.now
        hourly = _table(db, "SELECT min(hour) AS lo, max(hour) AS hi, sum(requests) AS n "
                            "FROM zone_traffic_hourly")
        assert hourly["lo"][0] == now - pd.Timedelta(days=3)  # notOlderThan: 3 days
        assert hourly["hi"][0] == now - pd.Timedelta(hours=1)
        # windows sized from maxDuration (1 day hourly, 92 days daily)
        days = [w for w in report.windows["zone"] if (w[1] - w[0]).days > 1]
        assert max((hi - lo).days for lo, hi in days) == 92
        assert len(_table(db, "SELECT * FROM zone_traffic_daily")) == 365
        lines = report.not_synced["zone"]
        assert any("the plan keeps 3 day(s) of hourly data" in line for line in lines)
        assert any("not synced" in line for line in report.summary_lines())
        limits = _table(db, "SELECT * FROM zone_dataset_limits ORDER BY dataset")
        assert limits["not_older_than_s"].tolist() == [365 * 86_400, 3 * 86_400]


def test_without_a_zone_id_the_step_is_skipped_and_says_so(shared_account, tmp_path):
    with Sandbox(shared_account, r2=False) as sb:
        report = sync(sb.settings(db_path=tmp_path / "wh.duckdb"), sources=["zone"],
                      transport=sb.transport, progress="none",
                      now=lambda: shared_account.now.to_pydatetime())
    assert report.not_synced["zone"] == [
        "CLOUDFLARE_ZONE_ID is not set: the CDN steps were skipped"]
    assert "zone_traffic_daily" not in report.rows


def test_a_token_without_zone_analytics_is_named_and_creates_nothing(shared_account, tmp_path):
    real, other = shared_account.zone.zone_id, "f" * 32
    with Sandbox(shared_account, r2=False) as sb:
        db = tmp_path / "wh.duckdb"
        several = sb.settings(db_path=db, zone_ids=(real, other))
        with pytest.raises(AuthError, match=f"zone\\(s\\) {other} ") as err:
            sync(several, sources=["zone"], transport=sb.transport, progress="none",
                 now=lambda: shared_account.now.to_pydatetime())
        sb.emulator.tokens[sb.token] -= {"zone:analytics:read"}
        with pytest.raises(AuthError, match="Zone > Analytics > Read") as err:
            _sync(sb, db)
    assert real in str(err.value) and sb.token not in str(err.value)
    assert err.value.exit_code == 4 and not db.exists()


def test_zone_settings_are_checked_and_each_bad_one_named():
    good = {"CLOUDFLARE_ACCOUNT_ID": "0" * 32, "CLOUDFLARE_API_TOKEN": "t"}
    s = Settings.from_env({**good, "CLOUDFLARE_ZONE_ID": f"{'a' * 32},{'b' * 32}",
                           "LC_ANALYTICS_ORIGIN_EGRESS_USD_PER_GB": "0.09",
                           "LC_ANALYTICS_ZONE_HOURLY_DAYS": "7"}, env_file=None)
    assert s.zone_ids == ("a" * 32, "b" * 32) and s.zone_hourly_days == 7
    assert str(s.origin_egress_usd_per_gb) == "0.09"
    assert Settings.from_env(good, env_file=None).zone_ids == ()
    with pytest.raises(ConfigError) as err:
        Settings.from_env({**good, "CLOUDFLARE_ZONE_ID": "example.com",
                           "LC_ANALYTICS_ORIGIN_EGRESS_USD_PER_GB": "-1",
                           "LC_ANALYTICS_ZONE_HOURLY_DAYS": "0"}, env_file=None)
    text = str(err.value)
    for name in ("CLOUDFLARE_ZONE_ID", "LC_ANALYTICS_ORIGIN_EGRESS_USD_PER_GB",
                 "LC_ANALYTICS_ZONE_HOURLY_DAYS"):
        assert name in text


def test_a_zone_window_is_replaced_without_touching_another_zones_rows(tmp_path):
    wh = Warehouse(tmp_path / "wh.duckdb")
    day = {"requests": 1, "cached_requests": 0, "bytes": 2, "cached_bytes": 0,
           "page_views": 0, "threats": 0, "uniques": 1}
    rows = [{"zone_id": z, "date": END - timedelta(days=i), **day}
            for z in ("a" * 32, "b" * 32) for i in range(3)]
    with wh.transaction() as tx:
        tx.upsert("zone_traffic_daily", rows)
        n = tx.replace_range("zone_traffic_daily", "date", END - timedelta(days=2), END,
                             [{**rows[2], "requests": 9}], scope={"zone_id": "a" * 32})
    assert n == 1
    got = _table(tmp_path / "wh.duckdb", "SELECT zone_id, date, requests FROM "
                                         "zone_traffic_daily ORDER BY zone_id, date")
    assert got.values.tolist() == [
        ["a" * 32, END - timedelta(days=2), 9], ["a" * 32, END, 1],
        ["b" * 32, END - timedelta(days=2), 1], ["b" * 32, END - timedelta(days=1), 1],
        ["b" * 32, END, 1]]
