"""Creating the warehouse atomically and applying its migrations in order."""

from __future__ import annotations

import os

import duckdb

from ..errors import WarehouseError
from .catalog import _now
from .connections import _CREATING, Connections, _remove_abandoned, _rollback, _translate
from .schema import BOOTSTRAP_SQL, MIGRATIONS, SCHEMA_VERSION


class Migrations(Connections):
    """Creates (atomically) and migrates the warehouse file; `Warehouse` builds on it."""

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
