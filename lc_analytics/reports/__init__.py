"""Report runs: papermill executes notebooks/<name>.ipynb into reports/<name>/<date>/.

    >>> from lc_analytics.reports import run
    >>> res = run("viewers", period="2026-06")                     # doctest: +SKIP
    >>> res.html, res.headline["minutes_viewed"]                    # doctest: +SKIP

Each run folder holds the executed notebook, an offline HTML page with the code hidden and
summary.json (the headline numbers the notebook's `summary` cell published with
`publish_summary`). reports/index.html lists every run. A failing cell raises ReportError
(exit code 7) naming the cell; the failed run is kept with its partial notebook beside the run
folder (`<date>.failed-<time>/`), and a good run of the same date is never touched.

The domain behind the pages lives elsewhere (`lc_analytics.analyses` for viewers and
bandwidth, `lc_analytics.costs.billing` and `costs.review` for money); this package runs the
notebooks and formats what they show (`money_table`, `plottable`, `headline_markdown`).
"""

from .errors import ReportError
from .headlines import comparison_sentence, headline_markdown
from .runner import ReportResult, run, write_index
from .summary import publish_summary, read_summary
from .tables import money_table, plottable

__all__ = ["ReportError", "ReportResult", "comparison_sentence", "headline_markdown",
           "money_table", "plottable", "publish_summary", "read_summary", "run", "write_index"]
