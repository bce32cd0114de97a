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


def exported_partitions(wh: Warehouse, destination: str, snapshot_id: str | None) -> Held:
    """(table, partition_key) -> {rows, fingerprint, path} of the export to `destination`
    that wrote `snapshot_id` (the destination's current manifest); empty when the warehouse
    did not record that snapshot (first export, another warehouse's, or a lost state)."""
    if snapshot_id is None:
        return {}
    df = wh.query("SELECT table_name, partition_key, rows, fingerprint, path FROM export_state "
                  "WHERE destination = ? AND snapshot_id = ?", [destination, snapshot_id])
    return {(r.table_name, r.partition_key): {"rows": int(r.rows), "fingerprint": r.fingerprint,
                                              "path": r.path}
            for r in df.itertuples()}


def record_export(wh: Warehouse, destination: str, snapshot_id: str, schema_version: int,
                  exported_at: datetime, partitions: Iterable[Mapping[str, Any]]) -> None:
    """Replace what `destination` holds with `partitions` (dicts with table_name,
    partition_key, rows, fingerprint, path), in one transaction."""
    rows = [dict(p, destination=destination, snapshot_id=snapshot_id,
                 schema_version=schema_version, exported_at=exported_at) for p in partitions]
    with wh.transaction() as tx:
        tx.execute("DELETE FROM export_state WHERE destination = ?", [destination])
        if rows:
            tx.upsert("export_state", rows)
