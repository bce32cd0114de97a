"""Self-contained HTML: the executed notebook without code, and the index of every run.

The notebook page is nbconvert's `lab` template with code cells' inputs and prompts hidden,
and with the blocks that would load require.js, MathJax, Mermaid or the widget manager from
a CDN emptied: plotly.js itself is inlined by the notebook's first figure
(`lc_analytics.notebook`), so the page draws its charts with no network.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_TEMPLATE_NAME = "lc_report.html.j2"
_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}
<style type="text/css">
  main { max-width: 1200px; margin: 0 auto; }
  .jp-RenderedHTMLCommon table { font-size: 13px; }
</style>
{%- endblock extra_css -%}
"""
#: a tag that would fetch something over the network when the page opens
EXTERNAL_RESOURCE = re.compile(
    r"<(?:script|link|img|iframe|embed|source)\b[^>]*\b(?:src|href)\s*=\s*[\"']?"
    r"(?:https?:)?//", re.IGNORECASE)
_MODULE_IMPORT = re.compile(r"""import\s*(?:[\w{}\s,*]+from\s*)?["'](?:https?:)?//""")


def external_resources(text: str) -> list[str]:
    """Tags or ES imports in `text` that load something from the network (empty: offline).

    >>> external_resources('<script src="https://cdn.plot.ly/x.js"></script><p>ok</p>')
    ['<script src="https://']
    """
    return [m.group(0) for m in EXTERNAL_RESOURCE.finditer(text)] + \
        [m.group(0) for m in _MODULE_IMPORT.finditer(text)]


def notebook_html(nb: Mapping[str, Any], title: str) -> str:
    """The executed notebook `nb` as one offline HTML page with the code hidden.

    >>> notebook_html(nbformat.read("x.ipynb", 4), "viewers")       # doctest: +SKIP
    """
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab", template_file=_TEMPLATE_NAME,
        extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    node = nbformat.from_dict(dict(nb))
    node.metadata["title"] = title
    body, _ = exporter.from_notebook_node(node)
    return body


@dataclass(frozen=True)
class RunEntry:
    """One run folder of the reports tree."""

    name: str
    date: str
    folder: Path
    ok: bool
    headline: dict[str, Any]
    failed_at: str = ""  # the UTC time of a failed run kept as `<date>.failed-<time>/`


def list_runs(out_root: str | Path) -> list[RunEntry]:
    """Every run under `out_root` (`<name>/<date>[_<key>]/`), newest date first, then by name.

    A run is ok when its HTML and summary.json exist; a failed run keeps only its partial
    notebook, in `<date>.failed-<time>/` beside the date's good run (if any); both are
    listed. Hidden folders (runs still rendering) are not.

    >>> [r.name for r in list_runs("reports")]                         # doctest: +SKIP
    ['bandwidth', 'viewers']
    """
    root = Path(out_root)
    runs = []
    for folder in sorted(root.glob("*/*/")):
        name, (day, _, failed_at) = folder.parent.name, folder.name.partition(".failed-")
        day = day.partition("_")[0]  # `<date>_<key>`: one of several runs of that date
        if not (folder / f"{name}.ipynb").exists():
            continue
        summary = folder / "summary.json"
        ok = not failed_at and summary.exists() and (folder / f"{name}.html").exists()
        headline: dict[str, Any] = {}
        if ok:
            try:
                headline = json.loads(summary.read_text(encoding="utf-8")).get("headline", {})
            except (OSError, ValueError):
                ok = False
        runs.append(RunEntry(name, day, folder, ok, headline, failed_at))
    runs.sort(key=lambda r: (r.name, not r.ok, r.failed_at))
    return sorted(runs, key=lambda r: r.date, reverse=True)


def index_html(out_root: str | Path) -> str:
    """The page listing every run (name, date, status, links to HTML / notebook / summary).

    >>> print(index_html("reports")[:15])                              # doctest: +SKIP
    <!DOCTYPE html>
    """
    root = Path(out_root)
    rows = []
    for r in list_runs(root):
        rel = r.folder.relative_to(root).as_posix()
        links = [f'<a href="{html.escape(rel)}/{html.escape(r.name)}.ipynb">notebook</a>']
        if r.ok:
            links = [f'<a href="{html.escape(rel)}/{html.escape(r.name)}.html">report</a>',
                     *links, f'<a href="{html.escape(rel)}/summary.json">summary.json</a>']
        period = ""
        if r.headline.get("period_start"):
            period = f"{r.headline['period_start']} .. {r.headline.get('period_end', '')}"
        status = "ok" if r.ok else '<span class="failed">failed</span>'
        if r.failed_at:
            status += f" at {html.escape(r.failed_at)}"
        rows.append(f"<tr><td>{html.escape(r.name)}</td><td>{html.escape(r.date)}</td>"
                    f"<td>{html.escape(period)}</td><td>{status}</td>"
                    f"<td>{' · '.join(links)}</td></tr>")
    body = "\n".join(rows) or '<tr><td colspan="5">no runs yet</td></tr>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>lc-analytics reports</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 960px; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .4em .8em; border-bottom: 1px solid #ddd; }}
th {{ background: #f4f4f4; }} .failed {{ color: #b00020; font-weight: 600; }}
</style></head>
<body><h1>lc-analytics reports</h1>
<p>Every report run, newest first. Rewritten after each run by
<code>lc_analytics.reports.run</code>.</p>
<table><thead><tr><th>Report</th><th>Date (as of)</th><th>Period</th><th>Status</th>
<th>Files</th></tr></thead>
<tbody>
{body}
</tbody></table></body></html>
"""
