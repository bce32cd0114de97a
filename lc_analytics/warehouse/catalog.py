"""The warehouse catalog: each table's shape read from DuckDB, SQL quoting, small helpers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from .schema import SEEN_COLUMNS

_TABLES_SQL = (
    "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
    "AND schema_name = 'main' AND table_name <> 'schema_migrations' ORDER BY table_name"
)


@dataclass(frozen=True)
class _Column:
    name: str
    type: str
    nullable: bool
    default: str | None


@dataclass(frozen=True)
class _Table:
    """A table's shape as read from the database catalog."""

    name: str
    columns: dict[str, _Column]
    key: tuple[str, ...]

    @property
    def inventory(self) -> bool:
        return all(c in self.columns for c in SEEN_COLUMNS)

    @property
    def writable(self) -> frozenset[str]:
        managed = SEEN_COLUMNS if self.inventory else ()
        return frozenset(c for c in self.columns if c not in managed)

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns.values()
                if c.name in self.writable and c.default is None]


def _introspect(con: duckdb.DuckDBPyConnection) -> dict[str, _Table]:
    where = "database_name = current_database() AND schema_name = 'main'"
    columns: dict[str, dict[str, _Column]] = {}
    for table, name, typ, nullable, default in con.execute(
        "SELECT table_name, column_name, data_type, is_nullable, column_default "
        f"FROM duckdb_columns() WHERE {where} ORDER BY table_name, column_index"
    ).fetchall():
        columns.setdefault(table, {})[name] = _Column(name, typ, bool(nullable), default)
    keys = dict(con.execute(
        "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
        f"WHERE {where} AND constraint_type = 'PRIMARY KEY'"
    ).fetchall())
    return {
        t: _Table(t, cols, tuple(keys[t]))
        for t, cols in columns.items()
        if t in keys and t != "schema_migrations"
    }



def _params(params: Iterable[Any] | Mapping[str, Any] | None) -> Any:
    if params is None or isinstance(params, Mapping):
        return params
    return list(params)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _names(names: Iterable[Any]) -> str:
    return ", ".join(repr(n) for n in names)


def _now() -> datetime:
    return datetime.now(UTC)


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
