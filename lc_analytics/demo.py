"""The main job on the built-in sandbox, as `make demo` runs it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from .sandbox import SimulatedAccount
from .sandbox.runtime import Sandbox
from .sandbox.summary import describe
from .sync import sync
from .warehouse import Warehouse

DEMO_DB = Path("data/demo.duckdb")


def run_demo(preset: str = "small", seed: int = 7, end: date | None = None,
             db_path: str | Path = DEMO_DB, progress: str = "auto") -> str:
    """Simulate an account, sync it through the emulated API into a fresh warehouse.

    The demo warehouse belongs to the sandbox and is recreated on every run (a real
    warehouse is never deleted by anything in lc_analytics).

    >>> print(run_demo(end=date(2026, 6, 30), db_path=tmp / "demo.duckdb"))  # doctest: +SKIP
    """
    db_path = Path(db_path)
    for stale in (db_path, db_path.with_name(db_path.name + ".wal")):
        stale.unlink(missing_ok=True)
    account = SimulatedAccount.build(preset, seed=seed, end=end)
    with Sandbox(account) as sb:
        report = sync(sb.settings(db_path=db_path), transport=sb.transport,
                      now=lambda: account.now.to_pydatetime(), progress=progress)
    counts = Warehouse(db_path, read_only=True).table_counts()
    lines = [describe(account), "", f"Synced into {db_path}:"]
    lines += [f"  {line}" for line in report.summary_lines()]
    lines.append("  warehouse tables: " + ", ".join(
        f"{t} {n:,}" for t, n in counts.items() if n and t != "schema_migrations"))
    return "\n".join(lines)
