"""The cache-rule recommendation: the zone's planted prefix is found across seeds and end dates
(the default end included), its look-alike left alone; money only when the origin's egress is
priced; the rule applies through the emulated Rulesets API (dry run first, stale plans refused)
and a re-sync after `Sandbox.advance` shows the hit ratio change; the read model's analyses."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from lc_analytics import analyses
from lc_analytics.actions import apply_plan
from lc_analytics.errors import AuthError, PlanError
from lc_analytics.recommend.cache_rules import KIND, CacheRuleParams, recommend_cache_rules
from lc_analytics.recommend.model import Plan
from lc_analytics.sandbox import Sandbox, SimulatedAccount
from lc_analytics.sandbox.zone import SimulatedZone
from lc_analytics.sources.zone import extension, path_prefix, rule_record, status_class
from lc_analytics.sync import sync
from lc_analytics.warehouse import Warehouse

from .conftest import END, SEED

YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)
CASES = [(SEED, END), (11, date(2026, 3, 31)), (23, date(2026, 1, 14)), (5, YESTERDAY)]


def _truth_warehouse(zone: SimulatedZone, now: pd.Timestamp, path, days: int = 3) -> Warehouse:
    """The zone's exact last `days` of hourly traffic and its rules, written through the
    warehouse's loaders as the sync writes them (no sampling: variance 0)."""
    h = zone.hourly(now, now - pd.Timedelta(days=days))
    h = h.assign(path_prefix=h["path"].map(path_prefix), extension=h["path"].map(extension),
                 status_class=h["status"].map(status_class))
    keys = ["hour", "host", "path_prefix", "extension", "cache_status", "status_class",
            "country"]
    rows = h.groupby(keys, as_index=False)[["requests", "bytes"]].sum().assign(
        zone_id=zone.zone_id, sample_interval=1.0, requests_variance=0.0)
    wh = Warehouse(path)
    rules = [rule_record(zone.zone_id, "1", r) for r in zone.rules_history[-1][1]["rules"]]
    with wh.transaction() as tx:
        tx.upsert("zone_traffic_hourly", rows)
        tx.upsert("zone_cache_rules", rules, seen_at=now.to_pydatetime())
    return wh


def _case(seed: int, end: date, path) -> tuple[SimulatedZone, pd.Timestamp, Warehouse]:
    zone = SimulatedZone.build(seed, end, end + timedelta(days=1))
    now = pd.Timestamp(end + timedelta(days=1), tz="UTC")
    return zone, now, _truth_warehouse(zone, now, path)


@pytest.fixture(scope="module")
def default_case(tmp_path_factory):
    """The pinned seed and end date's zone, written to a warehouse (read-only for tests)."""
    return _case(SEED, END, tmp_path_factory.mktemp("cdn") / "wh.duckdb")


@pytest.mark.parametrize(("seed", "end"), CASES, ids=[f"seed{s}-{e}" for s, e in CASES])
def test_the_planted_prefix_is_found_and_the_look_alike_left_alone(seed, end, tmp_path,
                                                                   request):
    zone, _, wh = request.getfixturevalue("default_case") if (seed, end) == (SEED, END) \
        else _case(seed, end, tmp_path / "wh.duckdb")
    recs = recommend_cache_rules(wh)
    targets = {r.target for r in recs}
    for p in zone.planted():
        assert (p.target in targets) is (not p.healthy), (seed, end, p, targets)
    assert targets == {p.target for p in zone.planted() if not p.healthy}
    (rec,) = recs
    e = rec.evidence
    assert rec.kind == KIND and e.hit_ratio_requests < 0.5 and e.static_share == 1.0
    assert e.extensions == ("jpg", "webp") and e.origin_bytes_saved_per_month > 0
    # the expected ratio is the zone's own /static/ ratio, measured (not assumed)
    assert e.expected_from.endswith("/static/") and e.expected_hit_ratio_bytes > 0.85
    # money honesty: Cloudflare does not bill it, so no dollars without an origin price
    assert rec.monthly_saving == 0 and "does not bill" in rec.saving_computation
    (action,) = rec.actions
    assert action.kind == "zone.cache_rules" and action.resource == zone.zone_id
    assert len(action.proposed["rules"]) == len(action.current["rules"]) + 1 == 2
    new = action.proposed["rules"][-1]
    assert new["expression"].endswith('starts_with(http.request.uri.path, "/assets/"))')
    assert new["action_parameters"]["edge_ttl"] == {"mode": "override_origin",
                                                    "default": 30 * 86_400}


