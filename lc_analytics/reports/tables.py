"""How a DataFrame looks in a report: no index column, headers in words, blanks for missing.

`lc_analytics.notebook.setup()` registers `table_html` as the HTML form of every DataFrame a
notebook displays, so each report's tables follow one rule without a call per table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from ..money import format_usd

__all__ = ["header", "money_table", "plottable", "table_html"]

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


def plottable(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` with its Decimal (and None-holding money) columns as floats, for a
    chart; the numbers shown in tables stay Decimal.

    >>> plottable(pd.DataFrame({"cost": [Decimal("1.5"), None]}))["cost"].tolist()
    [1.5, nan]
    """
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object and out[col].map(
                lambda v: isinstance(v, Decimal) or v is None).all() and \
                out[col].map(lambda v: isinstance(v, Decimal)).any():
            out[col] = [float(v) if v is not None else np.nan for v in out[col]]
    return out


def money_table(df: pd.DataFrame, columns: Iterable[str] | None = None, *,
                quantities: Iterable[str] = (), shares: Iterable[str] = ()) -> pd.DataFrame:
    """A copy of `df` for display: the money `columns` (default: every Decimal column) as
    dollar text (`usd`), `quantities` as numbers to 3 decimals, `shares` as percentages;
    missing values blank.

    >>> money_table(pd.DataFrame({"cost": [Decimal("2.5")], "q": [Decimal("964.0516")],
    ...                           "s": [0.2162]}), quantities=["q"], shares=["s"]).iloc[0].tolist()
    ['$2.50', '964.052', '21.6%']
    """
    out = df.copy()
    quantities, shares = list(quantities), list(shares)
    cols = list(columns) if columns is not None else [
        c for c in out.columns if c not in quantities and
        out[c].map(lambda v: isinstance(v, Decimal)).any()]
    for col in cols:
        out[col] = [format_usd(v) if isinstance(v, (Decimal, int, float)) or v is None else v
                    for v in out[col]]
    for col in quantities:
        out[col] = [_quantity(v) for v in out[col]]
    for col in shares:
        out[col] = ["" if _missing(v) else f"{float(v):.1%}" for v in out[col]]
    out = out.astype(object)
    return out.where(~out.isna(), "")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def _quantity(value: Any) -> str:
    if _missing(value):
        return ""
    x = float(value)
    if x.is_integer():
        return f"{int(x):,}"
    return f"{x:,.3f}".rstrip("0").rstrip(".")
