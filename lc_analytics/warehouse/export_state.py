"""What the last complete export to each destination holds (`export_state`), read and replaced.

>>> held = exported_partitions(wh, "s3://lake/lc", "20261129T050000Z-1a2b")  # doctest: +SKIP
>>> held[("r2_storage_daily", "year=2026/month=6")]["fingerprint"]          # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import Warehouse

Held = dict[tuple[str, str], dict[str, Any]]


def exported_partitions(wh: Warehouse, destination: str, snapshot_id: str | None,
                        *, any_snapshot: bool = False) -> Held:
    """(table, partition_key) -> {rows, fingerprint, path, snapshot_id} of the export to
    `destination` that wrote `snapshot_id` (the destination's current manifest); empty when
    the warehouse did not record that snapshot (first export, another warehouse's, or a lost
    state). `any_snapshot`: every partition recorded, whatever its snapshot (Iceberg: one
    snapshot per table, checked by the caller)."""
    if snapshot_id is None and not any_snapshot:
        return {}
    df = wh.query("SELECT table_name, partition_key, rows, fingerprint, path, snapshot_id "
                  "FROM export_state WHERE destination = ? AND (? OR snapshot_id = ?)",
                  [destination, any_snapshot, snapshot_id or ""])
    return {(r.table_name, r.partition_key): {"rows": int(r.rows), "fingerprint": r.fingerprint,
                                              "path": r.path, "snapshot_id": r.snapshot_id}
            for r in df.itertuples()}


def record_export(wh: Warehouse, destination: str, snapshot_id: str, schema_version: int,
                  exported_at: datetime, partitions: Iterable[Mapping[str, Any]],
                  tables: Iterable[str] | None = None) -> None:
    """Replace what `destination` holds (of `tables`, default all) with `partitions` (dicts
    with table_name, partition_key, rows, fingerprint, path, and optionally their own
    snapshot_id), in one transaction."""
    rows = [{"destination": destination, "snapshot_id": snapshot_id,
             "schema_version": schema_version, "exported_at": exported_at, **p}
            for p in partitions]
    with wh.transaction() as tx:
        if tables is None:
            tx.execute("DELETE FROM export_state WHERE destination = ?", [destination])
        else:
            tx.execute("DELETE FROM export_state WHERE destination = ? AND "
                       "list_contains(?, table_name)", [destination, sorted(tables)])
        if rows:
            tx.upsert("export_state", rows)
