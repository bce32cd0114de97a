"""The read model on Spark: an exported Parquet snapshot in the shape of a read-only warehouse.

`SparkWarehouse` registers each table of the snapshot (from its `_manifest.json`) as a Spark
view and answers `query(sql, params)` by transpiling the read model's DuckDB SQL to Spark SQL
(`dialect.to_dialect`, sqlglot). The rows come back as Arrow and pass through DuckDB's own
pandas conversion, so the read model's pandas steps see exactly the types they see on the
warehouse. Everything built on the read model then runs on Spark unchanged:
`costs.usage.warehouse_usage`, the allocation and the FOCUS rows.

Why SQL transpiled by sqlglot rather than ibis: the read model already is SQL, one query per
figure, tested against the sandbox's ground truth; transpiling keeps that one definition
(rewriting it as ibis expressions would make a second one to keep equal), and sqlglot is a
small pure-Python dependency.

>>> from pyspark.sql import SparkSession                             # doctest: +SKIP
>>> spark = SparkSession.builder.master("local[1]").getOrCreate()    # doctest: +SKIP
>>> mu = warehouse_usage(SparkWarehouse(spark, "/tmp/lake"), "2026-06")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from ..errors import UsageError, WarehouseError
from ..warehouse import Warehouse
from .destination import Destination
from .dialect import tables_read, to_dialect
from .manifest import load_manifest, snapshot_files

#: Spark settings for a small local session (tests, one machine): no UI, few shuffles, UTC
LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "1",
    "spark.default.parallelism": "1",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
    # small data: planning and code generation cost more than they save
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.codegen.wholeStage": "false",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC -XX:+UseSerialGC "
                                     "-XX:TieredStopAtLevel=1",
}

_SPARK_TYPES = {"VARCHAR": "STRING", "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
                "TIMESTAMP": "TIMESTAMP_NTZ", "HUGEINT": "DECIMAL(38,0)"}


def local_spark(app: str = "lc-analytics") -> Any:
    """A local Spark session on one core with `LOCAL_CONF` (pyspark must be installed)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master("local[1]").appName(app)
    for key, value in LOCAL_CONF.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


class SparkWarehouse(Warehouse):
    """A Parquet export (a local folder) read on Spark, usable wherever the read model takes
    a read-only `Warehouse` (only `query` and what is built on it: no DuckDB connection)."""

    def __init__(self, spark: Any, to: str) -> None:
        dest = Destination.open(to)
        if not dest.local:
            raise UsageError("SparkWarehouse reads a local export; for R2 point Spark at the "
                             "Iceberg tables (README: Scaling out)")
        manifest = load_manifest(dest)
        if manifest is None:
            raise UsageError(f"no export at {to} (no _manifest.json)")
        self.spark = spark
        self.path = Path(dest.root)
        self.read_only = True
        self.lock_timeout = 0.0
        self.applied_migrations = []
        self.manifest = manifest
        self._results: dict[str, pa.Table] = {}
        self._columns = {name: [c for c, _ in t["columns"]]
                         for name, t in manifest["tables"].items()}
        self._to = to
        self._views: set[str] = set()  # registered on first use: each costs a file listing

    def __repr__(self) -> str:
        return f"SparkWarehouse({str(self.path)!r}, snapshot {self.manifest['snapshot_id']})"

    def _register(self, sql: str) -> None:
        """Register the snapshot's tables `sql` reads as Spark views, once each."""
        for name in tables_read(sql):
            if name in self._views or name not in self.manifest["tables"]:
                continue
            self._view(name, self.manifest["tables"][name])
            self._views.add(name)

    def _view(self, name: str, table: dict[str, Any]) -> None:
        files = snapshot_files(self._to, name)
        ddl = ", ".join(f"`{c}` {_SPARK_TYPES.get(t, t)}" for c, t in table["columns"])
        if files:  # the schema from the manifest: no job to infer it from the files
            df = self.spark.read.schema(ddl).parquet(*files)
        else:
            df = self.spark.createDataFrame([], ddl)
        df.createOrReplaceTempView(name)

    def query(self, sql: str, params: Iterable[Any] | Mapping[str, Any] | None = None,
              ) -> pd.DataFrame:
        """Run one read-model query (DuckDB SQL) on Spark; pandas as `Warehouse.query` gives.

        >>> sw = SparkWarehouse(spark, "/tmp/lake")                    # doctest: +SKIP
        >>> sw.query("SELECT ? AS day", [date(2026, 6, 1)])          # doctest: +SKIP
        """
        spark_sql = to_dialect(sql, params, "spark", columns=self._columns.__getitem__)
        if spark_sql not in self._results:  # a snapshot never changes: each query runs once
            self._register(sql)
            self._results[spark_sql] = self.spark.sql(spark_sql).toArrow()
        arrow = self._results[spark_sql]
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            return con.from_arrow(_utc_timestamps(arrow)).df()
        finally:
            con.close()

    @contextmanager
    def connect(self, read_only: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """Not available: a SparkWarehouse answers `query` only."""
        raise WarehouseError(f"{self!r} has no DuckDB connection; read it through query()")
        yield  # pragma: no cover


def _utc_timestamps(table: pa.Table) -> pa.Table:
    """Spark's TIMESTAMP (an instant) as Arrow timestamps in UTC, as DuckDB's TIMESTAMPTZ."""
    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type) and f.type.tz is not None and f.type.tz != "UTC":
            table = table.set_column(i, f.name, table.column(i).cast(pa.timestamp("us", "UTC")))
    return table
