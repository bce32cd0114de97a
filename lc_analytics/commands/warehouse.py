"""`lc-analytics warehouse export`: the warehouse as Parquet (or Iceberg) tables for other
engines (Spark, Trino, DuckDB), written incrementally to a folder or to R2."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`warehouse export --to DEST [--format parquet|iceberg] [--tables T ...]`."""
    wh = sub.add_parser("warehouse", help="the warehouse itself: export it for other engines")
    wh_sub = wh.add_subparsers(dest="warehouse_command", required=True)
    ex = wh_sub.add_parser(
        "export", help="export the warehouse's tables (only what changed since the last "
        "export to the same place)",
        description="Parquet: Hive-partitioned by year and month for the daily facts, other "
        "tables whole, with _manifest.json; a folder or s3://bucket/prefix (R2 settings). "
        "Iceberg: tables in a catalog (LC_ANALYTICS_ICEBERG_URI etc., or a local SQL catalog "
        "in --to).")
    ex.add_argument("--to", required=True, help="a folder, or s3://bucket/prefix on R2")
    ex.add_argument("--format", choices=["parquet", "iceberg"], default="parquet",
                    help="default: parquet")
    ex.add_argument("--tables", nargs="+", default=None, metavar="TABLE",
                    help="only these tables (default: all)")
    ex.add_argument("--db", default=None, help="warehouse path (default: $LC_ANALYTICS_DB)")
    ex.set_defaults(func=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..export import export_warehouse
    from ..settings import Settings
    from ..warehouse import Warehouse

    settings = Settings.from_env()
    db = Path(args.db) if args.db else settings.db_path
    Warehouse(db, read_only=True)  # a missing warehouse is refused, never created empty
    result = export_warehouse(Warehouse(db), args.to, format=args.format, tables=args.tables,
                              settings=settings)
    print(result.summary())
    return 0
