"""The read model's SQL, kept in one dialect (DuckDB's), transpiled for another engine.

Every query in `lc_analytics.readmodel` is written once, for DuckDB; sqlglot parses it and
writes it in the target dialect (Spark SQL), with the query's parameters (`?` positional or
`$name`) bound as typed literals, since Spark SQL takes no DuckDB-style parameters.

>>> to_dialect("SELECT sum(requests)::BIGINT AS n FROM t WHERE date >= ?",
...            [date(2026, 6, 1)], "spark")
"SELECT CAST(SUM(requests) AS BIGINT) AS n FROM t WHERE date >= CAST('2026-06-01' AS DATE)"
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlglot
from sqlglot import exp

from ..errors import UsageError

__all__ = ["tables_read", "to_dialect"]


def tables_read(sql: str) -> set[str]:
    """The tables `sql` (DuckDB) reads (CTE names left out).

    >>> sorted(tables_read("WITH a AS (SELECT * FROM x) SELECT * FROM a JOIN y USING (k)"))
    ['x', 'y']
    """
    tree = sqlglot.parse_one(sql, read="duckdb")
    ctes = {c.alias for c in tree.find_all(exp.CTE)}
    return {t.name for t in tree.find_all(exp.Table)} - ctes


def to_dialect(sql: str, params: Iterable[Any] | Mapping[str, Any] | None, dialect: str,
               columns: Callable[[str], list[str]] | None = None) -> str:
    """`sql` (DuckDB) in `dialect`, with `params` written into it as literals; DuckDB's
    `SELECT * REPLACE (...)`/`EXCLUDE (...)` spelled out with `columns(table)` (engines
    without them)."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    positional = list(params) if params is not None and not isinstance(params, Mapping) \
        else []
    named = params if isinstance(params, Mapping) else {}
    counter = iter(range(len(positional)))

    def bind(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder):
            if node.name and not node.name.isdigit() and node.name != "?":
                return _literal(named[node.name])
            return _literal(positional[next(counter)])
        if isinstance(node, exp.Parameter):
            return _literal(named[node.name])
        if isinstance(node, exp.Select) and columns is not None:
            return _expand_star(node, columns)
        return node

    bound = tree.transform(bind)
    return bound.sql(dialect=dialect)


def _expand_star(select: exp.Select, columns: Callable[[str], list[str]]) -> exp.Select:
    """`SELECT * REPLACE (e AS c) EXCLUDE (d) FROM t` as `SELECT a, b, e AS c FROM t`."""
    star = next((e for e in select.expressions if isinstance(e, exp.Star)
                 and (e.args.get("replace") or e.args.get("except_"))), None)
    source = select.args.get("from_") or select.args.get("from")
    if star is None or source is None or not isinstance(source.this, exp.Table):
        return select
    replaced = {a.alias: a for a in star.args.get("replace") or []}
    dropped = {c.name for c in star.args.get("except_") or []}
    spelled = [replaced.get(c, exp.column(c)).copy() for c in columns(source.this.name)
               if c not in dropped]
    out = select.copy()
    out.set("expressions", [x for e in select.expressions
                            for x in (spelled if e is star else [e.copy()])])
    return out


def _literal(value: Any) -> exp.Expression:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float | Decimal):
        return exp.Literal.number(value)
    if isinstance(value, datetime):
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP")
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if isinstance(value, str):
        return exp.Literal.string(value)
    raise UsageError(f"cannot bind a {type(value).__name__} parameter for another engine")
