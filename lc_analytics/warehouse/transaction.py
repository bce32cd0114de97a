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
from .upsert_sql import _BATCH, _ORD, _select_exprs, _upsert_sql

if TYPE_CHECKING:
    from .store import Warehouse


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

    def load_range(self, table: str, date_col: str, lo: date, hi: date,
                   records: Records) -> int:
        """Bulk-load `records` into days lo <= date_col < hi that hold no rows yet: a plain
        INSERT (no upsert), for filling an empty warehouse (`sandbox warehouse`). A range that
        holds rows, and duplicate keys, are refused. Returns rows written.

        Example:
            >>> tx.load_range("minutes_viewed_daily", "date", lo, hi, frame)  # doctest: +SKIP
        """
        info = self._table(table)
        if info.inventory or date_col not in info.columns:
            raise WarehouseError(f"load_range on {table}: not an analytics table with a "
                                 f"{date_col} column", table=table)
        col, typ = _ident(date_col), info.columns[date_col].type
        held = self._run(f"SELECT count(*) FROM {_ident(table)} WHERE {col} >= CAST(? AS {typ}) "
                         f"AND {col} < CAST(? AS {typ})", [lo, hi], f"load_range on {table}")
        if held and held[0][0]:
            raise WarehouseError(f"load_range on {table}: {held[0][0]} row(s) already hold "
                                 f"{lo} <= {date_col} < {hi}; use replace_range", table=table)
        batch = records if isinstance(records, pd.DataFrame | pa.Table) else list(records)
        arrow = _to_arrow(info, batch, 0)
        return self._insert(info, arrow, self.started_at, (date_col, lo, hi), plain=True) \
            if arrow.num_rows else 0

    def mark_missing(
        self,
        table: str,
        seen_at: datetime,
        scope: Mapping[str, Any] | None = None,
        keep: tuple[str, list[Any]] | None = None,
    ) -> int:
        """Set missing_since = seen_at on rows not seen since `seen_at`; returns how many.

        Call it after a *complete* listing upserted with the same `seen_at`; `scope`
        limits it to what that listing covered, e.g. {"bucket": "recordings"}. Rows
        already missing keep their original missing_since. With `keep=(column, values)`
        the rows missing are those in scope whose column is not among the values (what an
        apply knows it left, whatever clock stamped the rows).

        Example:
            >>> tx.mark_missing("r2_objects", listing_started, {"bucket": "rec"})  # doctest: +SKIP
            3
        """
        info = self._table(table)
        if not info.inventory:
            raise WarehouseError(f"{table} is not an inventory table", table=table)
        when = self._seen(seen_at)
        where = ["last_seen < ?" if keep is None else
                 f"NOT list_contains(?::VARCHAR[], {_ident(keep[0])})", "missing_since IS NULL"]
        params: list[Any] = [when, when if keep is None else keep[1]]
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

    def touch(self, table: str, key: str, values: list[Any], seen_at: datetime) -> int:
        """Mark rows whose `key` is in `values` as seen at `seen_at` (listed, unchanged).

        For a listing that skips re-reading what it already holds: `mark_missing` with the
        same `seen_at` then spares them. Returns how many rows were touched.

        Example:
            >>> tx.touch("live_inputs", "uid", ["a1", "b2"], listing_started)  # doctest: +SKIP
            2
        """
        info = self._table(table)
        if not info.inventory or key not in info.writable:
            raise WarehouseError(f"{table}: cannot touch by {key!r}", table=table)
        if not values:
            return 0
        result = self._run(
            f"UPDATE {_ident(table)} SET last_seen = GREATEST(last_seen, ?), "
            f"missing_since = NULL WHERE {_ident(key)} IN (SELECT unnest(?))",
            [self._seen(seen_at), list(values)], f"touch on {table}")
        return int(result[0][0]) if result else 0

    def mark_gone_at(self, table: str, column: str, now: datetime) -> int:
        """Set missing_since = `column` on listed rows whose `column` time has passed by `now`.

        For videos: one whose scheduledDeletion passed is deleted from that moment, without
        waiting for a listing that no longer has it. Returns how many rows were marked.

        Example:
            >>> tx.mark_gone_at("videos", "scheduled_deletion", now)   # doctest: +SKIP
            1
        """
        info = self._table(table)
        if not info.inventory or column not in info.writable:
            raise WarehouseError(f"{table}: cannot mark gone by {column!r}", table=table)
        col = _ident(column)
        result = self._run(
            f"UPDATE {_ident(table)} SET missing_since = {col} WHERE missing_since IS NULL "
            f"AND {col} IS NOT NULL AND {col} <= ?", [self._seen(now)],
            f"mark_gone_at on {table}")
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
        plain: bool = False,
    ) -> int:
        con = self._connection()
        staged = arrow.append_column(_ORD, pa.array(range(arrow.num_rows), pa.int64()))
        con.register(_BATCH, staged)
        try:
            if window is not None:
                self._check_window(info, window)
            if plain:  # load_range: an empty range, nothing to replace
                cols = ", ".join(_ident(c) for c in info.columns if c in info.writable)
                row = con.execute(f"INSERT INTO {_ident(info.name)} ({cols}) SELECT "
                                  f"{', '.join(_select_exprs(info, arrow.column_names))} "
                                  f"FROM {_BATCH} AS b").fetchone()
                return int(row[0]) if row else 0
            if info.inventory:
                sql, params = _upsert_sql(info, arrow.column_names, seen_at)
                row = con.execute(sql, params).fetchone()
                return int(row[0]) if row else 0
            return self._replace_keys(info, arrow.column_names)
        except (duckdb.ConversionException, duckdb.OutOfRangeException,
                duckdb.InvalidInputException) as exc:
            raise _conversion_error(info, arrow, exc) from exc
        except duckdb.Error as exc:
            raise _translate(exc, f"upsert into {info.name}") from exc
        finally:
            with suppress(duckdb.Error):
                con.unregister(_BATCH)

    def _replace_keys(self, info: _Table, names: list[str]) -> int:
        """A table without history: delete the batch's keys, insert the batch (last wins).

        Cheaper than INSERT ... ON CONFLICT: the duplicate-key pass (a window over the
        batch) runs only when the batch repeats a key.
        """
        con = self._connection()
        key = ", ".join(_ident(k) for k in info.key)
        on = " AND ".join(f"t.{_ident(k)} = b.{_ident(k)}" for k in info.key)
        columns = ", ".join(_ident(c) for c in info.columns if c in info.writable)
        # the batch as the table's rows: cast, and key columns it leaves out at their default
        rows = f"(SELECT {', '.join(_select_exprs(info, names))}, b.{_ORD} FROM {_BATCH} AS b)"
        repeated = con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {rows} AS b GROUP BY "
                               f"{', '.join('b.' + _ident(k) for k in info.key)} HAVING "
                               "count(*) > 1)").fetchone()
        con.execute(f"DELETE FROM {_ident(info.name)} AS t USING {rows} AS b WHERE {on}")
        source = f"SELECT {columns} FROM {rows} AS b"
        if repeated and repeated[0]:
            source += f" QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {_ORD} DESC) = 1"
        row = con.execute(f"INSERT INTO {_ident(info.name)} ({columns}) {source}").fetchone()
        return int(row[0]) if row else 0

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
