"""The SQL of bulk writes: each batch's columns cast to the table's types, and the upsert."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .catalog import _ident, _Table
from .schema import SEEN_COLUMNS

_BATCH = "__lc_batch"  # the registered Arrow batch
_ORD = "__lc_ord"  # its row order (the last record of a repeated key wins)


def _select_exprs(info: _Table, names: list[str]) -> list[str]:
    """Each writable column from the batch (cast to its type) or its default."""
    exprs: list[str] = []
    for column in info.columns.values():
        if column.name not in info.writable:
            continue
        if column.name in names:
            expr = f"CAST(b.{_ident(column.name)} AS {column.type})"
            if column.default is not None:
                expr = f"COALESCE({expr}, {column.default})"
        elif column.default is not None:
            expr = column.default
        else:
            continue  # unreachable: _check_columns requires it
        exprs.append(f"{expr} AS {_ident(column.name)}")
    return exprs


def _upsert_sql(info: _Table, names: list[str], seen_at: datetime) -> tuple[str, list[Any]]:
    exprs = _select_exprs(info, names)
    columns = [c for c in info.columns if c in info.writable]
    key = ", ".join(_ident(k) for k in info.key)
    updates = [f"{_ident(c)} = EXCLUDED.{_ident(c)}" for c in columns if c not in info.key]
    outer, params = [_ident(c) for c in columns], []
    if info.inventory:
        outer += ["?::TIMESTAMPTZ", "?::TIMESTAMPTZ", "NULL::TIMESTAMPTZ"]
        params = [seen_at, seen_at]
        columns += list(SEEN_COLUMNS)
        updates += [
            "last_seen = GREATEST(t.last_seen, EXCLUDED.last_seen)",
            "missing_since = CASE WHEN t.missing_since > EXCLUDED.last_seen "
            "THEN t.missing_since ELSE NULL END",
        ]
    action = f"DO UPDATE SET {', '.join(updates)}" if updates else "DO NOTHING"
    sql = (
        f"INSERT INTO {_ident(info.name)} AS t ({', '.join(_ident(c) for c in columns)}) "
        f"SELECT {', '.join(outer)} FROM "
        f"(SELECT {', '.join(exprs)}, b.{_ORD} FROM {_BATCH} AS b) "
        f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {_ORD} DESC) = 1 "
        f"ON CONFLICT ({key}) {action}"
    )
    return sql, params

