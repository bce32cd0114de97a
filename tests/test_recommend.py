"""Recommenders: every planted situation found, nothing healthy flagged, savings engine-priced."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from lc_analytics.actions import apply_plan
from lc_analytics.costs.engine import Usage, price_month
from lc_analytics.costs.pricebook import load_book
from lc_analytics.costs.runway import storage_runway_daily
from lc_analytics.errors import UsageError
from lc_analytics.recommend import (
    Plan,
    SelectivityRule,
    lifecycle_candidates,
    recommend_all,
    recommend_selectivity,
    retention_policies,
    to_frame,
)
from lc_analytics.recommend.bitrate import load_bandwidth
from lc_analytics.sandbox import SimulatedAccount
from lc_analytics.sandbox.runtime import Sandbox
from lc_analytics.sources.stream import parse_time
from lc_analytics.warehouse import Warehouse

AS_OF = datetime(2026, 6, 30, tzinfo=UTC)  # the fixture's last synced day
CLOCK = AS_OF + timedelta(days=1)
JULY = "2026-07"
STREAM = ("recording_selectivity", "recording_retention")


@pytest.fixture(scope="module")
def wh(synced):
    return Warehouse(synced[1], read_only=True)


@pytest.fixture(scope="module")
def recs(synced_recs):
    return synced_recs  # recommend_all(wh), computed once for the session


@pytest.fixture(scope="module")
def planted(synced):
    from lc_analytics.sandbox.live_shows import PLANTED_KINDS  # found by tests/test_live_*

    return [p for p in synced[0].account.planted if p.kind not in PLANTED_KINDS]


def _by(recs, kind):
    return [r for r in recs if r.kind == kind]


def _capacity_cost(minutes: float) -> Decimal:
    usage = Usage(stream_storage=[{"date": "2026-07-01", "stored_minutes": minutes,
                                   "capacity_minutes": None}])
    return price_month(usage, JULY, load_book("cloudflare")).total


def _stored_now(wh) -> float:
    snap = wh.query("SELECT total_storage_minutes FROM stream_storage_snapshots "
                    "ORDER BY taken_at DESC LIMIT 1")
    return float(snap.iloc[0, 0])


def _stored_minutes_of(wh, live_input: str) -> float:
    v = wh.query("SELECT ceil(duration_seconds) AS s FROM videos WHERE live_input_uid = ? "
                 "AND state = 'ready' AND missing_since IS NULL AND scheduled_deletion IS NULL",
                 [live_input])
    return float(v["s"].sum()) / 60


def _minutes_of(wh, uids: list[str]) -> float:
    v = wh.query("SELECT uid, ceil(duration_seconds) AS s FROM videos")
    return float(v.loc[v["uid"].isin(uids), "s"].sum()) / 60


def test_every_planted_situation_is_found(recs, planted, synced):
    for p in (p for p in planted if not p.healthy):
        if p.kind == "unwatched_recordings":
            hits = [r for r in recs if r.target == p.target and (
                r.kind == "recording_selectivity"
                or (r.kind == "recording_retention" and r.evidence.policy_days == 30))]
        elif p.kind == "overprovisioned_ingest":
            hits = [r for r in _by(recs, "bitrate_ingest") if r.target == p.target]
        elif p.kind == "cold_prefix":
            hits = [r for r in _by(recs, "r2_lifecycle") if r.target == p.target]
            assert p.target == "lc-thumbnails/shows/"
        elif p.kind == "costly_lifecycle_rule":
            hits = [r for r in _by(recs, "r2_lifecycle") if r.target == p.target
                    and r.evidence.existing_rule == "exports-to-ia"]
        elif p.kind == "storage_exhaustion":
            hits = _by(recs, "storage_runway")
        elif p.kind == "cost_anomaly":
            continue  # an alert, not a recommendation: tests/test_alerts*.py find it
        else:
            raise AssertionError(f"unknown planted kind {p.kind}")
        assert hits, f"planted {p.kind} {p.target} was not found"
    runway = _by(recs, "storage_runway")[0]
    truth = synced[0].account.exhaustion_date()
    found = datetime.fromisoformat(runway.evidence.exhaustion_date).date()
    assert abs((found - truth).days) <= 2 and str(truth) == "2026-07-22"


def test_nothing_healthy_is_flagged_by_any_recommender(recs, planted, wh):
    # the cost anomaly's look-alike (a weekly re-index of a whole bucket) is healthy for the
    # anomaly check; the recommenders may still propose lifecycle rules inside that bucket
    healthy = {p.target for p in planted if p.healthy and p.kind != "cost_anomaly"}
    healthy |= set(wh.query("SELECT uid FROM live_inputs WHERE recording_mode = 'off'")["uid"])
    assert len(healthy) == 6
    for r in recs:
        assert r.target not in healthy, (r.id, r.kind)
        for a in r.actions:
            assert a.resource not in healthy, (r.id, a.id)
            if a.kind == "r2.lifecycle":
                new = [x for x in a.proposed["Rules"] if x not in a.current["Rules"]]
                for rule in new:
                    prefix = f"{a.resource}/{rule['Filter']['Prefix']}"
                    assert not any(h.startswith(prefix) for h in healthy), (rule, healthy)


def test_every_saving_is_positive_and_shows_its_computation(recs):
    assert {r.kind for r in recs} == {"recording_selectivity", "recording_retention",
                                      "storage_runway", "r2_lifecycle", "bitrate_ingest"}
    for r in recs:
        assert r.saving_computation and r.rule and r.viewer_impact and r.action
        assert r.confidence in ("high", "medium", "low")
        assert r.evidence.confidence_reason
        if getattr(r.evidence, "information_only", False):
            assert r.monthly_saving == 0
        elif r.kind in STREAM:
            # the saving in the next billing month; it may be 0 where the recommendations
            # priced before already brought that month's peak down to its first day (retention
            # after recording off, here), and then the month-end run rate is positive
            assert r.monthly_saving >= 0, r.id
            assert r.monthly_saving > 0 or Decimal(r.evidence.month_end_saving) > 0, r.id
            assert r.evidence.billing_month == JULY
        else:
            assert r.monthly_saving > 0, r.id
    assert len({r.id for r in recs}) == len(recs)
    ids = [a.id for r in recs for a in r.actions]
    assert len(ids) == len(set(ids))


def test_scheduled_deletions_are_allowed_by_the_api(recs, wh):
    videos = wh.query("SELECT uid, created, uploaded FROM videos").set_index("uid")
    actions = [a for r in recs for a in r.actions if a.kind == "video.schedule_deletion"]
    assert len(actions) > 100
    for a in actions:
        when = parse_time(a.proposed["scheduledDeletion"])
        v = videos.loc[a.resource]
        base = v["uploaded"] if pd.notna(v["uploaded"]) else v["created"]
        assert when >= base.to_pydatetime() + timedelta(days=30), a.id
        assert when >= CLOCK + timedelta(days=1), a.id
        current = parse_time(a.current["scheduledDeletion"])
        assert current is None or when < current, a.id


def _baseline(wh) -> np.ndarray:
    """July's stored minutes at the end of each day, nothing applied (the runway projection)."""
    daily = storage_runway_daily(wh, horizon_days=31)
    july = daily[pd.to_datetime(daily["date"]).dt.strftime("%Y-%m") == JULY]
    assert len(july) == 31 and july["projected_minutes"].notna().all()
    return july["projected_minutes"].to_numpy(float)


