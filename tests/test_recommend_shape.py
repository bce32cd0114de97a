"""Every recommender has one shape: a typed rule, find -> price -> explain, typed evidence."""

from __future__ import annotations

import dataclasses
import inspect
import json
from datetime import UTC, datetime

import pytest

from lc_analytics.errors import PlanFileError, UsageError
from lc_analytics.recommend import (
    Plan,
    RecommendParams,
    bitrate,
    lifecycle,
    retention,
    runway,
    selectivity,
)
from lc_analytics.recommend.evidence import (
    EVIDENCE_TYPES,
    AbortRuleEvidence,
    EvidenceBase,
    EvidenceError,
    NoteEvidence,
    evidence_from_json,
)

MODULES = {"recommend_selectivity": (selectivity, selectivity.SelectivityRule),
           "recommend_retention": (retention, retention.RetentionRule),
           "recommend_runway": (runway, runway.RunwayRule),
           "recommend_lifecycle": (lifecycle, lifecycle.LifecycleRule),
           "recommend_bitrate": (bitrate, bitrate.BitrateRule)}


@pytest.fixture(scope="module")
def recs(synced_recs):
    return list(synced_recs)


@pytest.mark.parametrize("name", MODULES)
def test_each_recommender_takes_one_typed_rule_and_has_the_three_steps(name):
    module, rule = MODULES[name]
    params = inspect.signature(getattr(module, name)).parameters
    assert params["rule"].kind is params["rule"].KEYWORD_ONLY and params["rule"].default is None
    assert dataclasses.is_dataclass(rule) and rule.__dataclass_params__.frozen
    assert not {f.name for f in dataclasses.fields(rule)} & set(params)  # never both ways
    assert all(callable(getattr(module, step)) for step in ("find", "price"))
    assert any(n.startswith("explain") for n in module.__all__), module.__name__


def test_every_recommendation_carries_its_kinds_typed_evidence(recs):
    kinds = {r.kind for r in recs}
    assert kinds == {m.KIND for m, _ in MODULES.values()} and kinds <= set(EVIDENCE_TYPES)
    for r in recs:
        assert isinstance(r.evidence, EVIDENCE_TYPES[r.kind]), r.id
        data = r.evidence.as_json()
        assert json.loads(json.dumps(data)) == data  # plain JSON
        assert evidence_from_json(r.kind, data, r.id) == r.evidence  # read back exactly


def test_a_plan_file_reads_back_the_same_recommendations(recs, tmp_path):
    plan = Plan("acct", datetime(2026, 7, 1, tzinfo=UTC), "cloudflare", recs)
    again = Plan.read(plan.write(tmp_path / "plan.json"))
    assert again.recommendations == recs and again.id == plan.id
    data = json.loads((tmp_path / "plan.json").read_text())
    del data["recommendations"][0]["evidence"]["confidence_reason"]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(PlanFileError, match=f"{recs[0].id}.*'confidence_reason'"):
        Plan.read(tmp_path / "bad.json")


def test_hand_written_and_unknown_evidence():
    note = NoteEvidence(note="lower capacity by hand")
    assert evidence_from_json("recording_retention", note.as_json(), "r1") == note
    assert note.summary() == "lower capacity by hand"
    with pytest.raises(EvidenceError, match="r9 has an unknown kind 'cdn_cache'"):
        evidence_from_json("cdn_cache", {"hits": 3}, "r9")
    abort = AbortRuleEvidence(bucket="media", pending_multipart_uploads=None,
                              existing_rules=("a", None), confidence_reason="no abort rule")
    assert evidence_from_json("r2_lifecycle", abort.as_json(), "r2") == abort
    assert abort.summary() == ("bucket media has no rule aborting incomplete multipart uploads "
                               "(2 other rule(s)); unknown upload(s) pending on the latest "
                               "synced day")
    assert all(issubclass(c, EvidenceBase) for cs in EVIDENCE_TYPES.values() for c in cs)


def test_a_bad_parameter_is_refused_by_the_rule_it_belongs_to():
    with pytest.raises(UsageError, match="30 to 1096 days"):
        RecommendParams(policies=(29,)).rules()
    with pytest.raises(UsageError, match="low_bandwidth_target must be one of"):
        RecommendParams(low_bandwidth_target="8k").rules()
    rules = RecommendParams(lookback_days=30, horizon_days=14).rules()
    assert (rules.selectivity.lookback_days, rules.retention.lookback_days,
            rules.bitrate.lookback_days, rules.runway.horizon_days) == (30, 30, 30, 14)
