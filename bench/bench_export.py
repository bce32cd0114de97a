"""`warehouse export`: time and size, an incremental export after one day, the bill on Spark.

    .venv/bin/python bench/bench_export.py [--preset medium] [--no-spark] [--warehouse PATH]

Builds the preset's whole history without syncs (`sandbox/warehouse_builder.py`; or takes
`--warehouse`, a copy of which is used), then measures:

1. a full Parquet export to a fresh folder: wall time, files, bytes and rows per table, and
   rows and bytes per broadcaster per year (the README's sizing table);
2. an export of the unchanged warehouse (writes nothing);
3. a one-day sync (the clock advanced one day, the API sources synced from the emulator) and
   the incremental export after it: partitions written and kept, bytes, wall time;
4. the month's bill from the warehouse (DuckDB) and from the export on a local Spark session
   (`SparkWarehouse`), Spark's start-up apart; the two totals asserted equal.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

API_SOURCES = ["stream", "minutes_viewed", "r2_storage", "r2_operations", "r2_object_reads"]


def _timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - started


def sizing(lake: Path, manifest: dict[str, Any], broadcasters: int, years: float,
           ) -> dict[str, dict[str, float]]:
    """Rows and bytes per table, and per broadcaster per year of history."""
    out = {}
    for name, t in sorted(manifest["tables"].items()):
        size = sum(p["bytes"] for p in t["partitions"].values())
        out[name] = {"rows": t["rows"], "bytes": size, "files": len(t["partitions"]),
                     "rows_per_broadcaster_year": t["rows"] / broadcasters / years,
                     "bytes_per_broadcaster_year": size / broadcasters / years}
    return out


def bill_on_both(db: Path, lake: Path, month: str) -> dict[str, Any]:
    """The month priced from DuckDB and from Spark over the export: times and totals."""
    from lc_analytics.costs.engine import price_month
    from lc_analytics.costs.pricebook import load_book
    from lc_analytics.costs.usage import warehouse_usage
    from lc_analytics.export.spark import SparkWarehouse, local_spark
    from lc_analytics.warehouse import Warehouse

    book = load_book("cloudflare")

    def bill(wh: Any) -> Any:
        mu = warehouse_usage(wh, month)
        return price_month(mu.usage, mu.month, book).total

    duck, duck_s = _timed(bill, Warehouse(db, read_only=True))
    spark, start_s = _timed(local_spark, "lc-analytics-bench")
    try:
        sw, views_s = _timed(SparkWarehouse, spark, str(lake))
        total, spark_s = _timed(bill, sw)
    finally:
        spark.stop()
    assert total == duck, f"Spark's bill {total} differs from DuckDB's {duck}"
    return {"month": month, "total": str(duck), "duckdb_s": duck_s, "spark_start_s": start_s,
            "spark_views_s": views_s, "spark_bill_s": spark_s}


def one_day_later(account: Any, db: Path) -> float:
    """Advance the account one day and sync the API sources into `db`; seconds taken."""
    from lc_analytics.sandbox import Sandbox
    from lc_analytics.sync import sync

    with Sandbox(account, r2=False) as sb:
        account.advance(1)
        _, seconds = _timed(sync, sb.settings(db_path=db), transport=sb.transport,
                            sources=API_SOURCES, now=lambda: account.now.to_pydatetime(),
                            progress="none")
    return seconds


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--warehouse", help="a warehouse the builder wrote for --preset")
    parser.add_argument("--no-spark", action="store_true", help="skip the Spark bill")
    parser.add_argument("--month", default="2026-06")
    args = parser.parse_args(argv)
    from lc_analytics.export import export_parquet, load_manifest
    from lc_analytics.export.destination import Destination
    from lc_analytics.sandbox import SimulatedAccount
    from lc_analytics.sandbox.presets import get_preset
    from lc_analytics.sandbox.warehouse_builder import build_warehouse
    from lc_analytics.warehouse import Warehouse

    print("machine:", _common.machine())
    preset = get_preset(args.preset)
    account = SimulatedAccount.build(args.preset, seed=_common.SEED, end=_common.END)
    work = Path(tempfile.mkdtemp(prefix="bench-export-"))
    db, lake = work / "wh.duckdb", work / "lake"
    try:
        build_s = 0.0
        if args.warehouse:
            shutil.copy(args.warehouse, db)
        else:
            _, build_s = _timed(build_warehouse, account, db)
        full, full_s = _timed(export_parquet, Warehouse(db), str(lake))
        manifest = load_manifest(Destination.open(str(lake)))
        assert manifest is not None
        sizes = sizing(lake, manifest, preset.broadcasters, preset.days / 365)
        same, same_s = _timed(export_parquet, Warehouse(db), str(lake))
        sync_s = one_day_later(account, db)
        inc, inc_s = _timed(export_parquet, Warehouse(db), str(lake))
        result: dict[str, Any] = {
            "preset": args.preset, "build_s": build_s,
            "full": {"s": full_s, "bytes": full.bytes_written, "partitions": len(full.written),
                     "rows": sum(full.rows.values())},
            "unchanged": {"s": same_s, "written": len(same.written)},
            "one_day": {"sync_s": sync_s, "s": inc_s, "written": inc.written,
                        "kept": inc.kept, "bytes": inc.bytes_written,
                        "deleted": len(inc.deleted)},
            "sizing": sizes}
        if not args.no_spark:
            result["bill"] = bill_on_both(db, lake, args.month)
        _report(result)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _report(r: dict[str, Any]) -> None:
    f, o = r["full"], r["one_day"]
    print(f"preset {r['preset']}: build {r['build_s']:.1f} s")
    print(f"full export: {f['s']:.1f} s, {f['partitions']} files, {f['bytes']:,} bytes, "
          f"{f['rows']:,} rows")
    print(f"unchanged re-export: {r['unchanged']['s']:.2f} s, {r['unchanged']['written']} "
          "written")
    print(f"one-day sync {o['sync_s']:.1f} s, then incremental export {o['s']:.2f} s: "
          f"{len(o['written'])} partitions written ({o['bytes']:,} bytes), {o['kept']} kept: "
          f"{', '.join(o['written'])}")
    print("| table | rows | bytes | rows / broadcaster / year | bytes / broadcaster / year |")
    for name, s in r["sizing"].items():
        print(f"| `{name}` | {s['rows']:,} | {s['bytes']:,} | "
              f"{s['rows_per_broadcaster_year']:,.0f} | {s['bytes_per_broadcaster_year']:,.0f} |")
    if "bill" in r:
        b = r["bill"]
        print(f"bill {b['month']} = {b['total']} on both: DuckDB {b['duckdb_s']:.2f} s; Spark "
              f"{b['spark_bill_s']:.2f} s (+ start {b['spark_start_s']:.1f} s, views "
              f"{b['spark_views_s']:.1f} s)")


if __name__ == "__main__":
    main()