def test_selectivity_saving_equals_the_engine_by_hand(recs, wh, planted):
    target = next(p.target for p in planted if p.kind == "unwatched_recordings"
                  and not p.healthy)
    rec = next(r for r in _by(recs, "recording_selectivity") if r.target == target)
    e = rec.evidence
    # minutes freed by the end of July: every stored recording (all due before July 31)...
    scheduled = _stored_minutes_of(wh, target)
    assert e.stored_minutes_scheduled == pytest.approx(scheduled, abs=1e-3)
    parts = e.minutes_freed_by_month_end
    assert parts["deleted_first_day"] + parts["deleted_later_in_month"] == \
        pytest.approx(scheduled, abs=1e-2)
    # ... and the 31 days of recordings it would have made at its pace of the last 28 days
    recent = wh.query("SELECT ceil(duration_seconds) AS s FROM videos WHERE live_input_uid = ? "
                      "AND state = 'ready' AND ready_to_stream_at >= ? AND "
                      "ready_to_stream_at < ?", [target, CLOCK - timedelta(days=28), CLOCK])
    rate = float(recent["s"].sum()) / 60 / 28
    assert e.recorded_minutes_per_day == pytest.approx(rate, abs=1e-3)
    assert parts["future_recordings"] == pytest.approx(31 * rate, abs=1e-2)
    assert e.minutes_freed == pytest.approx(scheduled + 31 * rate, abs=1e-2)
    # the first day still holds every recording (the deletions run from July 2)
    freed = np.array(e.minutes_freed_by_day)
    assert len(freed) == 31 and freed[0] == pytest.approx(rate, abs=1e-3)
    assert freed[1] == pytest.approx(rate * 2 + parts["deleted_first_day"], abs=1e-2)
    # the engine prices July's peak day with and without: 42 blocks (July 31) -> 34 (July 1)
    base = _baseline(wh)
    assert e.baseline["month_end_minutes"] == pytest.approx(base[-1], abs=0.1)
    by_hand = _capacity_cost(base.max()) - _capacity_cost((base - freed).max())
    assert rec.monthly_saving == by_hand == Decimal("40.00")
    assert e.account_level["peak_after_on"] == "2026-07-01"
    # the month-end run rate: here the same 8 blocks
    end = _capacity_cost(base[-1]) - _capacity_cost(base[-1] - e.minutes_freed)
    assert Decimal(e.month_end_saving) == end == Decimal("40.00")
    kinds = [a.kind for a in rec.actions]
    assert kinds[0] == "live_input.update" and kinds.count("video.schedule_deletion") == 106
    assert rec.actions[0].proposed == {"recording": {"mode": "off"}}
    assert rec.actions[0].current == {"recording": {"mode": "automatic"}}
    assert e.on_demand_share == 0
    # the same input is not also given a retention policy (its minutes would count twice)
    assert not [r for r in _by(recs, "recording_retention") if r.target == target]


