"""How a DataFrame looks in a report: no index column, headers in words, blanks for missing.

`lc_analytics.notebook.setup()` registers `table_html` as the HTML form of every DataFrame a
notebook displays, so each report's tables follow one rule without a call per table.
"""

from __future__ import annotations

import re

import pandas as pd

#: words written in capitals (or their own casing) in a header
_WORDS = {"id": "ID", "uid": "UID", "sku": "SKU", "aws": "AWS", "r2": "R2", "gb": "GB",
          "mbps": "Mbps", "usd": "USD", "ia": "IA", "mtd": "MTD", "pct": "%"}


def header(name: object) -> str:
    """A column name in words: snake_case split, known abbreviations in capitals.

    >>> header("cloudflare_cost"), header("sku_id"), header("gb_stored"), header("Show")
    ('Cloudflare cost', 'SKU ID', 'GB stored', 'Show')
    """
    words = [w for w in re.split(r"[_\s]+", str(name)) if w]
    if not words:
        return str(name)
    out = [_WORDS.get(w.lower(), w) for w in words]
    first = out[0]
    out[0] = first if first in _WORDS.values() else first[:1].upper() + first[1:]
    return " ".join(out)


def _number(x: float) -> str:
    if x != x:  # NaN
        return ""
    if float(x).is_integer():
        return f"{x:,.0f}"
    return f"{x:,.3f}".rstrip("0").rstrip(".")


def table_html(df: pd.DataFrame) -> str:
    """`df` as an HTML table without its index, with `header` names and blank missing values.

    >>> print(table_html(pd.DataFrame({"sku_id": ["a"], "cost": ["$1.00"]})))  # doctest: +ELLIPSIS
    <table ...
    """
    shown = df.rename(columns={c: header(c) for c in df.columns})
    return shown.to_html(index=False, na_rep="", float_format=_number, border=0,
                         classes="lc-table", escape=True)
