"""The DuckDB warehouse: short-lived connections, migrations, bulk upserts and sync bookkeeping.

DuckDB lets one process open a file read-write OR several processes open it read-only, never
both at once. So nothing here keeps a connection open unless asked (`Warehouse.hold()`, one
read-only connection for a report run, released at its end): `Warehouse.query` opens read-only,
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

import json
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from os import PathLike
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ..errors import NotSyncedError, WarehouseError
from .catalog import _TABLES_SQL, _ident, _literal, _now, _params
from .connections import _CREATING, _rollback, _translate
from .migrations import Migrations
from .records import Records
from .transaction import Transaction

__all__ = ["FINAL_RUN_STATUSES", "Records", "Transaction", "Warehouse"]

FINAL_RUN_STATUSES = ("ok", "failed", "interrupted")
MEMO_MAX_CELLS = 10_000_000  # rows x columns of a result kept for a held connection's reuse


class Warehouse(Migrations):
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

    # -- reading -------------------------------------------------------------------------

    def query(self, sql: str, params: Iterable[Any] | Mapping[str, Any] | None = None,
              ) -> pd.DataFrame:
        """Run one read query on a read-only connection that is closed before returning.

        While a connection is held (`hold()`, a report run), the same query with the same
        parameters is answered from memory: nothing can write the file while it is held (a
        reader's lock keeps writers out), so a report that reads the videos in each of its
        recommenders reads them once. Results above `MEMO_MAX_CELLS` are not kept.

        Example:
            >>> wh.query("SELECT state, count(*) AS n FROM videos GROUP BY state")  # doctest: +SKIP
        """
        if not self.held:
            with self.connect(read_only=True) as con:
                return con.execute(sql, _params(params)).df()
        key = (sql, repr(params))
        if key not in self._memo:
            with self.connect(read_only=True) as con:
                df = con.execute(sql, _params(params)).df()
            if df.size > MEMO_MAX_CELLS:
                return df
            self._memo[key] = df
        return self._memo[key].copy(deep=False)  # copy-on-write: the caller's to change

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
            raise NotSyncedError(f"no warehouse at {self.path}: run `lc-analytics sync` first",
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

    def claim_account(self, account_id: str, now: datetime) -> None:
        """Record that this warehouse holds `account_id`, synced at `now` (the first sync's
        time is kept)."""
        with self.transaction() as tx:
            held = tx.query("SELECT first_synced_at FROM accounts")
            first = held["first_synced_at"].iloc[0] if len(held) else now
            tx.upsert("accounts", [{"account_id": account_id, "first_synced_at": first,
                                    "last_synced_at": now}])

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
