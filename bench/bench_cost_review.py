"""`cost_review` rendered on the 3-year `large` warehouse, against the same report on `small`.

    .venv/bin/python bench/bench_cost_review.py [--preset large] [--anchor small]
                                                [--cache DIR] [--repeats 1]

Each preset's warehouse (seed 7, last day 2026-06-30) is built once with
`lc_analytics.sandbox.warehouse_builder.build_warehouse` (what `lc-analytics sandbox
warehouse --preset P PATH` does) and cached under `--cache` (default
`bench/.cache/`, printed; delete a file to rebuild it); a build is timed too, in a child
process. The report runs in a child process per repetition, interleaved with the anchor:
`lc_analytics.reports.runner.run("cost_review", {"db": PATH})`, end to end (parameters,
papermill, kernel, scrub, HTML). Printed: wall time, peak RSS (the runner and its kernel),
the slowest cells (papermill's per-cell durations in the executed notebook), and the ratio
to the anchor. Targets (issue 13): under 60 s end to end, no cell over 5 s, RSS under 2 GiB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

TARGET_WALL_S = 60.0
TARGET_CELL_S = 5.0
TARGET_RSS_MIB = 2048.0
DEFAULT_CACHE = _common.BENCH_DIR / ".cache"


def warehouse_path(cache: Path, preset: str) -> Path:
    """Where `preset`'s benchmark warehouse is cached."""
    return cache / f"{preset}-seed{_common.SEED}-{_common.END}.duckdb"


def ensure_warehouse(cache: Path, preset: str) -> tuple[Path, dict[str, Any] | None]:
    """The cached warehouse of `preset`, built (in a child, measured) when missing."""
    path = warehouse_path(cache, preset)
    if path.exists():
        from lc_analytics.warehouse import Warehouse

        applied = Warehouse(path).applied_migrations  # a newer lc-analytics migrates it
        print(f"{preset}: reusing the warehouse cached at {path}"
              + (f" (migrated: {applied})" if applied else ""), flush=True)
        return path, None
    cache.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    for stale in (partial, partial.with_name(partial.name + ".wal")):
        stale.unlink(missing_ok=True)
    print(f"{preset}: building the warehouse into {path} ...", flush=True)
    result = _child(["--child-build", preset, str(partial)])
    partial.rename(path)
    print(f"{preset}: built in {result['wall_s']:.1f} s (account {result['account_s']:.1f} s, "
          f"warehouse {result['warehouse_s']:.1f} s; CPU {result['cpu_s']:.1f} s), peak RSS "
          f"{result['peak_rss_mib']:,.0f} MiB, rows {result['rows']}", flush=True)
    return path, result


def child_build(preset: str, path: str) -> dict[str, Any]:
    """In a child: build `preset`'s account and its whole-history warehouse at `path`."""
    from lc_analytics.sandbox import SimulatedAccount
    from lc_analytics.sandbox.warehouse_builder import build_warehouse

    with _common.Meter() as meter:
        started = time.perf_counter()
        account = SimulatedAccount.build(preset, seed=_common.SEED, end=_common.END)
        account_s = time.perf_counter() - started
        report = build_warehouse(account, path)
    return {**meter.result(), "account_s": account_s,
            "warehouse_s": meter.wall_s - account_s, "rows": report.rows}


def child_report(db: str, out_root: str) -> dict[str, Any]:
    """In a child: render cost_review on `db`; wall, CPU, peak RSS and per-cell seconds."""
    from lc_analytics.reports.runner import run

    with _common.Meter() as meter:
        result = run("cost_review", {"db": db}, out_root=out_root)
    return {**meter.result(), "cells": cell_seconds(result.notebook),
            "period": result.parameters.get("period"), "as_of": result.parameters["as_of"]}


def cell_seconds(notebook: Path) -> list[tuple[int, float, str]]:
    """(cell index, seconds, first source line) of each code cell, from papermill's metadata."""
    nb = json.loads(Path(notebook).read_text())
    out = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        seconds = (cell.get("metadata", {}).get("papermill", {}) or {}).get("duration")
        source = "".join(cell["source"]).strip().splitlines()
        out.append((i, float(seconds or 0.0), source[0][:70] if source else ""))
    return out


def _child(args: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n"
                           f"{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarize(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of one side's runs, and its slowest cells (from the median run)."""
    wall = _common.median([r["wall_s"] for r in runs])
    mid = min(runs, key=lambda r: abs(r["wall_s"] - wall))
    cells = sorted(mid["cells"], key=lambda c: -c[1])
    print(f"{name}: wall {wall:.2f} s (median of {len(runs)}), CPU {mid['cpu_s']:.2f} s, "
          f"peak RSS {max(r['peak_rss_mib'] for r in runs):,.0f} MiB; period "
          f"{mid['period']}, as of {mid['as_of']}")
    for index, seconds, first in cells[:5]:
        print(f"    cell {index:>2}: {seconds:6.2f} s  {first}")
    return {"wall_s": wall, "cpu_s": mid["cpu_s"],
            "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
            "slowest_cell_s": cells[0][1] if cells else 0.0, "cells": cells}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="large")
    parser.add_argument("--anchor", default="small")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)

    _common.print_machine()
    print(f"cost_review on {args.preset!r} vs {args.anchor!r}; warehouses cached under "
          f"{args.cache.resolve()}", flush=True)
    builds = {}
    dbs = {}
    for preset in dict.fromkeys([args.anchor, args.preset]):
        dbs[preset], builds[preset] = ensure_warehouse(args.cache, preset)
    with tempfile.TemporaryDirectory(prefix="bench-cost-review-") as tmp:
        def render(preset: str):
            return lambda rep: _child(["--child-report", str(dbs[preset]),
                                       str(Path(tmp) / f"{preset}-{rep}")])

        results = _common.interleaved(args.repeats, {
            args.preset: render(args.preset), args.anchor: render(args.anchor)})
    big = summarize(args.preset, results[args.preset])
    anchor = summarize(args.anchor, results[args.anchor])
    ratio = big["wall_s"] / anchor["wall_s"]
    print(f"{args.preset} / {args.anchor}: {ratio:.2f}x the wall time")
    print(f"target: under {TARGET_WALL_S:.0f} s end to end: "
          f"{_common.verdict(big['wall_s'], TARGET_WALL_S, at_most=True)}; no cell over "
          f"{TARGET_CELL_S:.0f} s (slowest {big['slowest_cell_s']:.2f} s): "
          f"{_common.verdict(big['slowest_cell_s'], TARGET_CELL_S, at_most=True)}; RSS under "
          f"{TARGET_RSS_MIB / 1024:.0f} GiB: "
          f"{_common.verdict(big['peak_rss_mib'], TARGET_RSS_MIB, at_most=True)}")
    return {"target": big, "anchor": anchor, "ratio": ratio, "builds": builds,
            "cache": str(args.cache.resolve())}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child-build":
        _common.emit(child_build(sys.argv[2], sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--child-report":
        _common.emit(child_report(sys.argv[2], sys.argv[3]))
    else:
        main()