def test_retention_savings_split_the_account_level_difference(recs, wh):
    base = _baseline(wh)
    sel = sum(np.array(r.evidence.minutes_freed_by_day)
              for r in _by(recs, "recording_selectivity"))
    ret = _by(recs, "recording_retention")
    assert ret
    freed = sum(np.array(r.evidence.minutes_freed_by_day) for r in ret)
    start = base - sel  # priced after recording selectivity: the blocks are counted once
    total = _capacity_cost(start.max()) - _capacity_cost((start - freed).max())
    assert sum(r.monthly_saving for r in ret) == total == Decimal(0)  # July 1 is the peak
    end_total = _capacity_cost(start[-1]) - _capacity_cost(start[-1] - freed[-1])
    assert end_total == Decimal("15.00")  # 34 -> 31 blocks at the end of July
    assert sum(Decimal(r.evidence.month_end_saving) for r in ret) == end_total
    for r in ret:
        n = r.evidence.policy_days
        assert 30 <= n <= 1096
        assert r.evidence.lost_share_lookback <= 0.02
        assert r.evidence.lost_share_recent <= 0.02
        li = next(a for a in r.actions if a.kind == "live_input.update")
        assert li.proposed == {"deleteRecordingAfterDays": n}
        current = li.current["deleteRecordingAfterDays"]
        assert current is None or current > n
        assert "prepaid capacity is lowered" in r.saving_computation
        share = r.evidence.minutes_freed / freed[-1]
        assert float(r.evidence.month_end_saving) == pytest.approx(
            float(end_total) * share, abs=0.011)
        parts = r.evidence.minutes_freed_by_month_end
        # recordings N days old by the day after the clock go on that day (the earliest a
        # deletion is proposed); those reaching N later in July follow; recordings made in
        # July never reach N > 31 days by its end
        first = [a.resource for a in r.actions if a.kind == "video.schedule_deletion"
                 and parse_time(a.proposed["scheduledDeletion"]) == CLOCK + timedelta(days=1)]
        assert parts["deleted_first_day"] == pytest.approx(_minutes_of(wh, first), abs=1e-2)
        assert parts["deleted_first_day"] >= r.evidence.minutes_older_than_policy_now
        if n > 31:
            assert parts["future_recordings"] == 0


def test_retention_policies_cover_account_broadcasters_and_inputs(wh):
    table = retention_policies(wh)
    assert set(table["scope"]) == {"account", "broadcaster", "live_input"}
    account = table[table["scope"] == "account"].set_index("policy_days")
    # shorter policies free more and lose more
    assert account["minutes_freed"].is_monotonic_decreasing
    assert account["lost_minutes"].is_monotonic_decreasing
    assert account.loc[30, "lost_share"] > 0.02  # no single policy suits the whole account


