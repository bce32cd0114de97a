"""The warehouse as Iceberg tables through PyIceberg: a REST catalog (R2 Data Catalog) or, for
tests and users without one, a local SQL catalog (sqlite) in a folder.

`--to FOLDER` uses `FOLDER/catalog.db` and writes data under `FOLDER/warehouse`;
`--to rest://NAMESPACE` uses the REST catalog of the settings `ICEBERG_CATALOG_URI`,
`ICEBERG_WAREHOUSE` and `ICEBERG_TOKEN` (R2 Data Catalog: reference 8.4). Tables go in the
namespace `lc_analytics` (or NAMESPACE), named as in the warehouse; the daily facts are
partitioned by month of `date`.

Incremental as the Parquet export: each partition's fingerprint (`warehouse.partitions`) is
compared with `export_state`, recorded per table together with the Iceberg snapshot it made;
the changed months are overwritten (and vanished ones deleted) in ONE transaction per table,
so an interrupted export leaves every table at its previous snapshot or its new one, never
between. A migration's new column is added to the Iceberg schema in the same transaction
(schema evolution); the table's older snapshots keep reading as before.
"""

from __future__ import annotations

import time
import warnings
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..errors import ConfigError, UsageError
from ..settings import Settings
from ..warehouse import Warehouse
from ..warehouse.export_state import exported_partitions, record_export
from ..warehouse.partitions import (
    PARTITION_COLUMN,
    Partition,
    TableShape,
    export_tables,
    partition_rows,
    partitions,
    schema_version,
)
from .parquet import ExportResult

NAMESPACE = "lc_analytics"


def open_catalog(to: str, settings: Settings | None = None) -> tuple[Any, str, str]:
    """(PyIceberg catalog, namespace, destination name) for `--to`: a folder (local SQL
    catalog, created) or `rest://NAMESPACE` (the REST catalog of the settings).

    >>> catalog, ns, _ = open_catalog("/tmp/lake-iceberg")             # doctest: +SKIP
    >>> catalog.load_table((ns, "videos")).scan().to_arrow()           # doctest: +SKIP
    """
    if to.startswith("rest://"):
        return _rest_catalog(to, settings or Settings.from_env())
    if "://" in to:
        raise UsageError(f"--to must be a folder or rest://NAMESPACE for Iceberg, not {to!r}")
    from pyiceberg.catalog.sql import SqlCatalog

    root = Path(to).expanduser().absolute()
    if root.exists() and not root.is_dir():
        raise UsageError(f"--to {to}: exists and is not a folder")
    (root / "warehouse").mkdir(parents=True, exist_ok=True)
    catalog = SqlCatalog("lc_analytics", uri=f"sqlite:///{root / 'catalog.db'}",
                         warehouse=(root / "warehouse").as_uri())
    catalog.create_namespace_if_not_exists(NAMESPACE)
    return catalog, NAMESPACE, f"iceberg:{root.as_posix()}"


def _rest_catalog(to: str, s: Settings) -> tuple[Any, str, str]:
    from pyiceberg.catalog.rest import RestCatalog

    namespace = to[len("rest://"):].strip("/") or NAMESPACE
    missing = [name for name, v in (("ICEBERG_CATALOG_URI", s.iceberg_catalog_uri),
                                    ("ICEBERG_WAREHOUSE", s.iceberg_warehouse),
                                    ("ICEBERG_TOKEN", s.iceberg_token)) if not v]
    if missing:
        raise ConfigError([f"{name} is not set (needed by --to {to})" for name in missing])
    assert s.iceberg_token is not None
    catalog = RestCatalog("r2", uri=str(s.iceberg_catalog_uri),
                          warehouse=str(s.iceberg_warehouse), token=s.iceberg_token.reveal())
    catalog.create_namespace_if_not_exists(namespace)
    return catalog, namespace, f"iceberg:{s.iceberg_catalog_uri}#{s.iceberg_warehouse}/{namespace}"


