"""Recommendations with evidence, their explanation, and their action plan."""

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
from .run import RecommendParams, Rules, make_plan, parameters, recommend_all, to_frame
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