def test_lifecycle_rule_keeps_existing_rules_and_nets_out_the_fees(recs, wh):
    rec = next(r for r in _by(recs, "r2_lifecycle") if r.target == "lc-thumbnails/shows/")
    assert rec.evidence.reads_at_or_after_expiry == 0
    assert rec.evidence.reads_by_age_days["1-6"] > 0
    (action,) = rec.actions
    current = [json.loads(x) for x in wh.query(
        "SELECT rule_json FROM r2_lifecycle_rules WHERE bucket = 'lc-thumbnails' "
        "AND missing_since IS NULL")["rule_json"]]
    assert action.kind == "r2.lifecycle" and action.current == {"Rules": current}
    rules = action.proposed["Rules"]
    assert all(r in rules for r in current)
    assert any("AbortIncompleteMultipartUpload" in r for r in rules)
    new = [r for r in rules if r not in current]
    assert len(new) == 1 and new[0]["Filter"] == {"Prefix": "shows/"}
    assert new[0]["Status"] == "Enabled" and ("Expiration" in new[0] or "Transitions" in new[0])
    cands = lifecycle_candidates(wh)
    # the exports already move to IA at 90 days; earlier moves cost more in retrieval than
    # they save, and the candidates table shows by how much
    exports = cands[cands["prefix"] == "exports/"]
    assert len(exports) and (exports["retrieval_gb_delta"] > 0).all()
    assert not exports["proposable"].any() and (exports["saving"] < 0).all()
    # ... and the existing rule itself costs more than it saves: reviewed, not added to
    (review,) = [r for r in _by(recs, "r2_lifecycle") if r.target.startswith(
        "lc-recording-exports/")]
    assert review.evidence.existing_rule == "exports-to-ia"
    healthy = cands[cands["prefix"].isin(["channels/", "products/"])]
    assert len(healthy) and not healthy["proposable"].any()


def test_bitrate_recommendation_states_the_stream_bill_is_unaffected(recs, planted):
    target = next(p.target for p in planted if p.kind == "overprovisioned_ingest"
                  and not p.healthy)
    rec = next(r for r in _by(recs, "bitrate_ingest") if r.target == target)
    assert "The Cloudflare Stream bill does not depend on bitrate" in rec.action
    assert "The Cloudflare Stream bill does not depend on bitrate" in rec.evidence.stream_bill
    assert rec.evidence.resolution == "1080p"
    assert rec.evidence.ingest_mbps_median == pytest.approx(12, rel=0.05)
    assert rec.evidence.low_bandwidth_share >= 0.6
    assert rec.evidence.target == {"resolution": "720p", "bitrate_mbps": 4.8}
    assert rec.evidence.mp4_exports["objects"] > 0
    assert Decimal(rec.evidence.delivery["aws_egress_saving"]) > 0
    assert rec.actions[0].kind == "manual"


def test_bandwidth_table_covers_the_audience_countries_and_says_it_is_an_assumption():
    table, default, source = load_bandwidth()
    countries = {"US", "GB", "DE", "JP", "KR", "NL", "FR", "CA",
                 "IN", "ID", "NG", "PH", "PK", "BD", "KE", "EG"}
    assert countries <= set(table)
    assert default > 0 and "not verified" in source


def test_the_plan_passes_apply_review_on_the_same_account(recs, account, tmp_path):
    plan = Plan(account.account_id, CLOCK, "cloudflare", list(recs))
    plan = Plan.read(plan.write(tmp_path / "plan.json"))
    with Sandbox(account) as sb:
        report = apply_plan(plan, sb.settings(), transport=sb.transport, now=CLOCK)
    statuses = {r.status for r in report.reviews}
    assert statuses == {"pending", "manual"}
    assert len(report.pending) == len([a for a in plan.actions if a.kind != "manual"])


def test_parameters_are_checked_and_passed_through(wh):
    with pytest.raises(UsageError, match="unknown recommender parameter"):
        recommend_all(wh, max_lost_shares=0.05)
    assert recommend_selectivity(wh, rule=SelectivityRule(max_od_share=0.0)) == []
    frame = to_frame(recommend_selectivity(wh))
    assert frame["kind"].tolist() == ["recording_selectivity"]
    assert isinstance(frame["monthly_saving"].iloc[0], Decimal)


