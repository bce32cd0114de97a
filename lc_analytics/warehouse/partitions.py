"""The warehouse's tables cut into export partitions: their shapes, fingerprints and rows.

A table with a `date` column of type DATE (the daily facts) is cut by year and month of
that column; every other table (inventories, bookkeeping) is one partition, exported whole.
A partition's fingerprint changes when any of its rows changes, when rows come or go, and
when the table's columns change (a migration): the export rewrites exactly those.

All functions take one open DuckDB connection, so an export reads one consistent state.

>>> with wh.connect(read_only=True) as con:                           # doctest: +SKIP
...     [t.name for t in export_tables(con)][:2]
['accounts', 'apply_audit']
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import duckdb
import pyarrow as pa

from .catalog import _ident, _introspect

#: warehouse tables never exported (the export's own bookkeeping)
NOT_EXPORTED = frozenset({"export_state"})
PARTITION_COLUMN = "date"


@dataclass(frozen=True)
class TableShape:
    """One exportable table: its columns (name, DuckDB type) in order, key, partitioning."""

    name: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]
    by_month: bool

    @property
    def signature(self) -> str:
        """The columns and types, as a string that changes with any migration of the table."""
        return ",".join(f"{n} {t}" for n, t in self.columns)


@dataclass(frozen=True)
class Partition:
    """One partition of a table as the warehouse holds it now."""

    table: str
    year: int | None
    month: int | None
    rows: int
    fingerprint: str

    @property
    def key(self) -> str:
        """The Hive path of the partition ('year=2026/month=6'), '' for a whole table."""
        return "" if self.year is None else f"year={self.year}/month={self.month}"


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The warehouse's schema version: the last migration applied to it."""
    return int(con.execute("SELECT max(version) FROM schema_migrations").fetchall()[0][0])


def export_tables(con: duckdb.DuckDBPyConnection) -> list[TableShape]:
    """Every exportable table of the warehouse, by name."""
    shapes = []
    for name, table in sorted(_introspect(con).items()):
        if name in NOT_EXPORTED:
            continue
        cols = tuple((c.name, c.type) for c in table.columns.values())
        by_month = dict(cols).get(PARTITION_COLUMN) == "DATE"
        shapes.append(TableShape(name, cols, table.key, by_month))
    return shapes


def partitions(con: duckdb.DuckDBPyConnection, shape: TableShape) -> list[Partition]:
    """The partitions `shape`'s table holds now, with row counts and fingerprints (an empty
    whole table is one partition of 0 rows; a date-partitioned one has none)."""
    t = _ident(shape.name)
    if shape.by_month:
        col = _ident(PARTITION_COLUMN)
        rows = con.execute(
            f"SELECT year({col}), month({col}), count(*), sum(hash(r))::VARCHAR "
            f"FROM {t} AS r GROUP BY ALL ORDER BY ALL").fetchall()
    else:
        rows = [(None, None) + tuple(con.execute(
            f"SELECT count(*), coalesce(sum(hash(r)), 0)::VARCHAR FROM {t} AS r").fetchall()[0])]
    return [Partition(shape.name, y, m, int(n), _fingerprint(shape, int(n), str(h)))
            for y, m, n, h in rows]


def _fingerprint(shape: TableShape, rows: int, row_hash: str) -> str:
    text = f"{shape.signature}|{rows}|{row_hash}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def partition_rows(con: duckdb.DuckDBPyConnection, shape: TableShape,
                   part: Partition) -> pa.Table:
    """The rows of one partition as an Arrow table, in key order (the partition columns
    year and month are not in it: they are the Hive path)."""
    t = _ident(shape.name)
    order = ", ".join(_ident(k) for k in shape.key) or "ALL"
    if part.year is None or part.month is None:
        return con.sql(f"SELECT * FROM {t} ORDER BY {order}").to_arrow_table()
    first = date(part.year, part.month, 1)
    nxt = date(part.year + part.month // 12, part.month % 12 + 1, 1)
    col = _ident(PARTITION_COLUMN)
    return con.sql(f"SELECT * FROM {t} WHERE {col} >= ? AND {col} < ? ORDER BY {order}",
                   params=[first, nxt]).to_arrow_table()
