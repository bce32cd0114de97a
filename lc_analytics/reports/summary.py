"""A report's headline numbers: published by a notebook cell, read back from its outputs.

The cell tagged `summary` calls `publish_summary(values)`. That displays the numbers as a
Markdown table (what the HTML report shows) together with the same values as JSON, in an
output marked with `SUMMARY_KEY` in its metadata. `read_summary(nb)` finds that output in
the executed notebook; the runner writes it to summary.json. No file path is passed to the
kernel, and the numbers in the report and in summary.json cannot disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

SUMMARY_KEY = "lc_analytics_summary"
JSON_MIME = "application/json"


def jsonable(value: Any) -> Any:
    """`value` with JSON types only: Decimal as its exact string, dates as ISO strings, numpy
    scalars as Python numbers, NaN as None. Anything else raises TypeError.

    >>> jsonable({"cost": Decimal("0.0000045"), "day": date(2026, 6, 30), "x": float("nan")})
    {'cost': '0.0000045', 'day': '2026-06-30', 'x': None}
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / pandas scalars
        value = value.item()
        if isinstance(value, (datetime, date)):
            return value.isoformat()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    raise TypeError(f"cannot put {type(value).__name__} {value!r} in a report summary")


def summary_markdown(values: Mapping[str, Any]) -> str:
    """The headline numbers as a two-column Markdown table (a nested dict on one line, a list
    of records as its length: summary.json holds them whole).

    >>> print(summary_markdown({"minutes_viewed": 208314.0, "top_country": "FR"}))
    | Headline | Value |
    |---|---|
    | minutes viewed | 208,314 |
    | top country | FR |
    """
    def fmt(v: Any) -> str:
        if v is None:
            return "n/a"
        if isinstance(v, Mapping):  # nested values stay short: one line, keys named
            return "; ".join(f"{k.replace('_', ' ')}: {fmt(x)}" for k, x in v.items()) or "-"
        if isinstance(v, list):
            if any(isinstance(x, (Mapping, list)) for x in v):
                return f"{len(v)} item(s), listed in summary.json"
            return ", ".join(fmt(x) for x in v) or "none"
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return str(v).replace("|", "\\|").replace("\n", " ")
        if isinstance(v, int) or float(v).is_integer():
            return f"{v:,.0f}"
        return f"{v:,.4g}" if abs(v) < 1 else f"{v:,.2f}"

    rows = "\n".join(f"| {k.replace('_', ' ')} | {fmt(v)} |" for k, v in values.items())
    return "| Headline | Value |\n|---|---|\n" + rows


def publish_summary(values: Mapping[str, Any]) -> dict[str, Any]:
    """Display the headline numbers and mark them as the report's summary.json; returns the
    JSON-ready dict. Call it once, in the notebook cell tagged `summary`.

    >>> publish_summary(data.viewers_headline(wh, period))             # doctest: +SKIP
    """
    from IPython.display import display

    data = jsonable(dict(values))
    display({JSON_MIME: data, "text/markdown": summary_markdown(data)}, raw=True,
            metadata={SUMMARY_KEY: True})
    return data


def read_summary(nb: Mapping[str, Any]) -> dict[str, Any] | None:
    """The values the executed notebook `nb` published (the last publication wins), or None.

    >>> read_summary(nbformat.read("reports/viewers/2026-06-30/viewers.ipynb", 4))  # doctest: +SKIP
    """
    found = None
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if out.get("metadata", {}).get(SUMMARY_KEY) and JSON_MIME in out.get("data", {}):
                found = out["data"][JSON_MIME]
    return None if found is None else dict(found)
