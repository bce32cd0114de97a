"""The benchmarks under bench/ still run: each module imports, the cheap ones run tiny.

Not timed tests: they check that the benchmarks measure what they say (same rows on both
sides, the yardstick's windows equal the sync's), so `make bench` cannot rot unnoticed.
The two sync benchmarks serve a sandbox to child processes and take half a minute even on
the smallest account, so only their modules are imported here.
"""

from __future__ import annotations

import importlib
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))


@pytest.mark.parametrize("name", ["bench_sync_vs_dlt", "bench_resync", "bench_load",
                                  "bench_r2_parse", "bench_graphql_emulator",
                                  "bench_export"])
def test_bench_module_imports(name):
    module = importlib.import_module(name)
    assert callable(module.main)


def test_load_benchmark_loads_every_row_both_ways(capsys):
    import bench_load

    rows = bench_load.make_rows(3_000)
    keys = {(r["date"], r["uid"], r["country"], r["creator"]) for r in rows}
    assert len(keys) == 3_000  # unique keys: an upsert that merged rows would load fewer
    result = bench_load.main(["--rows", "3000", "--repeats", "1"])
    assert result["ratio"] == result["medians"]["upsert"] / result["medians"]["native"]
    out = capsys.readouterr().out
    assert "machine: " in out and "upsert / native: " in out
    assert ("PASS" if result["ratio"] <= 1.5 else "MISS") in out


def test_r2_benchmark_replays_the_recorded_pages(capsys):
    import bench_r2_parse

    result = bench_r2_parse.main(["--preset", "small", "--days", "31", "--repeats", "1",
                                  "--min-objects", "1"])
    assert set(result["medians"]) == {"library, HTTP stubbed", "botocore parser alone",
                                      "library over HTTP to moto"}
    assert result["rate"] == result["medians"]["library, HTTP stubbed"] > 0
    assert "objects/s" in capsys.readouterr().out


def test_dlt_yardstick_fetches_the_sync_windows():
    pytest.importorskip("dlt")
    import dlt_pipeline

    from lc_analytics.sources.analytics import DATASETS, windows

    now = datetime(2026, 7, 1, tzinfo=UTC)
    for name, ds in DATASETS.items():
        start = (now - timedelta(days=ds.retention_days)).date()
        expected = list(windows(start, now.date() + timedelta(days=1)))
        assert list(dlt_pipeline._windows(now, ds.retention_days)) == expected, name
        node, dims, block, metrics, retention, fixed = dlt_pipeline.GRAPHQL[name]
        assert (node, tuple(dims), block, tuple(metrics), retention, fixed) == (
            ds.name, ds.dimensions, ds.block, ds.metrics, ds.retention_days, ds.fixed_filter)
