"""ReportError: a report could not be run (bad parameter, missing notebook, failing cell)."""

from __future__ import annotations

from ..errors import LcAnalyticsError


class ReportError(LcAnalyticsError):
    """A report run failed; `context` names the report and, for a failing cell, the cell.

    Context keys: `report`; for a failing cell also `cell_index` (0-based, in the source
    notebook), `cell_first_line`, `ename`, `evalue` and `notebook` (the partial executed
    notebook kept for diagnosis).
    """

    exit_code = 7
