"""Helpers the notebooks import: the read-only warehouse, offline plotly figures, markdown.

A notebook opens with::

    from lc_analytics import notebook as lcnb
    lcnb.setup()                  # plotly: offline renderer, white template
    wh = lcnb.warehouse(db)       # read-only; every query opens and closes its connection

The warehouse is only ever read through `Warehouse.query`, which holds DuckDB for one query:
an open notebook never blocks the scheduled sync. A report that reads a lot (`cost_review`)
opens it with `hold=True` (one connection for the run) and releases it in its last cell.

Figures: `setup()` makes `lc_analytics` plotly's default renderer. Each figure is displayed
as a bundle of two renditions: plotly's JSON mimetype (drawn natively by JupyterLab) and an
HTML `<div>` + `<script>` (used by nbconvert for the HTML reports). The first figure of a
kernel session carries the whole plotly.js library inline in its HTML; later figures reuse
it, so a published report draws its charts with no network at all (no CDN, no MathJax).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import plotly.io as pio
from plotly.io.base_renderers import MimetypeRenderer

from .warehouse import Warehouse

__all__ = ["default_db", "escape_dollars", "md", "setup", "warehouse"]

RENDERER = "lc_analytics"
TEMPLATE = "plotly_white"
FIGURE_HEIGHT = 460
PLOTLY_MIME = "application/vnd.plotly.v1+json"


def default_db() -> Path:
    """The warehouse notebooks read by default: the same one every command uses
    (LC_ANALYTICS_DB from the environment or .env, else data/lc_analytics.duckdb).

    A scheduled `lc-analytics report` with its settings in .env therefore reports on the
    real warehouse, never on the demo's; `make lab` points LC_ANALYTICS_DB at the demo.

    >>> default_db()                                                   # doctest: +SKIP
    PosixPath('data/lc_analytics.duckdb')
    """
    from .settings import Settings

    return Path(Settings.from_env().db_path).expanduser()


def warehouse(db: str | os.PathLike[str] | None = None, *, hold: bool = False) -> Warehouse:
    """The warehouse at `db` (None: `default_db()`), opened read-only.

    `hold`: read through one connection kept open until `wh.release()` (`Warehouse.hold`),
    with DuckDB's memory and threads capped for the kernel: a report that reads hundreds of
    times opens the file once. A sync waits for it like for any reader, so a notebook that
    holds releases in its last cell (the kernel's end releases it too).

    Raises WarehouseError naming the file and what to run when it is missing or too old.

    >>> wh = warehouse("data/demo.duckdb")                             # doctest: +SKIP
    """
    wh = Warehouse(default_db() if db in (None, "") else Path(db), read_only=True)
    if hold:
        wh.hold()
    return wh


class OfflineRenderer(MimetypeRenderer):
    """Plotly renderer: the JSON mimetype plus HTML with plotly.js inlined in the first figure.

    Div ids are deterministic (`lc-fig-<n>-<hash>`), so re-running a notebook gives the same
    HTML. (Plotly renders with a shallow copy of the renderer, so the figure count lives in a
    dict the copies share.)
    """

    def __init__(self, height: int = FIGURE_HEIGHT) -> None:
        self.height = height
        self.state = {"figures": 0}
        self.config = {"displaylogo": False, "responsive": True}

    def activate(self) -> None:
        """Start a new document: the next figure carries plotly.js again."""
        self.state["figures"] = 0

    def to_mimebundle(self, fig_dict: dict[str, Any]) -> dict[str, Any]:
        """Both renditions of one figure."""
        self.state["figures"] += 1
        n = self.state["figures"]
        text = pio.to_json(fig_dict, validate=False, remove_uids=False)
        digest = hashlib.sha1(text.encode()).hexdigest()[:8]
        html = pio.to_html(
            fig_dict, config=self.config, include_plotlyjs=n == 1,
            include_mathjax=False, full_html=False, div_id=f"lc-fig-{n}-{digest}",
            default_width="100%", default_height=self.height, validate=False)
        as_json = json.loads(text)
        as_json["config"] = dict(self.config)
        return {PLOTLY_MIME: as_json, "text/html": html}


def setup() -> None:
    """Make figures render offline (see the module docstring) on a white template.

    Call once at the top of a notebook; calling it again restarts the figure count, so the
    next figure carries plotly.js again.

    >>> setup(); import plotly.io as pio; pio.renderers.default
    'lc_analytics'
    """
    pio.renderers[RENDERER] = OfflineRenderer()
    pio.renderers.default = RENDERER
    pio.templates.default = TEMPLATE
    _show_tables_plainly()


def _show_tables_plainly() -> None:
    """Every DataFrame the notebook displays: no index column, headers in words."""
    import pandas as pd
    from IPython import get_ipython

    from .reports.tables import table_html

    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, table_html)


def md(text: str) -> None:
    """Display `text` as Markdown (for sentences built from numbers). Dollar signs stay
    dollars (`escape_dollars`): reports carry no MathJax, and "$5 ... $7" is not math.

    >>> md(f"**{42:,}** minutes")                                      # doctest: +SKIP
    """
    from IPython.display import Markdown, display

    display(Markdown(escape_dollars(text)))


def escape_dollars(text: str) -> str:
    r"""`text` with each `$` outside code spans escaped, so Markdown renderers do not read
    "$430.99 (Stream $404.00" as inline math.

    >>> print(escape_dollars("**$5**, `echo $HOME`, \\$7"))
    **\$5**, `echo $HOME`, \$7
    """
    parts = text.split("`")
    for i in range(0, len(parts), 2):  # even parts are outside code spans
        parts[i] = re.sub(r"(?<!\\)\$", r"\\$", parts[i])
    return "`".join(parts)
