"""Build the warehouse a daily sync would have filled, straight from a simulated account.

Three years of daily syncs are replaced by one real sync of the inventories (live inputs,
videos, storage usage, R2 objects and lifecycle rules, through the emulated API) plus the
account's analytics written window by window, a month at a time, through the warehouse's own
loaders (`Transaction.replace_range` + `cover`, as `sync._sync_analytics` does), for the
whole simulated history instead of the 90 (Stream) or 31 (R2) days the API still serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pandas as pd

from ..errors import SandboxError
from ..sources.analytics import R2_OBJECT_READS, R2_OPERATIONS, Dataset, windows
from ..warehouse import Warehouse
from .account import SimulatedAccount

#: Analytics tables written per window, by the sync source that owns them.
TABLES = {
    "minutes_viewed": "minutes_viewed_daily",
    "r2_storage": "r2_storage_daily",
    "r2_operations": "r2_operations_daily",
    "r2_object_reads": "r2_object_reads_daily",
}
_READ_ACTIONS = ("GetObject", "HeadObject")


@dataclass
class BuildReport:
    """What `build_warehouse` wrote: rows per table and the days covered."""

    path: Path
    rows: dict[str, int]
    first_day: object
    last_day: object


def build_warehouse(account: SimulatedAccount, path: str | Path) -> BuildReport:
    """Write `account`'s whole history into a new warehouse at `path`.

    >>> from datetime import date
    >>> acct = SimulatedAccount.build("small", seed=7, end=date(2026, 6, 30))
    >>> build_warehouse(acct, "/tmp/wh.duckdb").rows["r2_storage_daily"]  # doctest: +SKIP
    480
    """
    path = Path(path)
    if path.exists():
        raise SandboxError(f"{path} already exists; the builder writes a new warehouse only")
    rows = _sync_inventories(account, path)
    wh = Warehouse(path)
    run_id = wh.start_run(list(TABLES))
    try:
        for lo, hi in windows(account.start, account.now.date() + timedelta(days=1)):
            last = min(hi - timedelta(days=1), account.end)
            frames = _window_frames(account, lo, last) if lo <= last else {}
            with wh.transaction() as tx:
                for source, table in TABLES.items():
                    frame = frames.get(source, _EMPTY)
                    rows[table] = rows.get(table, 0) + tx.replace_range(
                        table, "date", lo, hi, frame)
                    tx.cover(source, lo, min(hi, account.now.date()))
    except BaseException:
        wh.finish_run(run_id, "failed", rows=rows, requests=0, retries=0, listing_calls=0,
                      error="the warehouse build stopped")
        raise
    wh.finish_run(run_id, "ok", rows=rows, requests=0, retries=0, listing_calls=0)
    return BuildReport(path, rows, account.start, account.end)


_EMPTY = pd.DataFrame()


def _sync_inventories(account: SimulatedAccount, path: Path) -> dict[str, int]:
    """One real sync of the inventory sources (what a daily sync holds of them at `now`)."""
    from ..sync import sync
    from .runtime import Sandbox

    with Sandbox(account) as sb:
        report = sync(sb.settings(db_path=path),
                      sources=["stream", "r2_inventory", "live_events"],  # nothing spooled
                      transport=sb.transport, now=lambda: account.now.to_pydatetime(),
                      progress="none")
    return dict(report.rows)


def _window_frames(account: SimulatedAccount, first, last) -> dict[str, pd.DataFrame]:
    """The rows each analytics dataset answers for the days in [first, last]."""
    lo, hi = pd.Timestamp(first, tz="UTC"), pd.Timestamp(last, tz="UTC")
    mv = account.minutes_viewed_between(first, last)
    ops = account.r2_operations(lo, hi)
    storage = account.r2_storage_daily(lo, hi)
    reads = ops[ops["action_type"].isin(_READ_ACTIONS) & (ops["action_status"] == "success")
                & (ops["object_name"] != "")]
    return {
        "minutes_viewed": pd.DataFrame({
            "date": _dates(mv["date"]), "uid": mv["uid"], "country": mv["country"],
            "creator": mv["creator"], "minutes_viewed": mv["minutes_viewed"],
            "synced_at": account.now.to_pydatetime()}),
        "r2_storage": storage.assign(date=_dates(storage["date"])),
        "r2_operations": _grouped(ops, R2_OPERATIONS),
        "r2_object_reads": _grouped(reads, R2_OBJECT_READS),
    }


def _grouped(ops: pd.DataFrame, ds: Dataset) -> pd.DataFrame:
    """Operations summed over the dataset's dimensions, as its GraphQL node answers them."""
    keys = ["date"] + [ds.columns[d] for d in ds.dimensions if d != "date"]
    out = ops.groupby(keys, as_index=False)["requests"].sum()
    return out.assign(date=_dates(out["date"]))


def _dates(ts: pd.Series) -> pd.Series:
    return ts.dt.tz_convert(None).dt.date
