"""A report's headline numbers: published by a notebook cell, read back from its outputs.

The cell tagged `summary` calls `publish_summary(values)`. That displays the numbers as a
Markdown table (what the HTML report shows) together with the same values as JSON, in an
output marked with `SUMMARY_KEY` in its metadata. `read_summary(nb)` finds that output in
the executed notebook; the runner writes it to summary.json. No file path is passed to the
kernel, and the numbers in the report and in summary.json cannot disagree.

Money stays exact in summary.json (a Decimal as its decimal string) and gets a sibling
`<key>_display` with the text people read (`lc_analytics.money.format_usd`): the same
string the report, `recommend` and `apply` print for the same amount.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ..errors import UsageError
from ..money import format_usd

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
    raise UsageError(f"cannot put {type(value).__name__} {value!r} in a report summary")


def with_display(values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` with a `<key>_display` string beside every money value: a Decimal, or a
    mapping of Decimals (None allowed) such as a bill by service. Lists of records are
    walked; nothing else changes.

    >>> with_display({"saving": Decimal("55.405"), "by": {"R2": Decimal("1"), "Stream": None}})
    {'saving': Decimal('55.405'), 'saving_display': '$55.41', 'by': {'R2': Decimal('1'), \
'Stream': None}, 'by_display': {'R2': '$1.00', 'Stream': 'n/a'}}
    """
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping) and value and all(
                isinstance(v, Decimal) or v is None for v in value.values()) and any(
                isinstance(v, Decimal) for v in value.values()):
            out[key] = dict(value)
            out[f"{key}_display"] = {k: format_usd(v) for k, v in value.items()}
        elif isinstance(value, Mapping):
            out[key] = with_display(value)
        elif isinstance(value, (list, tuple)):
            out[key] = [with_display(v) if isinstance(v, Mapping) else v for v in value]
        else:
            out[key] = value
        if isinstance(value, Decimal):
            out[f"{key}_display"] = format_usd(value)
    return out


def summary_markdown(values: Mapping[str, Any]) -> str:
    """The headline numbers as a two-column Markdown table (a nested dict on one line, a list
    of records as its length: summary.json holds them whole). Money (a Decimal) shows as
    `format_usd` shows it; the `_display` siblings are not repeated.

    >>> print(summary_markdown({"minutes_viewed": 208314.0, "top_country": "FR"}))
    | Headline | Value |
    |---|---|
    | minutes viewed | 208,314 |
    | top country | FR |
    """
    def fmt(v: Any) -> str:
        if hasattr(v, "item") and callable(v.item):  # numpy / pandas scalars
            v = v.item()
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "n/a"
        if isinstance(v, Decimal):
            return format_usd(v)
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

    rows = "\n".join(f"| {k.replace('_', ' ')} | {fmt(v)} |" for k, v in values.items()
                     if not k.endswith("_display"))
    return "| Headline | Value |\n|---|---|\n" + rows


def publish_summary(values: Mapping[str, Any]) -> dict[str, Any]:
    """Display the headline numbers and mark them as the report's summary.json; returns the
    JSON-ready dict. Call it once, in the notebook cell tagged `summary`.

    >>> publish_summary(data.viewers_headline(wh, period))             # doctest: +SKIP
    """
    from IPython.display import display

    data = jsonable(with_display(values))
    display({JSON_MIME: data, "text/markdown": summary_markdown(values)}, raw=True,
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
