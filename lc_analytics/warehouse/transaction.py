"""Writes inside one warehouse transaction: bulk upserts, ranges, inventories, watermarks."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from contextlib import suppress
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd
import pyarrow as pa

from ..errors import WarehouseError
from .catalog import _as_utc, _ident, _introspect, _now, _params, _Table
from .connections import _translate
from .records import Records, _batches, _conversion_error, _to_arrow
from .schema import SEEN_COLUMNS

if TYPE_CHECKING:
    from .store import Warehouse

_BATCH = "__lc_batch"
_ORD = "__lc_ord"


class Transaction:
    """Writes inside one `Warehouse.transaction()`; invalid once the block has exited."""

    def __init__(self, warehouse: Warehouse, con: duckdb.DuckDBPyConnection) -> None:
        self._warehouse = warehouse
        self._con: duckdb.DuckDBPyConnection | None = con
        self._tables: dict[str, _Table] | None = None
        #: default `seen_at` of inventory upserts made in this transaction (UTC)
        self.started_at = _now()

    # -- bulk writes ---------------------------------------------------------------------

    def upsert(
        self,
        table: str,
        records: Records,
        *,
        seen_at: datetime | None = None,
        batch_size: int = 50_000,
    ) -> int:
        """Insert or update `records` by the table's key, in bulk; returns rows written.

        Duplicate keys within a batch: the last record wins. Inventory tables get
        first_seen = seen_at on insert (kept on update), last_seen = seen_at and
        missing_since = NULL. `seen_at` defaults to the transaction's start; pass the
        listing's start time when one listing spans several transactions.

        Example:
            >>> tx.upsert("r2_objects", [{"bucket": "rec", "key": "a.mp4", "size_bytes": 10,
            ...            "etag": "x", "last_modified": "2026-06-01T00:00:00Z",
            ...            "storage_class": "STANDARD"}])          # doctest: +SKIP
            1
        """
        info = self._table(table)
        return self._write(info, records, self._seen(seen_at), batch_size, window=None)

    def replace_range(
        self,
        table: str,
        date_col: str,
        lo: date | datetime | str,
        hi: date | datetime | str,
        records: Records,
        *,
        batch_size: int = 50_000,
        scope: Mapping[str, Any] | None = None,
    ) -> int:
        """Delete rows with lo <= date_col < hi, then insert `records`; returns rows inserted.

        `scope` limits the delete to rows with those column values (e.g. {"zone_id": z}).

        For analytics windows the API restates. Every record must fall inside the window,
        and inventory tables are refused (their rows are never deleted).

        Example:
            >>> tx.replace_range("minutes_viewed_daily", "date",
            ...                  date(2026, 6, 1), date(2026, 7, 1), rows)  # doctest: +SKIP
        """
        info = self._table(table)
        if info.inventory:
            raise WarehouseError(
                f"{table} is an inventory table: its rows are never deleted; use upsert "
                "and mark_missing",
                table=table,
            )
        column = info.columns.get(date_col)
        if column is None or column.type not in ("DATE", "TIMESTAMP WITH TIME ZONE"):
            raise WarehouseError(
                f"{table}.{date_col} is not a DATE or TIMESTAMPTZ column", table=table
            )
        col, typ = _ident(date_col), column.type
        ordered = self._run(f"SELECT CAST(? AS {typ}) < CAST(? AS {typ})", [lo, hi],
                            f"replace_range on {table}")
        if not ordered or not ordered[0][0]:
            raise WarehouseError(f"replace_range on {table}: need lo < hi, got {lo} .. {hi}")
        where = "".join(f" AND {_ident(k)} = ?" for k in scope or {})
        self._run(
            f"DELETE FROM {_ident(table)} WHERE {col} >= CAST(? AS {typ}) "
            f"AND {col} < CAST(? AS {typ}){where}",
            [lo, hi, *(scope or {}).values()],
            f"replace_range on {table}",
        )
        return self._write(info, records, self.started_at, batch_size, window=(date_col, lo, hi))

    def mark_missing(
        self,
        table: str,
        seen_at: datetime,
        scope: Mapping[str, Any] | None = None,
    ) -> int:
        """Set missing_since = seen_at on rows not seen since `seen_at`; returns how many.

        Call it after a *complete* listing upserted with the same `seen_at`; `scope`
        limits it to what that listing covered, e.g. {"bucket": "recordings"}. Rows
        already missing keep their original missing_since.

        Example:
            >>> tx.mark_missing("r2_objects", listing_started, {"bucket": "rec"})  # doctest: +SKIP
            3
        """
        info = self._table(table)
        if not info.inventory:
            raise WarehouseError(f"{table} is not an inventory table", table=table)
        when = self._seen(seen_at)
        where, params = ["last_seen < ?", "missing_since IS NULL"], [when, when]
        for name, value in (scope or {}).items():
            if name not in info.writable:
                raise WarehouseError(f"{table}: unknown scope column {name!r}", table=table)
            if value is None:
                where.append(f"{_ident(name)} IS NULL")
            else:
                where.append(f"{_ident(name)} = ?")
                params.append(value)
        result = self._run(
            f"UPDATE {_ident(table)} SET missing_since = ? WHERE {' AND '.join(where)}",
            params,
            f"mark_missing on {table}",
        )
        return int(result[0][0]) if result else 0

    # -- state and raw SQL ---------------------------------------------------------------

    def set_watermark(
        self,
        source: str,
        value: date | str | None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Store `source`'s watermark (a day) and optional JSON details in this transaction.

        Example:
            >>> tx.set_watermark("r2.storage", date(2026, 6, 30), {"lag_days": 2})  # doctest: +SKIP
        """
        details_json = json.dumps(details, sort_keys=True, default=str) if details else None
        self._run(
            "INSERT INTO sync_state (source, watermark, updated_at, details_json) "
            "VALUES (?, CAST(? AS DATE), ?, ?) ON CONFLICT (source) DO UPDATE SET "
            "watermark = EXCLUDED.watermark, updated_at = EXCLUDED.updated_at, "
            "details_json = EXCLUDED.details_json",
            [source, value, _now(), details_json],
            f"set_watermark({source!r})",
        )

    def cover(self, source: str, lo: date, hi: date) -> date | None:
        """Record days lo <= day < hi of `source` as committed whole, in this transaction.

        Call it in the transaction that writes those days. The source's watermark becomes
        its last covered day, so a re-fetch of earlier days never moves it backwards.
        Returns the watermark (None while nothing is covered).

        Example:
            >>> tx.replace_range("r2_storage_daily", "date", lo, hi, rows)  # doctest: +SKIP
            >>> tx.cover("r2_storage", lo, hi)                      # doctest: +SKIP
            datetime.date(2026, 6, 30)
        """
        if lo < hi:
            self._run(
                "INSERT INTO coverage (source, day, committed_at) "
                "SELECT ?, CAST(d AS DATE), ? FROM range(CAST(? AS DATE), CAST(? AS DATE), "
                "INTERVAL 1 DAY) AS t(d) ON CONFLICT (source, day) DO UPDATE SET "
                "committed_at = EXCLUDED.committed_at",
                [source, _now(), lo, hi],
                f"cover({source!r})",
            )
        rows = self._run("SELECT max(day) FROM coverage WHERE source = ?", [source],
                         f"cover({source!r})")
        last = rows[0][0] if rows else None
        if last is not None:
            self.set_watermark(source, last)
        return last

    def execute(self, sql: str, params: Iterable[Any] | Mapping[str, Any] | None = None,
                ) -> list[tuple[Any, ...]]:
        """Run one statement in the transaction; returns its rows (DML: [(count,)])."""
        return self._run(sql, params, "execute")

    def query(self, sql: str, params: Iterable[Any] | Mapping[str, Any] | None = None,
              ) -> pd.DataFrame:
        """Read inside the transaction (sees its uncommitted writes) as a DataFrame."""
        con = self._connection()
        try:
            return con.execute(sql, _params(params)).df()
        except duckdb.Error as exc:
            raise _translate(exc, "query") from exc

    # -- internals -----------------------------------------------------------------------

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise WarehouseError("the transaction is over; open a new one")
        return self._con

    def _run(self, sql: str, params: Any, action: str) -> list[tuple[Any, ...]]:
        con = self._connection()
        try:
            cursor = con.execute(sql, _params(params))
            return cursor.fetchall() if cursor.description else []
        except duckdb.Error as exc:
            raise _translate(exc, action) from exc

    def _table(self, name: str) -> _Table:
        if self._tables is None:
            self._tables = _introspect(self._connection())
        info = self._tables.get(name)
        if info is None:
            raise WarehouseError(
                f"unknown table {name!r}; tables: {', '.join(sorted(self._tables))}",
                table=name,
            )
        return info

    def _seen(self, seen_at: datetime | None) -> datetime:
        if seen_at is None:
            return self.started_at
        if not isinstance(seen_at, datetime):
            raise WarehouseError(f"seen_at must be a datetime, not {type(seen_at).__name__}")
        return _as_utc(seen_at)

    def _write(
        self,
        info: _Table,
        records: Records,
        seen_at: datetime,
        batch_size: int,
        window: tuple[str, Any, Any] | None,
    ) -> int:
        if batch_size < 1:
            raise WarehouseError(f"batch_size must be >= 1, not {batch_size}")
        written = offset = 0
        for batch in _batches(records, batch_size):
            arrow = _to_arrow(info, batch, offset)
            offset += arrow.num_rows
            if arrow.num_rows:
                written += self._insert(info, arrow, seen_at, window)
        return written

    def _insert(
        self,
        info: _Table,
        arrow: pa.Table,
        seen_at: datetime,
        window: tuple[str, Any, Any] | None,
    ) -> int:
        con = self._connection()
        staged = arrow.append_column(_ORD, pa.array(range(arrow.num_rows), pa.int64()))
        con.register(_BATCH, staged)
        try:
            if window is not None:
                self._check_window(info, window)
            sql, params = _upsert_sql(info, arrow.column_names, seen_at)
            row = con.execute(sql, params).fetchone()
            return int(row[0]) if row else 0
        except (duckdb.ConversionException, duckdb.OutOfRangeException,
                duckdb.InvalidInputException) as exc:
            raise _conversion_error(info, arrow, exc) from exc
        except duckdb.Error as exc:
            raise _translate(exc, f"upsert into {info.name}") from exc
        finally:
            with suppress(duckdb.Error):
                con.unregister(_BATCH)

    def _check_window(self, info: _Table, window: tuple[str, Any, Any]) -> None:
        name, lo, hi = window
        col, typ = _ident(name), info.columns[name].type
        row = self._connection().execute(
            f"SELECT count(*), min(v)::VARCHAR, max(v)::VARCHAR FROM "
            f"(SELECT CAST(b.{col} AS {typ}) AS v FROM {_BATCH} AS b) "
            f"WHERE NOT (v >= CAST(? AS {typ}) AND v < CAST(? AS {typ}))",
            [lo, hi],
        ).fetchone()
        if row and row[0]:
            raise WarehouseError(
                f"replace_range on {info.name}: {row[0]} record(s) fall outside "
                f"{lo} <= {name} < {hi} (from {row[1]} to {row[2]})",
                table=info.name,
            )


def _upsert_sql(info: _Table, names: list[str], seen_at: datetime) -> tuple[str, list[Any]]:
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

