"""The warehouse as Hive-partitioned Parquet, exported incrementally, swapped in by manifest.

A recipe of short steps:

1. read the destination's manifest and what the warehouse recorded of that snapshot
   (`export_state`);
2. on one read-only connection (one consistent state of the warehouse), fingerprint every
   partition of the chosen tables (`warehouse.partitions`) and write a new file for each
   partition whose fingerprint differs from the recorded one (or that the manifest lacks);
3. when anything changed, write the new `_manifest.json` in one atomic step: until then
   readers see the previous snapshot whole; then record it in `export_state` and delete the
   files no snapshot refers to any more (also those of an export killed before its swap).

An unchanged warehouse writes nothing. A migration that changes a table's columns changes
its fingerprints, so the table is rewritten and the manifest carries the new schema version.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import UsageError
from ..settings import Settings
from ..warehouse import Warehouse
from ..warehouse.export_state import exported_partitions, record_export
from ..warehouse.partitions import (
    Partition,
    TableShape,
    export_tables,
    partition_rows,
    partitions,
    schema_version,
)
from .destination import Destination
from .manifest import FORMAT, FORMAT_VERSION, load_manifest, manifest_paths


@dataclass
class ExportResult:
    """What one export did: the snapshot it made (None if nothing changed) and its files."""

    destination: str
    snapshot_id: str | None
    schema_version: int
    written: list[str] = field(default_factory=list)   # partitions rewritten: 'table/key'
    kept: int = 0                                       # partitions left as they were
    deleted: list[str] = field(default_factory=list)   # files no snapshot refers to any more
    rows: dict[str, int] = field(default_factory=dict)  # rows per table in the snapshot
    bytes_written: int = 0  # Parquet: bytes of the files; Iceberg: Arrow bytes of the rows
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for people."""
        if self.snapshot_id is None:
            return f"{self.destination}: up to date, nothing written ({self.kept} partitions)"
        return (f"{self.destination}: snapshot {self.snapshot_id}, {len(self.written)} "
                f"partitions written ({self.bytes_written:,} bytes), {self.kept} kept, "
                f"{len(self.deleted)} old files deleted, {sum(self.rows.values()):,} rows in "
                f"{len(self.rows)} tables, {self.seconds:.1f} s")


def export_parquet(wh: Warehouse, to: str, tables: list[str] | None = None,
                   settings: Settings | None = None) -> ExportResult:
    """Export the warehouse (or `tables` of it) to `to` as Hive-partitioned Parquet, writing
    only the partitions changed since the last export there.

    >>> wh = Warehouse("data/lc_analytics.duckdb")                    # doctest: +SKIP
    >>> export_parquet(wh, "s3://lake/lc").summary()                  # doctest: +SKIP
    's3://lake/lc: snapshot 20261129T050000Z-1a2b3c4d, 58 partitions written ...'
    """
    started = time.monotonic()
    if wh.read_only:
        raise UsageError(f"the export records what it wrote in the warehouse: open {wh.path} "
                         "read-write")
    dest = Destination.open(to, settings)
    old = load_manifest(dest)
    held = exported_partitions(wh, dest.url, old["snapshot_id"] if old else None)
    old_files = manifest_paths(old) if old else set()
    now = datetime.now(UTC)
    snapshot_id = f"{now:%Y%m%dT%H%M%S}Z-{uuid.uuid4().hex[:8]}"
    new_tables: dict[str, Any] = dict(old["tables"]) if old and tables else {}
    with wh.connect(read_only=True) as con:
        result = ExportResult(dest.url, snapshot_id, schema_version(con))
        for shape in _chosen(export_tables(con), tables):
            entry = _table_entry(shape)
            for part in partitions(con, shape):
                prev = held.get((shape.name, part.key))
                if prev and prev["fingerprint"] == part.fingerprint and prev["path"] in old_files:
                    entry["partitions"][part.key] = _old_partition(old, shape.name, part.key)
                    result.kept += 1
                    continue
                entry["partitions"][part.key] = _write_partition(
                    dest, shape, part, partition_rows(con, shape, part), snapshot_id)
                result.written.append(f"{shape.name}/{part.key}".rstrip("/"))
                result.bytes_written += entry["partitions"][part.key]["bytes"]
            entry["rows"] = sum(p["rows"] for p in entry["partitions"].values())
            new_tables[shape.name] = entry
    result.rows = {name: t["rows"] for name, t in sorted(new_tables.items())}
    if old and not result.written and set(new_tables) == set(old["tables"]) \
            and old.get("schema_version") == result.schema_version \
            and manifest_paths({"tables": new_tables}) == old_files:
        result.snapshot_id = None
    else:
        _swap_in(wh, dest, old, new_tables, result, now)
    result.deleted = _collect_garbage(dest, new_tables, old)
    result.seconds = time.monotonic() - started
    return result


