"""Recommendations with evidence, their explanation, and their action plan.

Every recommender has one shape (copy `selectivity.py`):

- a typed rule: a frozen dataclass of its parameters with their defaults
  (`SelectivityRule`, `RetentionRule`, `RunwayRule`, `LifecycleRule`, `BitrateRule`), passed as
  `recommend_x(wh, *, book=, as_of=, rule=)`; `RecommendParams.rules()` builds them all from
  the names the CLI and notebooks set, and `recommend_all` hands each its own;
- three steps: `find` (the rule, over the read model: typed records such as `Flagged`),
  `price` (through `costs/engine.py` only, e.g. `_common.month_saving`) and `explain` (one
  `Recommendation` per finding: words, actions, and its typed evidence);
- typed evidence: a dataclass of `evidence.py` built where the values are measured and
  carried on `Recommendation.evidence`; `as_json()` is its plan/table form, read back once by
  `evidence_from_json`; `summary()` is the sentence `explain()` shows.

To add a recommender (a CDN cache rule, a billing alert):

1. In `evidence.py`, add `@evidence_for("your_kind")` on a frozen, keyword-only dataclass
   subclassing `EvidenceBase`, with the measured values and a `summary()`.
2. Add `recommend/your_kind.py`: `KIND`, a `YourRule` dataclass, `find` -> `price` ->
   `explain`, and `recommend_your_kind(wh, *, book=None, as_of=None, rule=None)`.
3. Wire it: its parameters on `RecommendParams` and a field on `Rules` (`run.py`), a call in
   `recommend_all`, a title and a next-step verb in `explanation.KIND_TITLES`/`KIND_STEPS`,
   its names in `__all__` here; tests compare its figures with the sandbox's ground truth.

>>> from lc_analytics.recommend import RecommendParams
>>> RecommendParams(max_od_share=0.05).rules().selectivity.max_od_share
0.05
"""

from .bitrate import BitrateRule, recommend_bitrate
from .charts import ingest_vs_audience, on_demand_share, r2_age_profile
from .evidence import EvidenceError, evidence_from_json, evidence_of
from .explanation import (
    KIND_TITLES,
    Explanation,
    explain,
    next_steps,
    ranked,
    recommendation_table,
    recommendations_markdown,
    target_names,
)
from .lifecycle import (
    LifecycleRule,
    existing_rule_reviews,
    lifecycle_candidates,
    recommend_lifecycle,
)
from .model import Action, Plan, Recommendation
from .retention import RetentionRule, recommend_retention, retention_policies
from .run import (
    RecommendParams,
    RecommendSteps,
    Rules,
    make_plan,
    parameters,
    recommend_all,
    to_frame,
)
from .runway import RunwayRule, recommend_runway
from .selectivity import SelectivityRule, recommend_selectivity

__all__ = [
    "KIND_TITLES",
    "Action",
    "BitrateRule",
    "EvidenceError",
    "Explanation",
    "LifecycleRule",
    "Plan",
    "RecommendParams",
    "RecommendSteps",
    "Recommendation",
    "RetentionRule",
    "Rules",
    "RunwayRule",
    "SelectivityRule",
    "evidence_from_json",
    "evidence_of",
    "existing_rule_reviews",
    "explain",
    "ingest_vs_audience",
    "lifecycle_candidates",
    "make_plan",
    "next_steps",
    "on_demand_share",
    "parameters",
    "r2_age_profile",
    "ranked",
    "recommend_all",
    "recommend_bitrate",
    "recommend_lifecycle",
    "recommend_retention",
    "recommend_runway",
    "recommend_selectivity",
    "recommendation_table",
    "recommendations_markdown",
    "retention_policies",
    "target_names",
    "to_frame",
]
