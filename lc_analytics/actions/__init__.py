"""Actions: apply a reviewed plan through the API (dry run by default), with an audit log."""

from .apply import ApplyReport, Review, apply_plan, render

__all__ = ["ApplyReport", "Review", "apply_plan", "render"]
