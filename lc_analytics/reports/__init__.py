"""Report runs: papermill executes notebooks/<name>.ipynb into reports/<name>/<date>/.

    >>> from lc_analytics.reports import run
    >>> res = run("viewers", period="2026-06")                     # doctest: +SKIP
    >>> res.html, res.headline["minutes_viewed"]                    # doctest: +SKIP

Each run folder holds the executed notebook, an offline HTML page with the code hidden and
summary.json (the headline numbers the notebook's `summary` cell published with
`publish_summary`). reports/index.html lists every run. A failing cell raises ReportError
(exit code 7) naming the cell; the failed run is kept with its partial notebook beside the run
folder (`<date>.failed-<time>/`), and a good run of the same date is never touched.
"""

from .errors import ReportError
from .runner import ReportResult, run, write_index
from .summary import publish_summary, read_summary

__all__ = ["ReportError", "ReportResult", "publish_summary", "read_summary", "run",
           "write_index"]
