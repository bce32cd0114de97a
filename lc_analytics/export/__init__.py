"""The warehouse for other engines: Hive-partitioned Parquet (a folder or R2) or Iceberg
tables, exported incrementally; and the read model run on Spark over those files.

>>> from lc_analytics.export import export_warehouse, snapshot_files
>>> export_warehouse(Warehouse("data/lc_analytics.duckdb"), "/tmp/lake").summary()  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from ..errors import UsageError
from ..settings import Settings
from ..warehouse import Warehouse
from .manifest import load_manifest, snapshot_files
from .parquet import ExportResult, export_parquet

__all__ = ["ExportResult", "export_parquet", "export_warehouse", "load_manifest",
           "snapshot_files"]

FORMATS = ("parquet", "iceberg")


def export_warehouse(wh: Warehouse, to: str, *, format: str = "parquet",
                     tables: list[str] | None = None, settings: Settings | None = None) -> Any:
    """Export `wh` to `to` in `format` ('parquet' or 'iceberg'); only what changed since the
    last export there is written. Returns the format's result (with `.summary()`).

    >>> export_warehouse(wh, "s3://lake/lc", tables=["r2_storage_daily"])  # doctest: +SKIP
    """
    if format == "parquet":
        return export_parquet(wh, to, tables, settings)
    if format == "iceberg":
        from .iceberg import export_iceberg
        return export_iceberg(wh, to, tables, settings)
    raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {format!r}")
