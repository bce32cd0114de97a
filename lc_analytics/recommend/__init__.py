"""Recommendations with evidence and their action plan."""

from .model import Action, Plan, Recommendation

__all__ = ["Action", "Plan", "Recommendation"]
