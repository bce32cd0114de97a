"""Sync of a served sandbox through lc-analytics vs the same pull written with dlt, paired.

    .venv/bin/python bench/bench_sync_vs_dlt.py [--preset medium] [--repeats 3]
    .venv/bin/python bench/bench_sync_vs_dlt.py --preset large --lc-only

The parent builds the account and serves it on loopback (REST + GraphQL + R2 on moto, rate
limits lifted); each pipeline runs in its own child process into a fresh DuckDB file, so
its CPU time is the client's alone and its peak RSS is clean. Repetitions interleave
(lc, dlt, dlt, lc, ...). Every run's row counts must equal the other's, table by table
(`_common.ROW_TABLES`), or the benchmark fails: the comparison is only honest when
both pulled the same data, so lc-analytics syncs the sources the yardstick pulls
(`YARDSTICK_SOURCES`). Target (issue 13): lc-analytics at least 6x faster.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

TARGET_SPEEDUP = 6.0
TARGET_RSS_MIB = 1024.0  # issue 13: sync peak RSS under 1 GiB on `large`


#: what the dlt yardstick pulls: lc-analytics syncs the same sources for the comparison (its
#: later steps, e.g. live minutes by the minute and billed usage, have no dlt counterpart)
YARDSTICK_SOURCES = ["stream", "minutes_viewed", "r2_storage", "r2_operations",
                     "r2_object_reads", "r2_inventory"]


def child_lc(db: str, sources: list[str] | None = YARDSTICK_SOURCES) -> dict[str, Any]:
    """One `lc-analytics sync` of `sources` (None: every source) into a fresh warehouse `db`
    (in a child process)."""
    from lc_analytics.settings import Settings
    from lc_analytics.sync import sync
    from lc_analytics.warehouse import Warehouse

    settings = Settings.from_env({**dict(os.environ), "LC_ANALYTICS_DB": db}, env_file=None)
    with _common.Meter() as meter:
        report = sync(settings, sources=sources, progress="none")
    counts = Warehouse(db).table_counts()
    return {**meter.result(), "requests": report.requests,
            "rows": {t: counts[t] for t in _common.ROW_TABLES}}


def child_dlt(db: str) -> dict[str, Any]:
    """One run of the dlt yardstick into a fresh DuckDB file `db` (in a child process)."""
    import dlt_pipeline

    with _common.Meter() as meter:
        rows = dlt_pipeline.run(db, Path(db).parent / "dlt_pipelines", dict(os.environ))
    return {**meter.result(), "rows": rows}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--days", type=int, help="shorter history than the preset's (>= 31)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lc-only", action="store_true",
                        help="lc-analytics alone: its peak RSS against the 1 GiB target "
                             "(e.g. on `large`, where the dlt yardstick needs many GiB)")
    parser.add_argument("--child", nargs=2, metavar=("PIPELINE", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, db = args.child
        _common.emit(child_dlt(db) if kind == "dlt" else child_lc(
            db, None if kind == "lc-all" else YARDSTICK_SOURCES))
        return {}
    if args.lc_only:
        return _lc_only(args.preset, args.days)

    _common.print_machine()
    print(f"sync of the {args.preset!r} sandbox: lc-analytics vs dlt, {args.repeats} "
          "interleaved repetitions, each in a child process", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp, \
            _common.served_sandbox(args.preset, args.days) as env:
        def run(kind: str) -> Any:
            def one(rep: int) -> dict[str, Any]:
                folder = Path(tmp) / f"{kind}-{rep}"
                folder.mkdir()
                return _common.run_child(Path(__file__).name,
                                         [kind, str(folder / "out.duckdb")], env)
            return one

        results = _common.interleaved(args.repeats, {"lc-analytics": run("lc"),
                                                     "dlt": run("dlt")})
    expected = results["lc-analytics"][0]["rows"]
    for name, runs in results.items():
        for r in runs:
            if r["rows"] != expected:
                raise SystemExit(f"row counts differ: {name} {r['rows']} vs lc-analytics "
                                 f"{expected}")
    print("rows (identical in every run of both): "
          + ", ".join(f"{t} {n:,}" for t, n in expected.items()))
    med = {name: {k: _common.median([r[k] for r in runs])
                  for k in ("wall_s", "cpu_s", "peak_rss_mib")}
           for name, runs in results.items()}
    lc, dl = med["lc-analytics"], med["dlt"]
    for name, m in med.items():
        print(f"{name:>12}: wall {m['wall_s']:.2f} s, CPU {m['cpu_s']:.2f} s, "
              f"peak RSS {m['peak_rss_mib']:.0f} MiB (medians)")
    speedup = dl["wall_s"] / lc["wall_s"]
    print(f"lc-analytics is {speedup:.2f}x faster than dlt (wall), "
          f"{dl['cpu_s'] / lc['cpu_s']:.2f}x less CPU, "
          f"{dl['peak_rss_mib'] / lc['peak_rss_mib']:.2f}x less memory; target >= "
          f"{TARGET_SPEEDUP:.0f}x: {_common.verdict(speedup, TARGET_SPEEDUP, at_most=False)}")
    return {"medians": med, "speedup": speedup, "rows": expected}


def _lc_only(preset: str, days: int | None) -> dict[str, Any]:
    """One full sync of `preset` (every source) by lc-analytics alone: wall, CPU, requests
    and peak RSS."""
    _common.print_machine()
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp, \
            _common.served_sandbox(preset, days) as env:
        r = _common.run_child(Path(__file__).name, ["lc-all", str(Path(tmp) / "out.duckdb")],
                              env)
    print("rows: " + ", ".join(f"{t} {n:,}" for t, n in r["rows"].items()))
    print(f"lc-analytics on {preset!r}: wall {r['wall_s']:.1f} s, CPU {r['cpu_s']:.1f} s, "
          f"{r['requests']} requests, peak RSS {r['peak_rss_mib']:,.0f} MiB; target < "
          f"{TARGET_RSS_MIB:,.0f} MiB: "
          f"{_common.verdict(r['peak_rss_mib'], TARGET_RSS_MIB, at_most=True)}")
    return r


if __name__ == "__main__":
    main()
