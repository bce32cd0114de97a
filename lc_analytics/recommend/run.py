"""Run every recommender in order and hand back one list (and a table of it).

The recipe (`recommend_all`):
1. selectivity: live inputs whose recordings nobody watches on demand (recording off);
2. retention: a deleteRecordingAfterDays per remaining live input, its saving priced after
   the minutes step 1 frees, so the 1,000-minute blocks are counted once across both;
3. runway: if prepaid capacity runs out within the horizon, the cheapest mix of steps 1-2
   and capacity purchase;
4. R2 lifecycle rules per bucket and prefix;
5. bitrate and ingest per live input;
6. CDN cache rules per zone path prefix (`cache_rules`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from ..costs.pricebook import PriceBook
from ..errors import ConfigError, UsageError
from ..warehouse import Warehouse
from . import bitrate, cache_rules, lifecycle, retention, runway, selectivity
from ._common import clock, resolve
from .bitrate import BitrateRule, recommend_bitrate
from .cache_rules import CacheRuleParams, recommend_cache_rules
from .lifecycle import LifecycleRule, recommend_lifecycle
from .model import Plan, Recommendation
from .retention import RetentionRule, recommend_retention
from .runway import RunwayRule, recommend_runway
from .selectivity import SelectivityRule, recommend_selectivity, selected_minutes


@dataclass(frozen=True)
class RecommendParams:
    """The recommenders' tunable parameters, by name (CLI and notebooks set them), with each
    recommender's own defaults; `rules()` hands each recommender its typed rule.

    `lookback_days` is shared by selectivity, retention and bitrate.

    >>> RecommendParams(max_lost_share=0.05).max_lost_share
    0.05
    >>> RecommendParams(horizon_days=60).rules().runway
    RunwayRule(horizon_days=60)
    """

    max_od_share: float = selectivity.MAX_OD_SHARE
    min_recordings: int = selectivity.MIN_RECORDINGS
    lookback_days: int = selectivity.LOOKBACK_DAYS
    policies: tuple[int, ...] = retention.POLICIES
    max_lost_share: float = retention.MAX_LOST_SHARE
    recent_days: int = retention.RECENT_DAYS
    horizon_days: int = runway.HORIZON_DAYS
    candidate_days: tuple[int, ...] = lifecycle.CANDIDATE_DAYS
    min_exposed_object_days: int = lifecycle.MIN_EXPOSED_OBJECT_DAYS
    bandwidth: str | Path | None = None
    low_bandwidth_mbps: float = bitrate.LOW_BANDWIDTH_MBPS
    min_low_bandwidth_share: float = bitrate.MIN_LOW_BANDWIDTH_SHARE
    tolerance: float = bitrate.TOLERANCE
    low_bandwidth_target: str = bitrate.LOW_BANDWIDTH_TARGET
    min_ingest_recordings: int = bitrate.MIN_INGEST_RECORDINGS
    max_hit_ratio: float = cache_rules.MAX_HIT_RATIO
    min_static_share: float = cache_rules.MIN_STATIC_SHARE
    min_requests: int = cache_rules.MIN_REQUESTS
    cache_lookback_days: int = cache_rules.LOOKBACK_DAYS
    edge_ttl_seconds: int = cache_rules.EDGE_TTL_SECONDS
    browser_ttl_seconds: int = cache_rules.BROWSER_TTL_SECONDS
    origin_egress_usd_per_gb: Decimal | None = None  # prices a cache rule's origin bytes

    def replace(self, **overrides: Any) -> RecommendParams:
        """These parameters with some replaced by name; an unknown name is a UsageError.

        >>> RecommendParams().replace(horizon_days=60).horizon_days
        60
        """
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise UsageError(f"unknown recommender parameter(s): {', '.join(unknown)}; known: "
                             f"{', '.join(sorted(known))}")
        return dataclasses.replace(self, **overrides)

    def rules(self) -> Rules:
        """Each recommender's typed rule from these parameters (a bad value is refused by
        the rule it belongs to, e.g. a retention policy outside 30-1096 days)."""
        return Rules(
            selectivity=SelectivityRule(self.max_od_share, self.min_recordings,
                                        self.lookback_days),
            retention=RetentionRule(tuple(self.policies), self.max_lost_share,
                                    self.lookback_days, self.recent_days),
            runway=RunwayRule(self.horizon_days),
            lifecycle=LifecycleRule(tuple(self.candidate_days), self.min_exposed_object_days),
            bitrate=BitrateRule(self.lookback_days, self.bandwidth, self.low_bandwidth_mbps,
                                self.min_low_bandwidth_share, self.tolerance,
                                self.low_bandwidth_target, self.min_ingest_recordings),
            cache_rules=CacheRuleParams(self.max_hit_ratio, self.min_static_share,
                                        self.min_requests, self.cache_lookback_days,
                                        self.edge_ttl_seconds, self.browser_ttl_seconds,
                                        self.origin_egress_usd_per_gb))


@dataclass(frozen=True)
class Rules:
    """One typed rule per recommender (what `recommend_all` hands each)."""

    selectivity: SelectivityRule = SelectivityRule()
    retention: RetentionRule = RetentionRule()
    runway: RunwayRule = RunwayRule()
    lifecycle: LifecycleRule = LifecycleRule()
    bitrate: BitrateRule = BitrateRule()
    cache_rules: CacheRuleParams = CacheRuleParams()


def recommend_all(wh: Warehouse, *, book: PriceBook | str | None = None,
                  as_of: date | str | None = None, params: RecommendParams | None = None,
                  **overrides: Any) -> list[Recommendation]:
    """Every recommendation for the warehouse, in the order of the recipe above.

    `params` holds the recommenders' parameters (default: their defaults); `overrides`
    replace some of them by name (e.g. `max_lost_share=0.05`, `horizon_days=60`).
    `RecommendSteps` runs the same recipe a step at a time (a report's cells).

    >>> recs = recommend_all(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    >>> to_frame(recs)[["kind", "target", "monthly_saving"]]                 # doctest: +SKIP
    """
    steps = RecommendSteps(wh, book=book, as_of=as_of, params=params, **overrides)
    steps.run(*STEPS)
    return steps.recommendations


#: the recipe's steps, in order (`RecommendSteps.run` takes their names)
STEPS = ("selectivity", "retention", "runway", "lifecycle", "bitrate", "cache_rules")


class RecommendSteps:
    """`recommend_all` a step at a time, so a report runs the recommenders in several cells
    (none of them long on a large account) and gets the same list.

    A step runs once, in the recipe's order: retention needs selectivity's result (the
    inputs it skips, the minutes it frees), runway both; running a step before the ones it
    needs is a UsageError naming them. `recommendations` holds every step's, in recipe order.

    >>> steps = RecommendSteps(wh, as_of="2026-06-30")   # doctest: +SKIP
    >>> steps.run("selectivity", "retention"); steps.run("runway")  # doctest: +SKIP
    >>> steps.run("lifecycle"); steps.run("bitrate", "cache_rules")  # doctest: +SKIP
    >>> recs = steps.recommendations                     # doctest: +SKIP
    """

    _NEEDS = {"retention": ("selectivity",), "runway": ("selectivity", "retention")}

    def __init__(self, wh: Warehouse, *, book: PriceBook | str | None = None,
                 as_of: date | str | None = None, params: RecommendParams | None = None,
                 **overrides: Any) -> None:
        self.wh = wh
        self.rules = (params or RecommendParams()).replace(**overrides).rules()
        self.book, self.day = resolve(wh, book, as_of)
        self.done: dict[str, list[Recommendation]] = {}

    def run(self, *steps: str) -> None:
        """Run the named steps (each of `STEPS`, in order): see `recommendations`."""
        unknown = [s for s in steps if s not in STEPS]
        if unknown:
            raise UsageError(f"unknown recommendation step(s): {', '.join(unknown)}; the "
                             f"steps: {', '.join(STEPS)}")
        for step in steps:
            if step in self.done:
                raise UsageError(f"recommendation step {step!r} has run already")
            missing = [n for n in self._NEEDS.get(step, ()) if n not in self.done]
            if missing:
                raise UsageError(f"recommendation step {step!r} needs {', '.join(missing)} "
                                 "run first")
            self.done[step] = self._step(step)

    @property
    def recommendations(self) -> list[Recommendation]:
        """Every step's recommendations so far, in the recipe's order."""
        return [r for step in STEPS for r in self.done.get(step, [])]

    def _step(self, step: str) -> list[Recommendation]:
        wh, book, day, rules, done = self.wh, self.book, self.day, self.rules, self.done
        if step == "selectivity":
            return recommend_selectivity(wh, book=book, as_of=day, rule=rules.selectivity)
        if step == "retention":
            sel = done["selectivity"]
            return recommend_retention(wh, book=book, as_of=day, rule=rules.retention,
                                       skip_live_inputs={r.target for r in sel},
                                       freed_before=selected_minutes(sel))
        if step == "runway":
            return recommend_runway(wh, book=book, as_of=day, rule=rules.runway,
                                    freeing=done["selectivity"] + done["retention"])
        if step == "lifecycle":
            return recommend_lifecycle(wh, book=book, as_of=day, rule=rules.lifecycle)
        if step == "bitrate":
            return recommend_bitrate(wh, book=book, as_of=day, rule=rules.bitrate)
        return recommend_cache_rules(wh, book=book, as_of=day, rule=rules.cache_rules)


def to_frame(recs: Iterable[Recommendation]) -> pd.DataFrame:
    """One row per recommendation (monthly_saving stays Decimal; evidence stays typed).

    >>> to_frame([]).columns.tolist()[:4]
    ['id', 'kind', 'target_type', 'target']
    """
    cols = ["id", "kind", "target_type", "target", "action", "monthly_saving",
            "saving_computation", "viewer_impact", "confidence", "rule", "actions", "evidence"]
    rows = [{"id": r.id, "kind": r.kind, "target_type": r.target_type, "target": r.target,
             "action": r.action, "monthly_saving": r.monthly_saving,
             "saving_computation": r.saving_computation, "viewer_impact": r.viewer_impact,
             "confidence": r.confidence, "rule": r.rule, "actions": len(r.actions),
             "evidence": r.evidence} for r in recs]
    return pd.DataFrame(rows, columns=cols)


def parameters() -> dict[str, dict[str, Any]]:
    """Each recommender's rule and its defaults (for reports and the README).

    >>> parameters()["recommend_runway"]
    {'horizon_days': 90}
    """
    rules = Rules()
    return {f"recommend_{f.name}": dataclasses.asdict(getattr(rules, f.name))
            for f in fields(rules)}


__all__ = ["STEPS", "RecommendParams", "RecommendSteps", "Rules", "make_plan", "parameters",
           "recommend_all", "to_frame"]


def make_plan(wh: Warehouse, *, plan_path: str | Path | None = None,
              book: PriceBook | str | None = None, as_of: date | str | None = None,
              params: RecommendParams | None = None, **overrides: Any) -> Plan:
    """Run every recommender, store the recommendations, and write the action plan.

    The recommendations go to the warehouse's `recommendations` table (one row each, keyed
    by the run's time); the plan file holds only ids, values and reasons, never a secret.

    >>> plan = make_plan(Warehouse("data/demo.duckdb"), plan_path="plan.json")  # doctest: +SKIP
    >>> len(plan.actions), plan.id                                             # doctest: +SKIP
    """
    book, day = resolve(wh, book, as_of)
    account = wh.account_id()
    if account is None:
        raise ConfigError([f"warehouse {wh.path} holds no account yet: run `lc-analytics sync`"
                           " first"])
    recs = recommend_all(wh, book=book, as_of=day, params=params, **overrides)
    plan = Plan(account_id=account, created_at=clock(day).to_pydatetime(), book=book.label,
                recommendations=recs)
    rows = [{"run_at": plan.created_at, "id": r.id, "kind": r.kind,
             "target_type": r.target_type, "target": r.target, "action": r.action,
             "rule": r.rule, "monthly_saving": r.monthly_saving,
             "saving_computation": r.saving_computation, "viewer_impact": r.viewer_impact,
             "confidence": r.confidence,
             "evidence_json": json.dumps(r.evidence.as_json(), sort_keys=True),
             "actions_json": json.dumps([a.to_json() for a in r.actions], sort_keys=True),
             "plan_id": plan.id, "book": plan.book} for r in recs]
    if rows:
        with wh.transaction() as tx:
            tx.upsert("recommendations", rows)
    if plan_path is not None:
        plan.write(plan_path)
    return plan
