"""`RecommendSteps`: recommend_all a step at a time (cost_review runs it over several cells),
and the column-wise formatting the deletion actions use. Not timed: the report's own run
(tests/test_report_reads.py) compares the stepwise recommendations with `recommend_all`'s."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from lc_analytics.errors import UsageError
from lc_analytics.recommend import _common, run
from lc_analytics.recommend._deletions import _utc_seconds
from lc_analytics.recommend._recordings import _rfc3339s, rfc3339

NOTEBOOK = Path(run.__file__).parents[1] / "notebooks" / "cost_review.ipynb"
RECOMMENDERS = {"selectivity": "recommend_selectivity", "retention": "recommend_retention",
                "runway": "recommend_runway", "lifecycle": "recommend_lifecycle",
                "bitrate": "recommend_bitrate", "cache_rules": "recommend_cache_rules"}


class Marker(SimpleNamespace):
    """A recommendation stand-in: its name and target (no evidence: frees no minutes)."""

    def __init__(self, name: str, target: str) -> None:
        super().__init__(name=name, target=target, evidence=None)


def _names(recs) -> list[str]:
    return [r.name for r in recs]


@pytest.fixture
def calls(monkeypatch) -> list[tuple[str, dict]]:
    """The recommenders replaced by recorders: each returns one marker per call."""
    got: list[tuple[str, dict]] = []

    def recorder(step):
        def record(wh, **kwargs):
            got.append((step, kwargs))
            return [Marker(f"{step}-rec", f"{step}-target")]
        return record

    for step, name in RECOMMENDERS.items():
        monkeypatch.setattr(run, name, recorder(step))
    monkeypatch.setattr(_common, "check_as_of", lambda wh, as_of: date.fromisoformat(as_of))
    return got


def test_steps_in_several_calls_hand_on_what_recommend_all_hands_on(calls):
    steps = run.RecommendSteps(None, book="cloudflare", as_of="2026-06-30")
    steps.run("selectivity")
    steps.run("lifecycle")  # independent steps may run in any order
    steps.run("retention", "runway")
    assert _names(steps.recommendations) == ["selectivity-rec", "retention-rec", "runway-rec",
                                             "lifecycle-rec"]  # the recipe's order
    steps.run("bitrate", "cache_rules")
    stepwise = list(calls)
    calls.clear()
    assert _names(run.recommend_all(None, book="cloudflare", as_of="2026-06-30")) == \
        _names(steps.recommendations) == [f"{s}-rec" for s in run.STEPS]
    assert [c[0] for c in calls] == list(run.STEPS)
    by_step = dict(stepwise)
    for step, kwargs in calls:
        assert by_step[step].keys() == kwargs.keys(), step
        assert by_step[step]["rule"] == kwargs["rule"] and by_step[step]["as_of"] == \
            kwargs["as_of"] == date(2026, 6, 30)
    assert by_step["retention"]["skip_live_inputs"] == {"selectivity-target"}
    assert by_step["retention"]["freed_before"].empty
    assert _names(by_step["runway"]["freeing"]) == ["selectivity-rec", "retention-rec"]


def test_a_step_out_of_order_twice_or_unknown_is_a_usage_error_and_runs_nothing(calls):
    steps = run.RecommendSteps(None, book="cloudflare", as_of="2026-06-30")
    with pytest.raises(UsageError, match="step 'runway' needs selectivity, retention run "
                                         "first"):
        steps.run("runway")
    with pytest.raises(UsageError, match=r"unknown recommendation step\(s\): cache; the "
                                         "steps: selectivity, retention, runway, lifecycle"):
        steps.run("selectivity", "cache")
    assert calls == [] and steps.recommendations == []
    steps.run("selectivity")
    with pytest.raises(UsageError, match="step 'selectivity' has run already"):
        steps.run("selectivity")
    assert [c[0] for c in calls] == ["selectivity"]


def test_cost_review_runs_every_step_once_over_several_cells():
    cells = [("".join(c["source"])) for c in json.loads(NOTEBOOK.read_text())["cells"]
             if c["cell_type"] == "code"]
    runs = [c for c in cells if "steps.run(" in c]
    assert len(runs) >= 4  # the large account's recommenders, a few seconds each
    ran = [s for c in runs for s in c.split("steps.run(", 1)[1].split(")")[0]
           .replace('"', "").replace(" ", "").split(",")]
    assert ran == list(run.STEPS)
    assert not any("= recommend_all(" in c for c in cells)  # one long cell
    last = cells.index(runs[-1])
    assert "recs = steps.recommendations" in runs[-1]
    assert all("recs" not in c.replace("rc.", "") for c in cells[:last])


def test_deletion_times_are_formatted_and_parsed_as_pandas_does_one_by_one():
    ts = pd.Series(pd.to_datetime(
        ["2026-06-30T23:59:59.000001Z", "2026-07-01T00:00:00Z", None,
         "2027-01-31T12:34:56.999999Z", "2026-07-01T00:00:00.5Z"], utc=True, format="ISO8601"))
    want = [None if pd.isna(t) else rfc3339(t) for t in ts]
    assert _rfc3339s(ts) == want == ["2026-07-01T00:00:00Z", "2026-07-01T00:00:00Z", None,
                                     "2027-01-31T12:34:57Z", "2026-07-01T00:00:01Z"]
    assert _rfc3339s(ts, exact=True) == [None if pd.isna(t) else rfc3339(t, exact=True)
                                         for t in ts]
    assert _rfc3339s(ts, exact=True)[0] == "2026-06-30T23:59:59.000001Z"
    text = [t for t in want if t is not None]
    np.testing.assert_array_equal(
        _utc_seconds(text), pd.to_datetime(text, utc=True).tz_convert(None).to_numpy())
    mixed = ["2026-07-01T00:00:00.250000Z", "2026-07-01T02:00:00.000000Z"]  # other forms
    np.testing.assert_array_equal(
        _utc_seconds(mixed), pd.to_datetime(mixed, utc=True).tz_convert(None).to_numpy())


def test_lifecycle_prices_a_prefix_as_is_once_and_the_same_as_per_candidate(synced,
                                                                         monkeypatch):
    """Each prefix's as-is side is derived once for its candidate rules (`_as_is`); with
    the memo defeated (derived per candidate, as before) every figure is the same."""
    from lc_analytics.recommend import _lifecycle_price as lp
    from lc_analytics.recommend._common import resolve
    from lc_analytics.recommend._lifecycle_context import _context, _groups
    from lc_analytics.recommend.lifecycle import LifecycleRule, price
    from lc_analytics.warehouse import Warehouse

    wh = Warehouse(synced[1], read_only=True)
    book, day = resolve(wh, None, "2026-06-30")
    ctx = _context(wh, book, day)
    derived: list[int] = []
    real = lp._daily

    def counting(objs, first, nxt):
        derived.append(len(objs))
        return real(objs, first, nxt)

    def candidates() -> pd.DataFrame:
        return pd.DataFrame([c.figures for (bucket, prefix), objs in _groups(ctx.objects)
                             for c in price(ctx, bucket, prefix, objs, LifecycleRule())])

    monkeypatch.setattr(lp, "_daily", counting)
    memo = candidates()
    prefixes = len(memo.drop_duplicates(["bucket", "prefix"]))
    assert len(memo) > prefixes > 1  # several candidates per prefix
    assert len(derived) == len(memo) + prefixes  # each candidate's after + each prefix's before
    derived.clear()
    real_as_is = lp._as_is
    monkeypatch.setattr(lp, "_as_is", lambda c, *a: (c.cache.clear(), real_as_is(c, *a))[1])
    each = candidates()
    assert len(derived) == 2 * len(each)
    pd.testing.assert_frame_equal(memo, each)