def _chosen(shapes: list[TableShape], tables: list[str] | None) -> list[TableShape]:
    if not tables:
        return shapes
    known = {s.name for s in shapes}
    unknown = [t for t in tables if t not in known]
    if unknown:
        raise UsageError(f"--tables: no table {', '.join(map(repr, unknown))} in the warehouse "
                         f"(tables: {', '.join(sorted(known))})")
    return [s for s in shapes if s.name in set(tables)]


def _table_entry(shape: TableShape) -> dict[str, Any]:
    return {"partitioned_by": ["year", "month"] if shape.by_month else [],
            "key": list(shape.key), "columns": [list(c) for c in shape.columns],
            "rows": 0, "partitions": {}}


def _old_partition(old: dict[str, Any] | None, table: str, key: str) -> dict[str, Any]:
    assert old is not None
    return dict(old["tables"][table]["partitions"][key])


def _write_partition(dest: Destination, shape: TableShape, part: Partition, rows: pa.Table,
                     snapshot_id: str) -> dict[str, Any]:
    """Write one partition's file under a name of this snapshot; its manifest entry."""
    sink = pa.BufferOutputStream()
    pq.write_table(rows, sink, compression="zstd")
    data = sink.getvalue().to_pybytes()
    folder = f"{shape.name}/{part.key}".rstrip("/")
    path = f"{folder}/part-{snapshot_id}.parquet"
    dest.write(path, data)
    return {"path": path, "rows": part.rows, "fingerprint": part.fingerprint,
            "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def _swap_in(wh: Warehouse, dest: Destination, old: dict[str, Any] | None,
             tables: dict[str, Any], result: ExportResult, now: datetime) -> None:
    """Make the new snapshot current (one atomic manifest write), then record it."""
    snapshot_id, version = str(result.snapshot_id), result.schema_version
    dest.replace_json("_manifest.json", {
        "format": FORMAT, "format_version": FORMAT_VERSION, "schema_version": version,
        "snapshot_id": snapshot_id, "previous_snapshot_id": old["snapshot_id"] if old else None,
        "exported_at": now.isoformat(), "tables": tables})
    record_export(wh, dest.url, snapshot_id, version, now, [
        {"table_name": name, "partition_key": key, "rows": p["rows"],
         "fingerprint": p["fingerprint"], "path": p["path"]}
        for name, t in tables.items() for key, p in t["partitions"].items()])


def _collect_garbage(dest: Destination, tables: dict[str, Any],
                     old: dict[str, Any] | None) -> list[str]:
    """Delete the Parquet files under the exported tables' folders that the current snapshot
    does not list (superseded partitions, leftovers of an interrupted export)."""
    keep = manifest_paths({"tables": tables})
    names = set(tables) | (set(old["tables"]) if old else set())
    gone = [f for name in sorted(names) for f in dest.files(name)
            if f.rsplit("/", 1)[-1].startswith("part-") and f.endswith(".parquet")
            and f not in keep]
    for f in gone:
        dest.delete(f)
    return gone