def test_merged_lifecycle_rules_keep_ids_and_restore_the_abort_rule():
    from lc_analytics.recommend._lifecycle_price import _merged, _new_rule
    existing = [{"ID": "to-ia", "Status": "Enabled", "Filter": {"Prefix": "a/"},
                 "Transitions": [{"Days": 90, "StorageClass": "STANDARD_IA"}]}]
    merged = _merged(existing, [_new_rule("a/", 30, None), _new_rule("b/", None, 60)])
    assert [r["ID"] for r in merged] == ["to-ia", "lc-analytics-b-expire60d",
                                         "Default Multipart Abort Rule"]
    assert merged[0]["Transitions"] == [{"Days": 30, "StorageClass": "STANDARD_IA"}]
    assert merged[1] == {"ID": "lc-analytics-b-expire60d", "Status": "Enabled",
                         "Filter": {"Prefix": "b/"}, "Expiration": {"Days": 60}}
    assert existing[0]["Transitions"][0]["Days"] == 90  # the current rules are not modified


def test_the_next_billing_month_is_the_first_whole_month_after_the_clock():
    from datetime import date

    from lc_analytics.recommend._common import next_month

    assert next_month(date(2026, 6, 30)) == date(2026, 7, 1)  # clock July 1: July is whole
    assert next_month(date(2026, 11, 25)) == date(2026, 12, 1)  # clock Nov 26: not November
    assert next_month(date(2026, 12, 31)) == date(2027, 1, 1)


def _june_r2(truth) -> Decimal:
    """June's R2 bill from an account's ground truth (storage by class, operations, IA
    retrieval), priced by the engine."""
    def june(df):
        d = pd.to_datetime(df["date"], utc=True).dt.strftime("%Y-%m")
        return df[d == "2026-06"]
    usage = Usage(r2_storage=june(truth.r2_storage_daily_by_class),
                  r2_operations=june(truth.r2_billing_operations),
                  r2_retrieval=june(truth.r2_ia_retrieval_daily))
    return price_month(usage, "2026-06", load_book("cloudflare")).total


def _without_rule(account, rule_id: str):
    rules = account.lifecycle
    bucket = rules.loc[rules["rule_id"] == rule_id, "bucket"].iloc[0]
    account.set_lifecycle(bucket, rules[(rules["bucket"] == bucket)
                                        & (rules["rule_id"] != rule_id)].drop(columns="bucket"))
    return account.ground_truth()


def test_a_costly_ia_rule_is_removed_and_one_that_pays_off_is_kept(recs, planted, account,
                                                                   shared_account):
    costly = next(p for p in planted if p.kind == "costly_lifecycle_rule" and not p.healthy)
    kept = next(p for p in planted if p.kind == "costly_lifecycle_rule" and p.healthy)
    rec = next(r for r in _by(recs, "r2_lifecycle") if r.target == costly.target)
    e = rec.evidence
    assert (e.existing_rule, e.transition_days, e.new_transition_days) == \
        ("exports-to-ia", 90, None)
    # priced by the engine: June's transitions cost a whole million IA Class A operations
    assert Decimal(e.sku_cost_delta["cf-r2-ia-class-a"]) == Decimal("-9.00")
    assert sum(Decimal(v) for v in e.sku_cost_delta.values()) == -rec.monthly_saving
    assert e.transitions_per_month_delta < 0
    # the saving is what June would have cost without the rule, from the ground truth (on
    # this account every export reaches 90 days in June or later: none was IA before it)
    truth = shared_account.ground_truth()
    assert rec.monthly_saving == _june_r2(truth) - _june_r2(_without_rule(account, "exports-to-ia"))
    moved = truth.r2_billing_operations
    moved = moved[(moved["op_class"] == "A") & (moved["storage_class"] == "STANDARD_IA")
                  & (pd.to_datetime(moved["date"]).dt.strftime("%Y-%m") == "2026-06")]
    assert -e.transitions_per_month_delta == moved["requests"].sum()
    # the action removes the rule (nothing else was in it) and keeps the bucket's others
    (action,) = rec.actions
    ids = [r["ID"] for r in action.proposed["Rules"]]
    assert "exports-to-ia" in [r["ID"] for r in action.current["Rules"]]
    assert "exports-to-ia" not in ids and "archive-to-ia" in ids
    archive = next(r for r in action.current["Rules"] if r["ID"] == "archive-to-ia")
    assert archive in action.proposed["Rules"]
    # the look-alike's rule pays off: June without it costs more
    fresh = SimulatedAccount.build("small", seed=shared_account.seed, end=shared_account.end)
    assert _june_r2(_without_rule(fresh, "archive-to-ia")) > _june_r2(truth)
    assert not [r for r in recs if r.target == kept.target]
