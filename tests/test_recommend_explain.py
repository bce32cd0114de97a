"""The recommendation report's tables: each recommendation explained once
(`recommend.explanation`), and the charts measured as the recommenders measure
(`recommend.charts`). Moved from tests/test_reports_costs.py with the functions."""

from __future__ import annotations

import pytest

from lc_analytics.costs import review
from lc_analytics.money import format_usd
from lc_analytics.recommend import charts, explanation
from lc_analytics.recommend.evidence import (
    BitrateEvidence,
    EvidenceError,
    LifecycleEvidence,
    RetentionEvidence,
    SelectivityEvidence,
    evidence_from_json,
    evidence_of,
)
from lc_analytics.warehouse import Warehouse


@pytest.fixture(scope="module")
def wh(synced) -> Warehouse:
    return Warehouse(synced[1], read_only=True)


@pytest.fixture(scope="module")
def recs(synced_recs):
    return synced_recs  # recommend_all(wh), computed once for the session


# -- recommendations and their evidence --------------------------------------------------------

def test_the_recommendation_table_keeps_the_library_savings(wh, recs):
    table = explanation.recommendation_table(wh, recs)
    assert sorted(table["id"]) == sorted(r.id for r in recs)
    by_id = {r.id: r for r in recs}
    assert all(by_id[i].monthly_saving == s for i, s in zip(table["id"],
                                                            table["monthly_saving"],
                                                            strict=True))
    assert table["kind"].iloc[0] == "storage_runway"  # the deadline first
    rest = table["monthly_saving"].iloc[1:].tolist()
    assert rest == sorted(rest, reverse=True)
    for r in recs:  # every kind found here has its own evidence sentence
        assert explanation.explain(r).evidence != r.viewer_impact, r.id
    text = explanation.recommendations_markdown(table)
    assert all(f"`{r.id}`" in text for r in recs)


def test_next_steps_lead_from_the_deadline_to_the_plan_and_manual_steps(wh, recs):
    runway = review.runway_summary(wh)
    steps = explanation.next_steps(recs, runway, explanation.target_names(wh, recs))
    assert steps.startswith("1. **Before 2026-07-22** (21 days)")
    order = [steps.index(s) for s in ("`lc-analytics recommend`", "`lc-analytics apply PLAN`",
                                      "`lc-analytics apply PLAN --yes`")]
    assert order == sorted(order)
    for r in recs:
        for a in r.actions:
            if a.kind == "manual":
                assert a.proposed["how"].rstrip(".") in steps


def test_on_demand_share_is_the_selectivity_rules_measure(wh, recs, synced):
    share = charts.on_demand_share(wh, "2026-06-30", recs=recs).set_index("live_input_uid")
    chosen = [r for r in recs if r.kind == "recording_selectivity"]
    assert chosen
    for r in chosen:
        row = share.loc[r.target]
        assert row["minutes"] == r.evidence.minutes_viewed_in_window
        assert row["on_demand_share"] == pytest.approx(r.evidence.on_demand_share)
        assert row["status"] == "stop recording"
    watched = share[share["recommendation"] == ""]
    assert (watched["on_demand_share"].dropna() > 0.05).all()
    off = share[share["recording_mode"] == "off"]
    assert (off["status"] == "recording off").all()


def test_reads_by_age_are_the_lifecycle_evidence(wh, recs):
    prof = charts.r2_age_profile(wh, "2026-06-30", recs=recs)
    lifecycle = [r for r in recs if isinstance(r.evidence, LifecycleEvidence)]
    assert any(r.target == "lc-thumbnails/shows/" for r in lifecycle)
    for r in lifecycle:
        bucket, prefix = r.target.split("/", 1)
        mine = prof[(prof["bucket"] == bucket) & (prof["prefix"] == prefix)]
        got = dict(zip(mine["age_band"], mine["reads"], strict=True))
        assert got == r.evidence.reads_by_age_days
        assert (mine["recommendation"] == r.evidence.rule).all()
    shows = prof[(prof["bucket"] == "lc-thumbnails") & (prof["prefix"] == "shows/")]
    assert shows.loc[~shows["age_band"].isin(["0", "1-6"]), "reads"].sum() == 0
    assert shows["gb_share"].sum() == pytest.approx(1.0)
    channels = prof[(prof["bucket"] == "lc-thumbnails") & (prof["prefix"] == "channels/")]
    assert channels.loc[channels["age_band"] == "365+", "reads"].iloc[0] > 0


def test_ingest_vs_audience_marks_the_overprovisioned_input(wh, recs):
    ingest = charts.ingest_vs_audience(wh, "2026-06-30", recs=recs).set_index(
        "live_input_uid")
    flagged = [r for r in recs if r.kind == "bitrate_ingest"]
    assert flagged
    for r in flagged:
        row = ingest.loc[r.target]
        assert row["ingest_mbps"] == pytest.approx(r.evidence.ingest_mbps_median, abs=1e-3)
        assert row["low_bandwidth_share"] >= 0.6 and row["status"] == "lower ingest bitrate"
    assert (ingest.drop(index=[r.target for r in flagged])["status"] == "no change").all()


# -- one explanation per recommendation, from its typed evidence -----------------------------

def test_explain_states_the_typed_evidence_the_recommender_recorded(recs):
    for r in recs:
        ev = evidence_of(r)
        if r.kind == "recording_selectivity":
            assert isinstance(ev, SelectivityEvidence)
            assert ev.on_demand_share == r.evidence.on_demand_share
            assert ev.minutes_freed == r.evidence.minutes_freed
        elif r.kind == "recording_retention":
            assert isinstance(ev, RetentionEvidence)
            assert (ev.policy_days, ev.lookback_days, ev.recent_days) == (
                r.evidence.policy_days, r.evidence.lookback_days,
                r.evidence.recent_days)
        elif r.kind == "bitrate_ingest":
            assert isinstance(ev, BitrateEvidence)
            assert ev.ingest_mbps_median == r.evidence.ingest_mbps_median
        if ev is not None:
            assert explanation.explain(r).evidence == ev.summary()
            assert ev.as_json()  # plain JSON fields for plans and summaries


def test_a_recommendation_missing_evidence_is_an_error_not_a_different_sentence(recs):
    r = next(r for r in recs if r.kind == "recording_selectivity")
    # the evidence is typed where it is made; a plan's JSON is read back once, strictly
    data = r.evidence.as_json()
    assert evidence_from_json(r.kind, data, r.id) == r.evidence
    broken = {k: v for k, v in data.items() if k != "on_demand_share"}
    with pytest.raises(EvidenceError, match=f"{r.id}.*'on_demand_share'"):
        evidence_from_json(r.kind, broken, r.id)
    wrong = {**data, "window_days": "ninety"}
    with pytest.raises(EvidenceError, match="wrong type"):
        evidence_from_json(r.kind, wrong, r.id)


def test_the_explanation_names_the_target_and_formats_money_once(wh, recs):
    names = explanation.target_names(wh, recs)
    for r in recs:
        e = explanation.explain(r, names[r.id])
        assert e.title == explanation.KIND_TITLES[r.kind]
        assert e.target_name == names[r.id]
        assert f"{names[r.id]} ({format_usd(r.monthly_saving)}/month)" in e.next_step
        assert e.as_json()["monthly_saving"] == str(r.monthly_saving)
    sel = [r for r in recs if r.kind == "recording_selectivity"]
    assert all(names[r.id] == r.evidence.live_input_name for r in sel)
