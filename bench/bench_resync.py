"""A sync that finds nothing new vs a full sync of the same served sandbox: time and requests.

    .venv/bin/python bench/bench_resync.py [--preset medium] [--repeats 3]

Each repetition runs in a child process against the sandbox served by the parent: a full
sync into a fresh warehouse (the anchor), then at once a second sync of the same warehouse,
the clock unmoved (nothing new). Requests are the SyncReport's (REST + GraphQL + R2
listing calls). Target (issue 13): the re-sync costs at most 10% of the full sync.
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

TARGET_SHARE = 0.10


def child(db: str) -> dict[str, Any]:
    """A full sync into the fresh warehouse `db`, then a no-change re-sync of it."""
    from lc_analytics.settings import Settings
    from lc_analytics.sync import sync

    settings = Settings.from_env({**os.environ, "LC_ANALYTICS_DB": db}, env_file=None)
    out = {}
    for name in ("full", "resync"):
        with _common.Meter() as meter:
            report = sync(settings, progress="none")
        out[name] = {**meter.result(), "requests": report.requests,
                     "graphql_requests": report.graphql_requests,
                     "listing_calls": report.listing_calls}
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--days", type=int, help="shorter history than the preset's (>= 31)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=1, metavar="DB", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _common.emit(child(args.child[0]))
        return {}

    _common.print_machine()
    print(f"no-change re-sync vs full sync of the {args.preset!r} sandbox, {args.repeats} "
          "repetitions (full then re-sync, each pair in a child process)", flush=True)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-resync-") as tmp, \
            _common.served_sandbox(args.preset, args.days) as env:
        for rep in range(args.repeats):
            pair = _common.run_child(Path(__file__).name, [str(Path(tmp) / f"{rep}.duckdb")],
                                     env)
            runs.append(pair)
            print(f"  rep {rep + 1}/{args.repeats}: full {pair['full']['wall_s']:.2f} s / "
                  f"{pair['full']['requests']} requests, re-sync "
                  f"{pair['resync']['wall_s']:.2f} s / {pair['resync']['requests']} requests",
                  flush=True)
    med = {name: {k: _common.median([float(r[name][k]) for r in runs])
                  for k in ("wall_s", "cpu_s", "requests", "graphql_requests",
                            "listing_calls")}
           for name in ("full", "resync")}
    for name, m in med.items():
        print(f"{name:>7}: wall {m['wall_s']:.2f} s, CPU {m['cpu_s']:.2f} s, requests "
              f"{m['requests']:.0f} (GraphQL {m['graphql_requests']:.0f}, R2 listing "
              f"{m['listing_calls']:.0f}) (medians)")
    share = med["resync"]["wall_s"] / med["full"]["wall_s"]
    req_share = med["resync"]["requests"] / med["full"]["requests"]
    print(f"re-sync / full: {share:.1%} of the wall time, {req_share:.1%} of the requests; "
          f"target <= {TARGET_SHARE:.0%}: {_common.verdict(share, TARGET_SHARE, at_most=True)}")
    return {"medians": med, "share": share, "request_share": req_share}


if __name__ == "__main__":
    main()
