"""Shared helpers of the benchmarks: the machine, medians, targets, a served sandbox, children.

Every benchmark measures a ratio against an anchor run beside it in the same run, repeats
the pair interleaved (A, B, A, B, ...) and reports medians. Timed work that needs a clean
peak RSS runs in a child process (`run_child`); the sandbox it talks to is served from the
parent, so the child's CPU time is the client's alone.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
#: The simulated account's last complete day: fixed, so every run measures the same data.
END = date(2026, 6, 30)
SEED = 7
#: warehouse table -> the dlt yardstick's table (`dlt_pipeline.py`, dataset `cloudflare`)
ROW_TABLES = {
    "videos": "videos",
    "live_inputs": "live_inputs",
    "minutes_viewed_daily": "minutes_viewed",
    "r2_storage_daily": "r2_storage",
    "r2_operations_daily": "r2_operations",
    "r2_object_reads_daily": "r2_object_reads",
    "r2_objects": "r2_objects",
    "r2_lifecycle_rules": "r2_lifecycle_rules",
}
LIBRARIES = ("lc-analytics", "duckdb", "pyarrow", "pandas", "numpy", "httpx", "boto3",
             "botocore", "moto", "graphql-core", "dlt")


def machine() -> dict[str, Any]:
    """Cores, CPU model, load average, Python and library versions of this machine."""
    model = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {"cores": os.cpu_count(), "cpu": model, "load_average": [round(x, 2) for x in load],
            "python": platform.python_version(), "platform": platform.platform(),
            "libraries": versions}


def print_machine() -> None:
    """Print `machine()` as a few lines (every benchmark starts with them)."""
    m = machine()
    print(f"machine: {m['cores']} cores, {m['cpu']}, {m['platform']}")
    print(f"load average (1, 5, 15 min): {m['load_average']}")
    print(f"Python {m['python']}; " + ", ".join(f"{k} {v}" for k, v in m["libraries"].items()))


def median(values: list[float]) -> float:
    """The median of a non-empty list."""
    return float(statistics.median(values))


def verdict(value: float, target: float, *, at_most: bool) -> str:
    """`PASS` when `value` meets `target` (at most or at least it), else `MISS`."""
    ok = value <= target if at_most else value >= target
    return "PASS" if ok else "MISS"


def interleaved(repeats: int, runs: dict[str, Callable[[int], dict[str, Any]]],
                ) -> dict[str, list[dict[str, Any]]]:
    """Run each of `runs` once per repetition, alternating which goes first; results by name.

    Alternating the order keeps a slow start (a cold cache, a busy neighbour) from always
    landing on the same side of the comparison.
    """
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in runs}
    names = list(runs)
    for rep in range(repeats):
        for name in names if rep % 2 == 0 else names[::-1]:
            results[name].append(runs[name](rep))
            print(f"  rep {rep + 1}/{repeats} {name}: " + _brief(results[name][-1]), flush=True)
    return results


def _brief(result: dict[str, Any]) -> str:
    keys = ("wall_s", "cpu_s", "peak_rss_mib", "requests", "objects_per_s")
    return ", ".join(f"{k} {result[k]:.2f}" if isinstance(result[k], float) else
                     f"{k} {result[k]}" for k in keys if k in result)


@contextmanager
def served_sandbox(preset: str, days: int | None = None, *, r2: bool = True,
                   ) -> Iterator[dict[str, str]]:
    """Serve a `preset` account on loopback (API + R2) and yield the env that points at it.

    `days` shortens the preset's history (at least 31; the tests' smallest configuration).

    The rate limits are lifted: both sides of a comparison would otherwise sleep on the
    emulated 1,200-per-5-minutes budget after a few repetitions, and the benchmark measures
    the pipelines, not the limiter.
    """
    from lc_analytics.sandbox import SimulatedAccount
    from lc_analytics.sandbox.server import start_server

    started = time.perf_counter()
    account = SimulatedAccount.build(preset, seed=SEED, end=END, days=days)
    with start_server(account, r2=r2, rest_limit=10**9, graphql_limit=10**9) as server:
        server.emulator.warm()  # the first client must not pay for deriving the account
        print(f"sandbox {preset!r} built and served in {time.perf_counter() - started:.1f} s",
              flush=True)
        env = {}
        for line in server.env_exports():
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = shlex.split(value)[0] if value else ""
        yield env


def run_child(script: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run `bench/<script> --child ARGS` in a fresh Python and return the JSON it prints last.

    The child gets the sandbox env on top of ours (secrets stay out of argv and output).
    """
    cmd = [sys.executable, str(BENCH_DIR / script), "--child", *args]
    proc = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(args)} failed ({proc.returncode}):\n"
                           f"{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


class Meter:
    """Wall time, CPU time (this process and its children) and peak RSS around some work."""

    def __enter__(self) -> Meter:
        self._wall = time.perf_counter()
        self._cpu = _cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self._wall
        self.cpu_s = _cpu_seconds() - self._cpu

    def result(self) -> dict[str, float]:
        """The measurements, with the process's peak RSS so far in MiB."""
        peak_kib = max(_own_peak_kib(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        return {"wall_s": self.wall_s, "cpu_s": self.cpu_s, "peak_rss_mib": peak_kib / 1024}


def _own_peak_kib() -> int:
    """This process's own peak RSS (KiB): VmHWM, which starts afresh at exec. `ru_maxrss`
    keeps the parent's peak across fork and exec, so a child of a process serving a large
    sandbox would report the server's memory as its own."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _cpu_seconds() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def emit(result: dict[str, Any]) -> None:
    """A child's last line: its result as JSON (read by `run_child`)."""
    print(json.dumps(result, default=str), flush=True)
