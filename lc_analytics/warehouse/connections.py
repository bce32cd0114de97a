"""DuckDB connections to the warehouse file: short-lived by default (lock retries, who holds
the lock), or one read-only connection held for a report run (`hold`)."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from glob import escape as glob_escape
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from ..errors import NotSyncedError, WarehouseError, WarehouseLockedError
from .locks import describe_process, file_holders

log = logging.getLogger("lc_analytics.warehouse.store")
_T = TypeVar("_T")

_LOCK_MARKERS = ("Could not set lock on file", "Conflicting lock")
# DuckDB keeps one database instance per file per process; a second connection with another
# read_only setting is refused with this message instead of a file-lock error.
_SAME_PROCESS_MARKER = "different configuration"
_PID_RE = re.compile(r"PID (\d+)")
_WAIT_LOG_AFTER = 1.0  # seconds of waiting for a lock before saying so
_WAIT_LOG_EVERY = 60.0
_CREATING = ".creating"  # suffix of the temporary file a new warehouse is built in
#: DuckDB's own limits on a held report connection: the kernel's tables live beside it, and
#: DuckDB's default (80% of the machine's memory, every core) would let one report take all.
HOLD_MEMORY_LIMIT = "1GB"
HOLD_THREADS = 2


class Connections:
    """Opens the warehouse file for one block at a time (or reads through one held read-only
    connection, `hold()`); `Warehouse` builds on it."""

    path: Path
    read_only: bool
    lock_timeout: float
    _held: duckdb.DuckDBPyConnection | None = None
    _memo: dict[tuple[Any, ...], Any]  # query results (and derived) while held

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
        held = self._held if read_only else None
        con = self._open(read_only) if held is None else _cursor(held)
        try:
            yield con
        except duckdb.Error as exc:
            raise _translate(exc, f"query on {self.path}") from exc
        finally:
            con.close()

    def hold(self, *, memory_limit: str = HOLD_MEMORY_LIMIT,
             threads: int = HOLD_THREADS) -> None:
        """Read through ONE read-only connection, opened now and kept until `release()`.

        Every `connect(read_only=True)` (so every `query` and read-model call) then gets a
        cursor on it instead of opening the file again: a report run makes hundreds of reads,
        and each open costs a file lock, the catalog and a cold cache. The held connection
        blocks a sync's write like any reader does (the sync waits LC_ANALYTICS_SYNC_WAIT
        seconds), so hold only for a run that ends, and release it. Only a warehouse opened
        read-only can hold (a write connection in the same process would be refused).
        `memory_limit` and `threads` are DuckDB's settings for that connection.

        Example:
            >>> wh.hold(); wh.query("SELECT 1"); wh.release()     # doctest: +SKIP
        """
        if not self.read_only:
            raise WarehouseError(f"{self.path} is open read-write: only a read-only warehouse "
                                 "holds a connection")
        if self._held is not None:
            return
        con = self._open(True)
        try:
            con.execute(f"SET memory_limit = '{memory_limit}'")
            con.execute(f"SET threads = {int(threads)}")
        except duckdb.Error as exc:
            con.close()
            raise _translate(exc, f"configuring {self.path}") from exc
        self._held = con
        self._memo = {}

    def remember(self, key: tuple[Any, ...], compute: Callable[[], _T]) -> _T:
        """`compute()` once per `key` while a connection is held (the file cannot change
        meanwhile), else every time. The caller hands out copies if the result is mutable."""
        if self._held is None:
            return compute()
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def release(self) -> None:
        """Close the connection `hold()` opened (nothing when none is held)."""
        con, self._held = self._held, None
        self._memo = {}
        if con is not None:
            con.close()

    @property
    def held(self) -> bool:
        """Whether reads go through one held connection (`hold()`)."""
        return self._held is not None

    @contextmanager
    def holding(self, **settings: Any) -> Iterator[Connections]:
        """`hold()` for the block, then `release()` (unless it was held already).

        Example:
            >>> with wh.holding():                                 # doctest: +SKIP
            ...     recs = recommend_all(wh)
        """
        already = self.held
        self.hold(**settings)
        try:
            yield self
        finally:
            if not already:
                self.release()

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
            con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.ConnectionException as exc:
            if not (read_only and _SAME_PROCESS_MARKER in str(exc)):
                raise
            # This process already holds the file read-write (e.g. inside a
            # transaction): read through that shared instance instead.
            con = duckdb.connect(str(self.path), read_only=False)
        # DuckDB draws a progress bar on stdout for a query over 2 s: never in a sync's log.
        # (In a Jupyter kernel without ipywidgets DuckDB refuses to touch the setting; it
        # draws no bar there either.)
        with suppress(duckdb.InvalidInputException):
            con.execute("SET enable_progress_bar = false")
        return con

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


def _cursor(held: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A cursor on the held connection, in UTC like every connection (a session setting)."""
    cur = held.cursor()
    cur.execute("SET TimeZone = 'UTC'")
    return cur


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

