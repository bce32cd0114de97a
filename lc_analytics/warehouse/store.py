"""The DuckDB warehouse: short-lived connections, migrations, bulk upserts and sync bookkeeping.

DuckDB lets one process open a file read-write OR several processes open it read-only, never
both at once. So nothing here keeps a connection open: `Warehouse.query` opens read-only,
reads and closes; `Warehouse.transaction` opens read-write, runs BEGIN ... COMMIT and closes,
so a writer holds the file only for one transaction. Opening retries a lock conflict with
short backoff for up to `lock_timeout` seconds (logging once it has waited a second), then
raises WarehouseLockedError naming the processes that have the file open.

A new warehouse is created atomically: the schema is built in a temporary file in the same
folder, which is then linked into place, so no one ever sees a file without its tables. Only
the constructor creates a file; a read-write open of a warehouse deleted meanwhile is refused
(DuckDB would otherwise silently start an empty one).

Records are plain dicts (any iterable, consumed in batches), a pandas DataFrame or an Arrow
table. Each batch becomes one Arrow table and one `INSERT ... ON CONFLICT DO UPDATE`; DuckDB
casts every value to the column's type (ISO strings become TIMESTAMPTZ, "39.0" a DOUBLE),
naive datetimes are taken as UTC. The table's shape (key, types, defaults, NOT NULL) is read
from the migrated database, never duplicated in Python.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from glob import escape as glob_escape
from os import PathLike
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import NotSyncedError, WarehouseError, WarehouseLockedError
from .locks import describe_process, file_holders
from .schema import BOOTSTRAP_SQL, MIGRATIONS, SCHEMA_VERSION, SEEN_COLUMNS

log = logging.getLogger(__name__)
_T = TypeVar("_T")

Records: TypeAlias = Iterable[Mapping[str, Any]] | pd.DataFrame | pa.Table

FINAL_RUN_STATUSES = ("ok", "failed", "interrupted")

_LOCK_MARKERS = ("Could not set lock on file", "Conflicting lock")
# DuckDB keeps one database instance per file per process; a second connection with another
# read_only setting is refused with this message instead of a file-lock error.
_SAME_PROCESS_MARKER = "different configuration"
_PID_RE = re.compile(r"PID (\d+)")
_WAIT_LOG_AFTER = 1.0  # seconds of waiting for a lock before saying so
_WAIT_LOG_EVERY = 60.0
_CREATING = ".creating"  # suffix of the temporary file a new warehouse is built in
_BATCH = "__lc_batch"
_ORD = "__lc_ord"
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


class Warehouse:
    """A DuckDB warehouse file; every method opens and closes its own connection.

    Example:
        >>> wh = Warehouse("data/warehouse.duckdb")              # creates + migrates
        >>> with wh.transaction() as tx:                          # doctest: +SKIP
        ...     tx.upsert("videos", records)
        ...     tx.set_watermark("stream.videos", date(2026, 6, 30))
        >>> Warehouse("data/warehouse.duckdb", read_only=True).query(
        ...     "SELECT count(*) AS n FROM videos")                 # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        read_only: bool = False,
        lock_timeout: float = 10.0,
    ) -> None:
        """Open (read-write: create and migrate) the warehouse at `path`.

        Read-only opening of a missing file, of a file that is not a warehouse, or of one
        whose schema is behind this code raises WarehouseError saying what to run.
        """
        if str(path) == ":memory:":
            raise WarehouseError("the warehouse must be a file: connections are short-lived")
        self.path = Path(path).expanduser().absolute()
        self.read_only = read_only
        self.lock_timeout = float(lock_timeout)
        #: versions applied by this open (empty when the file was already current)
        self.applied_migrations: list[int] = []
        if read_only:
            self._check_readable()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.applied_migrations = self._migrate()

    @classmethod
    @contextmanager
    def open(
        cls,
        path: str | PathLike[str],
        *,
        read_only: bool = False,
        lock_timeout: float = 10.0,
    ) -> Iterator[Warehouse]:
        """Context-manager form of the constructor (no connection stays open in between).

        Example:
            >>> with Warehouse.open("data/warehouse.duckdb", read_only=True) as wh:
            ...     wh.table_counts()                               # doctest: +SKIP
        """
        yield cls(path, read_only=read_only, lock_timeout=lock_timeout)

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "read-write"
        return f"Warehouse({str(self.path)!r}, {mode})"

    # -- connections -------------------------------------------------------------------

    @contextmanager
    def connect(self, read_only: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """A raw DuckDB connection for the block, closed on exit; retries lock conflicts.

        Raises WarehouseLockedError (naming the file and, when DuckDB says, the holder's
        PID) after `lock_timeout` seconds. DuckDB errors in the block become WarehouseError.

        Example:
            >>> with wh.connect(read_only=True) as con:            # doctest: +SKIP
            ...     con.execute("SELECT 1").fetchall()
        """
        if not read_only and self.read_only:
            raise WarehouseError(f"{self.path} was opened read-only; cannot write")
        con = self._open(read_only)
        try:
            yield con
        except duckdb.Error as exc:
            raise _translate(exc, f"query on {self.path}") from exc
        finally:
            con.close()

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        if read_only and not self.path.exists():
            raise NotSyncedError(
                f"no warehouse at {self.path}: run `lc-analytics sync` first to create it",
                path=str(self.path),
            )
        if not read_only and not self.path.exists():
            raise WarehouseError(
                f"the warehouse {self.path} is gone: it was deleted or moved after it was "
                "opened, so nothing more is written (the next `lc-analytics sync` creates a "
                "new one)",
                path=str(self.path),
            )
        con = self._retry_locked(lambda: self._connect_once(read_only))
        try:
            con.execute("SET TimeZone = 'UTC'")
        except duckdb.Error as exc:
            con.close()
            raise _translate(exc, f"configuring {self.path}") from exc
        return con

    def _retry_locked(self, attempt: Callable[[], _T]) -> _T:
        """`attempt()` until it stops failing on DuckDB's file lock, or `lock_timeout`."""
        started = time.monotonic()
        deadline = started + self.lock_timeout
        delay, next_log = 0.02, started + _WAIT_LOG_AFTER
        while True:
            try:
                return attempt()
            except (duckdb.IOException, duckdb.ConnectionException) as exc:
                if not _is_lock_conflict(exc):
                    raise _translate(exc, f"opening {self.path}") from exc
                now = time.monotonic()
                if now >= deadline:
                    raise self._locked_error(exc) from exc
                if now >= next_log:
                    next_log = now + _WAIT_LOG_EVERY
                    log.warning("waiting for %s to close %s (waited %.0fs of up to %gs; "
                                "DuckDB allows one writer or several readers at a time)",
                                self._holders(exc), self.path, now - started,
                                self.lock_timeout)
                time.sleep(min(delay, deadline - now))
                delay = min(delay * 2, 0.5)

    def _connect_once(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        try:
            return duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.ConnectionException as exc:
            if read_only and _SAME_PROCESS_MARKER in str(exc):
                # This process already holds the file read-write (e.g. inside a
                # transaction): read through that shared instance instead.
                return duckdb.connect(str(self.path), read_only=False)
            raise

    def _holders(self, exc: duckdb.Error) -> str:
        """Who holds the file: every process with it open (/proc), else DuckDB's PID."""
        if isinstance(exc, duckdb.ConnectionException):
            return "another connection in this process"
        holders = file_holders(self.path)
        match = _PID_RE.search(str(exc))
        if not holders and match:
            pid = int(match.group(1))
            holders = [(pid, describe_process(pid) or "?")]
        if not holders:
            return "another process"
        return " and ".join(f"process {pid} ({command})" for pid, command in holders)

    def _locked_error(self, exc: duckdb.Error) -> WarehouseLockedError:
        match = _PID_RE.search(str(exc))
        pid = int(match.group(1)) if match else None
        return WarehouseLockedError(
            f"warehouse {self.path} is locked by {self._holders(exc)}; gave up after "
            f"{self.lock_timeout:g}s. DuckDB allows one writer or several readers at a "
            "time: retry once the sync or notebook holding it has closed its connection "
            "(a sync waits LC_ANALYTICS_SYNC_WAIT seconds for readers)",
            path=str(self.path),
            pid=pid,
        )

    # -- schema --------------------------------------------------------------------------

    def _migrate(self) -> list[int]:
        if not self.path.exists():
            return self._create()
        with self.connect(read_only=False) as con:
            return self._apply_migrations(con)

    def _create(self) -> list[int]:
        """Build the schema in a temporary file beside `path`, then link it into place.

        A kill at any point leaves either no warehouse or a complete one (plus, at worst, a
        temporary file that the next creation removes). If another process created the
        warehouse meanwhile, its file wins and ours is dropped.
        """
        _remove_abandoned(self.path)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}{_CREATING}")
        try:
            try:
                con = duckdb.connect(str(tmp))
            except duckdb.Error as exc:
                raise _translate(exc, f"creating {self.path}") from exc
            try:
                con.execute("SET TimeZone = 'UTC'")
                applied = self._apply_migrations(con)
                con.execute("CHECKPOINT")
            finally:
                con.close()
            try:
                os.link(tmp, self.path)  # atomic, and never replaces an existing file
            except FileExistsError:
                applied = []
            except OSError:  # a file system without hard links
                if self.path.exists():
                    applied = []
                else:
                    os.replace(tmp, self.path)
        finally:
            for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
                leftover.unlink(missing_ok=True)
        return applied

    def _apply_migrations(self, con: duckdb.DuckDBPyConnection) -> list[int]:
        applied: list[int] = []
        con.execute(BOOTSTRAP_SQL)
        current = self._version_of(con)
        for migration in MIGRATIONS:
            if migration.version <= current:
                continue
            try:
                con.execute("BEGIN TRANSACTION")
                con.execute(migration.sql)
                con.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    [migration.version, migration.description, _now()],
                )
                con.execute("COMMIT")
            except duckdb.Error as exc:
                _rollback(con)
                raise WarehouseError(
                    f"migration {migration.version} ({migration.description}) failed "
                    f"on {self.path}: {exc}",
                    version=migration.version,
                ) from exc
            applied.append(migration.version)
        return applied

    def _check_readable(self) -> None:
        with self.connect(read_only=True) as con:
            found = con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()"
                " AND schema_name = 'main' AND table_name = 'schema_migrations'"
            ).fetchone()
            if not found or not found[0]:
                raise WarehouseError(
                    f"{self.path} is not an lc-analytics warehouse (no schema_migrations)",
                    path=str(self.path),
                )
            current = self._version_of(con)
        if current < SCHEMA_VERSION:
            raise WarehouseError(
                f"warehouse {self.path} is at schema v{current}, this lc-analytics needs "
                f"v{SCHEMA_VERSION}: run `lc-analytics sync` first (it migrates)",
                path=str(self.path),
            )

    def _version_of(self, con: duckdb.DuckDBPyConnection) -> int:
        row = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
        current = int(row[0]) if row else 0
        if current > SCHEMA_VERSION:
            raise WarehouseError(
                f"warehouse {self.path} is at schema v{current}, newer than this "
                f"lc-analytics (v{SCHEMA_VERSION}): upgrade lc-analytics",
                path=str(self.path),
            )
        return current

    def schema_version(self) -> int:
        """The highest migration applied to the file.

        Example:
            >>> wh.schema_version()                                 # doctest: +SKIP
            1
        """
        with self.connect(read_only=True) as con:
            return self._version_of(con)

    # -- reading -------------------------------------------------------------------------

    def query(self, sql: str, params: Iterable[Any] | Mapping[str, Any] | None = None,
              ) -> pd.DataFrame:
        """Run one read query on a read-only connection that is closed before returning.

        Example:
            >>> wh.query("SELECT state, count(*) AS n FROM videos GROUP BY state")  # doctest: +SKIP
        """
        with self.connect(read_only=True) as con:
            return con.execute(sql, _params(params)).df()

    def get_watermark(self, source: str) -> date | None:
        """The watermark committed for `source`, or None if it never synced.

        Example:
            >>> wh.get_watermark("stream.minutes_viewed")           # doctest: +SKIP
            datetime.date(2026, 6, 28)
        """
        state = self.get_state(source)
        return state["watermark"] if state else None

    def get_state(self, source: str) -> dict[str, Any] | None:
        """`sync_state` of `source` as {watermark, updated_at, details}, or None."""
        with self.connect(read_only=True) as con:
            row = con.execute(
                "SELECT watermark, updated_at, details_json FROM sync_state WHERE source = ?",
                [source],
            ).fetchone()
        if row is None:
            return None
        details = json.loads(row[2]) if row[2] is not None else None
        return {"watermark": row[0], "updated_at": row[1], "details": details}

    def coverage(self) -> pd.DataFrame:
        """Per daily source, the days committed whole: source, first_day, last_day, days.

        A day is covered once the window holding it was committed after the day had ended;
        re-fetching it later replaces its rows but never uncovers it, so `last_day` never
        moves backwards (the "as of" every report and recommendation starts from).

        Example:
            >>> wh.coverage()                                       # doctest: +SKIP
                      source   first_day    last_day  days
            0  minutes_viewed  2026-04-02  2026-06-30    90
        """
        df = self.query("SELECT source, min(day) AS first_day, max(day) AS last_day, "
                        "count(*) AS days FROM coverage GROUP BY source ORDER BY source")
        for col in ("first_day", "last_day"):
            df[col] = pd.to_datetime(df[col]).dt.date
        return df

    def snapshot(self, dest: str | PathLike[str]) -> Warehouse:
        """Copy the warehouse as it is now to `dest` and return the copy, opened read-only.

        The copy is read under a read-only lock (like any query: a sync waits a moment) and
        is then a file of its own, so a connection to it may stay open as long as you like
        (`duckdb.connect(str(snap.path), read_only=True)`) without ever blocking a sync.
        The copy is built beside `dest` and moved into place, replacing an older snapshot
        only once complete.

        Example:
            >>> snap = Warehouse("data/lc_analytics.duckdb", read_only=True).snapshot(
            ...     "data/snapshot.duckdb")                         # doctest: +SKIP
            >>> con = duckdb.connect(str(snap.path), read_only=True)   # doctest: +SKIP
        """
        target = Path(dest).expanduser().absolute()
        if target == self.path:
            raise WarehouseError(f"a snapshot of {self.path} cannot replace the warehouse itself")
        if not self.path.exists():
            raise WarehouseError(f"no warehouse at {self.path}: run `lc-analytics sync` first",
                                 path=str(self.path))
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}{_CREATING}")
        con = duckdb.connect()
        try:
            self._retry_locked(lambda: con.execute(
                f"ATTACH {_literal(str(self.path))} AS lc_src (READ_ONLY)"))
            con.execute(f"ATTACH {_literal(str(tmp))} AS lc_snap")
            con.execute("COPY FROM DATABASE lc_src TO lc_snap")
            con.execute("DETACH lc_snap")
            con.execute("DETACH lc_src")
            con.close()
            os.replace(tmp, target)
        except duckdb.Error as exc:
            raise _translate(exc, f"snapshot of {self.path} to {target}") from exc
        finally:
            con.close()
            for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
                leftover.unlink(missing_ok=True)
        return Warehouse(target, read_only=True, lock_timeout=self.lock_timeout)

    def account_id(self) -> str | None:
        """The Cloudflare account this warehouse holds (recorded by the first sync)."""
        held = self.query("SELECT account_id FROM accounts")
        return None if held.empty else str(held["account_id"].iloc[0])

    def table_counts(self) -> dict[str, int]:
        """Rows per warehouse table (missing inventory rows included), by table name.

        Example:
            >>> wh.table_counts()["videos"]                         # doctest: +SKIP
            412
        """
        with self.connect(read_only=True) as con:
            names = [r[0] for r in con.execute(_TABLES_SQL).fetchall()]
            if not names:
                return {}
            sql = " UNION ALL ".join(
                f"SELECT {_literal(n)}, count(*) FROM {_ident(n)}" for n in names
            )
            counts = dict(con.execute(sql).fetchall())
        return {n: int(counts[n]) for n in names}

    # -- writing -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Open read-write, BEGIN, yield a Transaction, COMMIT and close.

        On any error the transaction is rolled back; DuckDB errors are re-raised as
        WarehouseError, anything else (an ApiError from the records' source, Ctrl-C)
        unchanged. The write lock is held only for the block.

        Example:
            >>> with wh.transaction() as tx:                        # doctest: +SKIP
            ...     tx.replace_range("r2_storage_daily", "date", lo, hi, rows)
            ...     tx.set_watermark("r2.storage", hi - timedelta(days=1))
        """
        with self.connect(read_only=False) as con:
            tx = Transaction(self, con)
            try:
                con.execute("BEGIN TRANSACTION")
                yield tx
                con.execute("COMMIT")
            except BaseException as exc:
                _rollback(con)
                if isinstance(exc, duckdb.Error):
                    raise _translate(exc, f"transaction on {self.path}") from exc
                raise
            finally:
                tx._con = None

    def start_run(self, sources: Iterable[str] | str) -> str:
        """Record a sync run as 'running' and return its run_id.

        Call it under `sync_lock`: any run still 'running' at this point belongs to a
        process that died, so it is marked 'interrupted' first.

        Example:
            >>> run_id = wh.start_run(["stream", "r2"])             # doctest: +SKIP
        """
        names = [sources] if isinstance(sources, str) else list(sources)
        started = _now()
        run_id = f"{started:%Y%m%dT%H%M%S}Z-{uuid.uuid4().hex[:8]}"
        with self.transaction() as tx:
            tx.execute(
                "UPDATE sync_runs SET status = 'interrupted', finished_at = ?, "
                "duration_seconds = epoch(?::TIMESTAMPTZ) - epoch(started_at), "
                "error = coalesce(error, 'the process ended before the run finished') "
                "WHERE status = 'running'",
                [started, started],
            )
            tx.execute(
                "INSERT INTO sync_runs (run_id, started_at, status, sources) "
                "VALUES (?, ?, 'running', ?)",
                [run_id, started, ",".join(names)],
            )
        return run_id

    def finish_run(
        self,
        run_id: str,
        status: str,
        rows: Mapping[str, int] | None = None,
        requests: int = 0,
        retries: int = 0,
        listing_calls: int = 0,
        error: str | None = None,
    ) -> None:
        """Close a run: status 'ok' | 'failed' | 'interrupted', rows per table, counters.

        Example:
            >>> wh.finish_run(run_id, "ok", rows={"videos": 412}, requests=37)  # doctest: +SKIP
        """
        if status not in FINAL_RUN_STATUSES:
            raise WarehouseError(
                f"run status must be one of {', '.join(FINAL_RUN_STATUSES)}, not {status!r}"
            )
        finished = _now()
        rows_json = json.dumps(dict(rows or {}), sort_keys=True)
        with self.transaction() as tx:
            result = tx.execute(
                "UPDATE sync_runs SET finished_at = ?, status = ?, rows_json = ?, requests = ?, "
                "retries = ?, listing_calls = ?, error = ?, "
                "duration_seconds = epoch(?::TIMESTAMPTZ) - epoch(started_at) "
                "WHERE run_id = ?",
                [finished, status, rows_json, requests, retries, listing_calls, error,
                 finished, run_id],
            )
            if not result or not result[0][0]:
                raise WarehouseError(f"unknown sync run {run_id!r}", run_id=run_id)


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
    ) -> int:
        """Delete rows with lo <= date_col < hi, then insert `records`; returns rows inserted.

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
        self._run(
            f"DELETE FROM {_ident(table)} WHERE {col} >= CAST(? AS {typ}) "
            f"AND {col} < CAST(? AS {typ})",
            [lo, hi],
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


# -- records → Arrow -----------------------------------------------------------------------

def _batches(records: Records, size: int) -> Iterator[pd.DataFrame | pa.Table | list[Any]]:
    if isinstance(records, pd.DataFrame):
        for start in range(0, len(records), size):
            yield records.iloc[start:start + size]
    elif isinstance(records, pa.Table):
        for start in range(0, records.num_rows, size):
            yield records.slice(start, size)
    elif isinstance(records, Mapping | str | bytes):
        raise WarehouseError(
            f"records must be an iterable of dicts, a DataFrame or an Arrow table, "
            f"not a single {type(records).__name__}"
        )
    else:
        iterator = iter(records)
        while chunk := list(itertools.islice(iterator, size)):
            yield chunk


def _to_arrow(info: _Table, batch: pd.DataFrame | pa.Table | list[Any], offset: int) -> pa.Table:
    if isinstance(batch, pd.DataFrame):
        names = [str(c) for c in batch.columns]
        _check_columns(info, names, "DataFrame columns")
        arrays = [_arrow_column(batch.iloc[:, i]) for i in range(len(names))]
    elif isinstance(batch, pa.Table):
        names = batch.column_names
        _check_columns(info, names, "Arrow table columns")
        arrays = [_arrow_column(batch.column(i).to_pylist()) if pa.types.is_nested(t)
                  else batch.column(i) for i, t in enumerate(batch.schema.types)]
    else:
        names = _record_columns(info, batch, offset)
        arrays = [_arrow_column([r.get(n) for r in batch]) for n in names]
    table = pa.table(arrays, names=names)
    _check_not_null(info, table, offset)
    return table


def _record_columns(info: _Table, batch: list[Any], offset: int) -> list[str]:
    """Validate every record's keys (each distinct key set once); return the union."""
    present: set[str] = set()
    last: set[str] | None = None
    for i, record in enumerate(batch):
        if not isinstance(record, Mapping):
            raise WarehouseError(
                f"{info.name}: record {offset + i} is a {type(record).__name__}, not a dict",
                table=info.name,
            )
        keys = record.keys()
        if last is not None and keys == last:
            continue
        _check_columns(info, keys, f"record {offset + i}")
        last = set(keys)
        present |= last
    return [c for c in info.columns if c in present]


def _check_columns(info: _Table, names: Iterable[Any], where: str) -> None:
    names = list(names)
    unknown = [n for n in names if n not in info.writable]
    if unknown:
        managed = [n for n in unknown if n in info.columns]
        if managed:
            what = f"column(s) {_names(managed)} are set by the warehouse; leave them out"
        else:
            what = (f"unknown column(s) {_names(unknown)}; "
                    f"the table has {', '.join(sorted(info.writable))}")
        raise WarehouseError(f"{info.name}: {what} ({where})", table=info.name, columns=unknown)
    missing = [c for c in info.required if c not in names]
    if missing:
        raise WarehouseError(
            f"{info.name}: missing column(s) {_names(missing)} ({where}); every column "
            "without a default is required: pass None where a value is unknown",
            table=info.name,
            columns=missing,
        )


def _arrow_column(values: pd.Series | list[Any]) -> pa.Array | pa.ChunkedArray:
    """One column as Arrow; values Arrow cannot type together are passed as text for DuckDB."""
    try:
        array = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        array = None
    if array is None or pa.types.is_nested(array.type):
        items = values.tolist() if isinstance(values, pd.Series) else values
        array = pa.array([_text(v) for v in items], type=pa.string())
    return array


def _text(value: Any) -> str | None:
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, Decimal | int | float):
        return str(value)
    return str(value)


def _check_not_null(info: _Table, table: pa.Table, offset: int) -> None:
    for name in table.column_names:
        column = info.columns[name]
        if column.nullable or column.default is not None:
            continue
        values = table.column(name)
        if values.null_count:
            index = pc.index(pc.is_null(values), True).as_py()
            key = {k: table.column(k)[index].as_py() for k in info.key if k in table.column_names}
            raise WarehouseError(
                f"{info.name}.{name} is NOT NULL but {values.null_count} record(s) have no "
                f"value (first: record {offset + index}, key {key})",
                table=info.name,
                column=name,
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


def _conversion_error(info: _Table, arrow: pa.Table, exc: duckdb.Error) -> WarehouseError:
    """Find which column DuckDB could not cast (in a scratch database) and name it."""
    scratch = duckdb.connect(":memory:")
    try:
        scratch.execute("SET TimeZone = 'UTC'")
        scratch.register("b", arrow)
        for name in arrow.column_names:
            col, typ = _ident(name), info.columns[name].type
            row = scratch.execute(
                f"SELECT {col}::VARCHAR FROM b WHERE {col} IS NOT NULL "
                f"AND TRY_CAST({col} AS {typ}) IS NULL LIMIT 1"
            ).fetchone()
            if row:
                return WarehouseError(
                    f"{info.name}.{name}: cannot store {row[0]!r} as {typ}",
                    table=info.name,
                    column=name,
                    value=row[0],
                )
    except duckdb.Error:
        pass
    finally:
        scratch.close()
    return _translate(exc, f"upsert into {info.name}")


# -- small helpers -------------------------------------------------------------------------

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


def _remove_abandoned(path: Path) -> None:
    """Delete temporary files of creations whose process has died (killed mid-creation)."""
    for tmp in path.parent.glob(f".{glob_escape(path.name)}.*{_CREATING}*"):
        pid_text = tmp.name[len(path.name) + 2:].split(".", 1)[0]
        if pid_text.isdigit() and not _alive(int(pid_text)):
            tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_lock_conflict(exc: duckdb.Error) -> bool:
    text = str(exc)
    if isinstance(exc, duckdb.ConnectionException):
        return _SAME_PROCESS_MARKER in text
    return any(marker in text for marker in _LOCK_MARKERS)


def _translate(exc: duckdb.Error, action: str) -> WarehouseError:
    return WarehouseError(f"{action} failed: {exc}", duckdb_error=type(exc).__name__)


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    # Suppressed: no transaction was active (BEGIN failed) or it is already gone.
    with suppress(duckdb.Error):
        con.execute("ROLLBACK")


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
