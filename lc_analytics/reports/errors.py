"""ReportError: a report could not be run (defined in the one tree, lc_analytics.errors)."""

from __future__ import annotations

from ..errors import ReportError

__all__ = ["ReportError"]