def test_origin_egress_is_priced_by_the_engine_only_when_stated(default_case):
    wh = default_case[2]
    (rec,) = recommend_cache_rules(
        wh, rule=CacheRuleParams(origin_egress_usd_per_gb=Decimal("0.09")))
    e = rec.evidence
    days = (date.fromisoformat(e.last) - date.fromisoformat(e.first)).days
    per_day = e.bytes / days
    before = [int(per_day * (1 - e.hit_ratio_bytes))] * 30
    after = [int(per_day * (1 - e.expected_hit_ratio_bytes))] * 30
    expect = (Decimal(sum(before)) - Decimal(sum(after))) / Decimal(10**9) * Decimal("0.09")
    assert rec.monthly_saving == expect > 0
    assert rec.saving_computation.startswith("Engine (origin egress price (setting))")
    # a book with an egress meter (an AWS origin) is priced by its own SKU, free tier and all
    (aws,) = recommend_cache_rules(wh, origin_book="aws")
    assert "aws" in aws.saving_computation and aws.monthly_saving >= 0


def _sync(sb: Sandbox, db):
    return sync(sb.settings(db_path=db, zone=True, zone_hourly_days=2), sources=["zone"],
                transport=sb.transport, now=lambda: sb.account.now.to_pydatetime(),
                progress="none")


def test_the_rule_applies_and_a_resync_after_advance_shows_the_hit_ratio_change(tmp_path):
    acct = SimulatedAccount.build("small", seed=SEED + 1, end=END, days=31)
    with Sandbox(acct, r2=False) as sb:
        db = tmp_path / "wh.duckdb"
        _sync(sb, db)
        wh = Warehouse(db)
        status = analyses.rule_status(wh)
        assert status["rule_in_force"] and status["working"]  # the seed's /static/ rule
        (rec,) = recommend_cache_rules(wh)
        www = f"www.{acct.zone.domain}"
        before = analyses.rule_status(wh, "/assets/", www)
        assert not before["rule_in_force"] and before["hit_ratio_requests"] < 0.2
        plan = Plan(account_id=acct.account_id, created_at=acct.now.to_pydatetime(),
                    book="cloudflare", recommendations=[rec])
        settings = sb.settings(db_path=db, zone=True)
        dry = apply_plan(plan, settings, transport=sb.transport)
        assert [r.status for r in dry.reviews] == ["pending"]
        assert len(acct.zone.rules_history) == 1  # a dry run changes nothing
        sb.emulator.tokens[sb.token] -= {"zone:cache_rules:edit"}
        with pytest.raises(AuthError, match="Zone > Cache Rules > Edit"):
            apply_plan(plan, settings, yes=True, transport=sb.transport)
        assert len(acct.zone.rules_history) == 1
        sb.emulator.tokens[sb.token] |= {"zone:cache_rules:edit"}
        done = apply_plan(plan, settings, yes=True, transport=sb.transport, warehouse=wh)
        assert done.applied == [rec.actions[0].id] and len(acct.zone.rules_history) == 2
        again = apply_plan(plan, settings, transport=sb.transport)
        assert [r.status for r in again.reviews] == ["done"]  # applying twice changes nothing
        sb.advance(2)
        again = _sync(sb, db)  # from the watermarks: the daily lag (3 days) + 2 new days
        assert again.rows["zone_traffic_daily"] == 5 and again.rows["zone_cache_rules"] == 2
        after = analyses.rule_status(Warehouse(db), "/assets/", www, first=acct.end)
        assert after["rule_in_force"] and after["working"]
        ratio = analyses.cache_hit_ratio(Warehouse(db), ["host", "path_prefix"], "D")
        assets = ratio[(ratio["path_prefix"] == "/assets/") & (ratio["host"] == www)]
        assert assets["hit_ratio_requests"].iloc[0] < 0.2 < 0.85 < assets[
            "hit_ratio_requests"].iloc[-1]
        assert recommend_cache_rules(Warehouse(db)) == []  # covered now: nothing to propose
        # someone edits the rules meanwhile: an old plan is stale and refused
        acct.zone.put_rules([], acct.now)
        with pytest.raises(PlanError, match="stale"):
            apply_plan(plan, settings, transport=sb.transport)


def test_cdn_analyses_read_the_synced_zone(default_case):
    zone, now, wh = default_case
    truth = zone.hourly(now, now - pd.Timedelta(days=3))
    by_host = analyses.traffic_by(wh, "host").set_index("host")
    assert by_host["requests"].to_dict() == truth.groupby("host")["requests"].sum().to_dict()
    assert (by_host["requests_stderr"] == 0).all()
    errors = analyses.error_rates(wh, "host", None).set_index("host")
    api = truth[truth["host"].str.startswith("api.")]
    assert errors.loc[api["host"].iloc[0], "5xx_share"] == pytest.approx(
        api.loc[api["status"] >= 500, "requests"].sum() / api["requests"].sum())
    ratio = analyses.cache_hit_ratio(wh, "path_prefix", None).set_index("path_prefix")
    static = truth[truth["path"].str.startswith("/static/")]
    hits = static["cache_status"].isin(["hit", "stale", "updating", "revalidated"])
    assert ratio.loc["/static/", "hit_ratio_bytes"] == pytest.approx(
        static.loc[hits, "bytes"].sum() / static["bytes"].sum())
