"""Recommendations with evidence and their action plan."""

from .bitrate import recommend_bitrate
from .lifecycle import existing_rule_reviews, lifecycle_candidates, recommend_lifecycle
from .model import Action, Plan, Recommendation
from .retention import recommend_retention, retention_policies
from .run import RecommendParams, make_plan, parameters, recommend_all, to_frame
from .runway import recommend_runway
from .selectivity import recommend_selectivity

__all__ = [
    "Action",
    "Plan",
    "RecommendParams",
    "Recommendation",
    "existing_rule_reviews",
    "lifecycle_candidates",
    "make_plan",
    "parameters",
    "recommend_all",
    "recommend_bitrate",
    "recommend_lifecycle",
    "recommend_retention",
    "recommend_runway",
    "recommend_selectivity",
    "retention_policies",
    "to_frame",
]
