"""`_manifest.json`: the one file that says what a Parquet export's current snapshot holds.

Readers take the table files from the manifest (not from a listing of the folder): files of
an export that was interrupted before its manifest was swapped in are not part of any
snapshot, and the next export deletes them. Shape::

    {"format": "lc-analytics-parquet", "format_version": 1, "schema_version": 8,
     "snapshot_id": "20261129T050000Z-1a2b3c4d", "previous_snapshot_id": null,
     "exported_at": "2026-11-29T05:00:00+00:00",
     "tables": {"r2_storage_daily": {"partitioned_by": ["year", "month"], "key": [...],
         "columns": [["date", "DATE"], ...], "rows": 180,
         "partitions": {"year=2026/month=6": {"path": "r2_storage_daily/year=2026/month=6/
             part-<snapshot>.parquet", "rows": 30, "fingerprint": "...", "sha256": "...",
             "bytes": 2310}}}}}
"""

from __future__ import annotations

from typing import Any

from ..errors import UsageError
from .destination import MANIFEST, Destination

FORMAT = "lc-analytics-parquet"
FORMAT_VERSION = 1


def load_manifest(dest: Destination) -> dict[str, Any] | None:
    """The destination's manifest, None if it has none; a manifest of another format or a
    newer version is refused (a UsageError naming the file)."""
    manifest = dest.read_json(MANIFEST)
    if manifest is None:
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise UsageError(f"{dest.path(MANIFEST)} is not an lc-analytics export manifest; "
                         "choose another --to")
    if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
        raise UsageError(f"{dest.path(MANIFEST)} was written by a newer lc-analytics "
                         f"(format version {manifest['format_version']})")
    return manifest


def manifest_paths(manifest: dict[str, Any]) -> set[str]:
    """Every file the manifest's snapshot is made of, relative to the destination."""
    return {p["path"] for t in manifest["tables"].values() for p in t["partitions"].values()}


def snapshot_files(to: str, table: str, settings: Any = None) -> list[str]:
    """The Parquet files of `table` in the current snapshot at `to` (local paths, or
    s3://bucket/... URLs), for `read_parquet(..., hive_partitioning = true)` or Spark.

    >>> con.sql("SELECT * FROM read_parquet($f, hive_partitioning = true)",
    ...         params={"f": snapshot_files("/tmp/lake", "videos")})   # doctest: +SKIP
    """
    dest = Destination.open(to, settings)
    manifest = load_manifest(dest)
    if manifest is None:
        raise UsageError(f"no export at {to} (no {MANIFEST})")
    if table not in manifest["tables"]:
        raise UsageError(f"the export at {to} has no table {table!r}")
    paths = sorted(p["path"] for p in manifest["tables"][table]["partitions"].values())
    base = dest.root if dest.local else "s3://" + dest.root
    return [f"{base}/{p}" for p in paths]
