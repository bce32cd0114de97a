"""recommend_all hands each recommender its typed rule, built from RecommendParams."""

from __future__ import annotations

import inspect
from dataclasses import asdict, fields
from datetime import date
from decimal import Decimal

import pytest

from lc_analytics.errors import UsageError
from lc_analytics.recommend import RecommendParams, _common, run

NAMES = ("recommend_selectivity", "recommend_retention", "recommend_runway",
         "recommend_lifecycle", "recommend_bitrate", "recommend_cache_rules")


def _tunable(func) -> dict[str, object]:
    """A recommender's parameters a caller may tune (the fields of the typed rule it takes),
    with their defaults."""
    rule = inspect.signature(func).parameters["rule"]
    assert rule.kind is rule.KEYWORD_ONLY and rule.default is None  # None: the rule's defaults
    return run.parameters()[func.__name__]


def test_params_hold_every_tunable_parameter_with_the_recommenders_own_defaults():
    defaults = RecommendParams()
    seen: set[str] = set()
    for name in NAMES:
        for param, default in _tunable(getattr(run, name)).items():
            assert getattr(defaults, param) == default, (name, param)
            seen.add(param)
    assert seen == {f.name for f in fields(RecommendParams)}
    assert defaults.rules() == run.Rules()  # each rule's own defaults


@pytest.fixture
def calls(monkeypatch) -> dict[str, dict]:
    """The five recommenders replaced by recorders of the keywords they are given."""
    got: dict[str, dict] = {}

    def recorder(name):
        def record(wh, **kwargs):
            got[name] = {**kwargs, **asdict(kwargs.pop("rule"))}  # the rule's fields, by name
            return []
        return record

    for name in NAMES:
        monkeypatch.setattr(run, name, recorder(name))
    # routing only: no warehouse, so the as-of day is taken as given (not checked against one)
    monkeypatch.setattr(_common, "check_as_of", lambda wh, as_of: date.fromisoformat(as_of))
    return got


def test_every_parameter_reaches_every_recommender_that_takes_it(calls):
    params = RecommendParams(
        max_od_share=0.5, min_recordings=2, lookback_days=14, policies=(45, 90),
        max_lost_share=0.2, recent_days=7, horizon_days=30, candidate_days=(60,),
        min_exposed_object_days=5, bandwidth="bw.toml", low_bandwidth_mbps=9.0,
        min_low_bandwidth_share=0.3, tolerance=0.25, low_bandwidth_target="480p",
        min_ingest_recordings=1, max_hit_ratio=0.4, min_static_share=0.8, min_requests=500,
        cache_lookback_days=3, edge_ttl_seconds=3600, browser_ttl_seconds=60,
        origin_egress_usd_per_gb=Decimal("0.05"))
    assert all(getattr(params, f.name) != f.default for f in fields(params))
    run.recommend_all(None, book="cloudflare", as_of="2026-06-30", params=params,
                      horizon_days=45)
    assert set(calls) == set(NAMES)
    for name in NAMES:
        tunable = run.parameters()[name]
        passed = {k: v for k, v in calls[name].items() if k in tunable}
        expected = {k: getattr(params, k) for k in tunable}
        if "horizon_days" in expected:
            expected["horizon_days"] = 45  # the override wins over params
        assert passed == expected, name
        assert calls[name]["as_of"] == date(2026, 6, 30)
        assert calls[name]["book"].label == calls[NAMES[0]]["book"].label


def test_an_unknown_override_names_the_known_parameters(calls):
    with pytest.raises(UsageError, match=r"unknown recommender parameter\(s\): horizon; known: "
                                        r"bandwidth, browser_ttl_seconds, cache_lookback_days, "
                                        r"candidate_days"):
        run.recommend_all(None, book="cloudflare", as_of="2026-06-30", horizon=30)
    assert calls == {}


def test_recommend_all_routes_by_the_rules_not_by_signatures():
    assert "inspect" not in inspect.getsource(run)