def export_iceberg(wh: Warehouse, to: str, tables: list[str] | None = None,
                   settings: Settings | None = None) -> ExportResult:
    """Export the warehouse (or `tables`) to Iceberg tables, writing only changed months.

    >>> wh = Warehouse("data/lc_analytics.duckdb")                    # doctest: +SKIP
    >>> export_iceberg(wh, "rest://lc").summary()                     # doctest: +SKIP
    """
    started = time.monotonic()
    if wh.read_only:
        raise UsageError(f"the export records what it wrote in the warehouse: open {wh.path} "
                         "read-write")
    with wh.connect(read_only=True) as con:
        shapes = _chosen(export_tables(con), tables)  # bad --tables: refused before anything
    catalog, namespace, destination = open_catalog(to, settings)
    held = exported_partitions(wh, destination, None, any_snapshot=True)
    result = ExportResult(destination, None, 0)
    done: list[dict[str, Any]] = []
    with wh.connect(read_only=True) as con:
        result.schema_version = schema_version(con)
        shapes = _chosen(export_tables(con), tables)
        for shape in shapes:
            table = _table(catalog, namespace, shape, con)
            parts = partitions(con, shape)
            snapshot = _export_table(con, table, shape, parts, held, result)
            result.rows[shape.name] = sum(p.rows for p in parts)
            done += [{"table_name": shape.name, "partition_key": p.key, "rows": p.rows,
                      "fingerprint": p.fingerprint, "path": shape.name,
                      "snapshot_id": snapshot} for p in parts]
    record_export(wh, destination, "", result.schema_version, datetime.now(UTC), done,
                  tables=[s.name for s in shapes])
    result.snapshot_id = "per table" if result.written else None
    result.seconds = time.monotonic() - started
    return result


def _chosen(shapes: list[TableShape], tables: list[str] | None) -> list[TableShape]:
    from .parquet import _chosen as chosen

    return chosen(shapes, tables)


def _table(catalog: Any, namespace: str, shape: TableShape, con: Any) -> Any:
    """The Iceberg table for `shape`, created (partitioned by month of `date`) if new."""
    from pyiceberg.exceptions import NoSuchTableError
    from pyiceberg.transforms import MonthTransform

    try:
        return catalog.load_table((namespace, shape.name))
    except NoSuchTableError:
        pass
    schema = partition_rows(con, shape, Partition(shape.name, None, None, 0, "")).schema \
        if not shape.by_month else _empty_schema(con, shape)
    table = catalog.create_table((namespace, shape.name), schema=schema)
    if shape.by_month:
        with table.update_spec() as spec:
            spec.add_field(PARTITION_COLUMN, MonthTransform(), f"{PARTITION_COLUMN}_month")
    return table


def _empty_schema(con: Any, shape: TableShape) -> pa.Schema:
    return partition_rows(con, shape, Partition(shape.name, 1, 1, 0, "")).schema


def _snapshot_id(table: Any) -> str:
    snap = table.current_snapshot()
    return "none" if snap is None else str(snap.snapshot_id)


def _export_table(con: Any, table: Any, shape: TableShape, parts: list[Partition],
                  held: dict[tuple[str, str], dict[str, Any]], result: ExportResult) -> str:
    """Overwrite the changed partitions of one table (and delete vanished ones) in one
    Iceberg transaction; the table's snapshot id after it."""
    current = _snapshot_id(table)
    mine = {key: h for (name, key), h in held.items()
            if name == shape.name and h["snapshot_id"] == current}
    changed = [p for p in parts if mine.get(p.key, {}).get("fingerprint") != p.fingerprint]
    gone = sorted(set(mine) - {p.key for p in parts}) if mine else []
    if not changed and not gone and (mine or not parts):
        result.kept += len(parts)
        return current
    whole = not mine  # a new table, or one the warehouse did not record: rewrite it whole
    from pyiceberg.expressions import AlwaysTrue

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Delete operation did not match"
        with table.transaction() as tx:
            _evolve(tx, table, partition_rows(con, shape, parts[0]).schema if parts else None)
            if whole:
                tx.delete(AlwaysTrue())
            for part in changed if not whole else parts:
                rows = partition_rows(con, shape, part)
                tx.overwrite(rows, overwrite_filter=_month_filter(part)) if not whole \
                    else tx.append(rows)
                result.written.append(f"{shape.name}/{part.key}".rstrip("/"))
                result.bytes_written += rows.nbytes
            for key in gone:
                tx.delete(_key_filter(key))
                result.deleted.append(f"{shape.name}/{key}")
    result.kept += len(parts) - len(changed if not whole else parts)
    return _snapshot_id(table.refresh())


def _evolve(tx: Any, table: Any, schema: pa.Schema | None) -> None:
    """Add the columns a migration added (Iceberg schema evolution) in the transaction."""
    if schema is None:
        return
    known = {f.name for f in table.schema().fields}
    if any(name not in known for name in schema.names):
        with tx.update_schema() as update:
            update.union_by_name(schema)


def _month_filter(part: Partition) -> Any:
    """The Iceberg row filter of one partition's month (everything for a whole table)."""
    from pyiceberg.expressions import AlwaysTrue

    if part.year is None or part.month is None:
        return AlwaysTrue()
    first = date(part.year, part.month, 1)
    nxt = date(part.year + part.month // 12, part.month % 12 + 1, 1)
    return f"{PARTITION_COLUMN} >= '{first}' AND {PARTITION_COLUMN} < '{nxt}'"


def _key_filter(key: str) -> Any:
    year, month = (int(v.split("=")[1]) for v in key.split("/"))
    return _month_filter(Partition("", year, month, 0, ""))
