"""Build the warehouse a daily sync would have filled, straight from a simulated account.

Three years of daily syncs are replaced by what the last of them would hold: the inventories
(live inputs, videos, storage usage, R2 objects and lifecycle rules) as the API serves them
at `now`, rendered by the emulator's own JSON builders and turned into rows by the sync's own
sources (no HTTP: listing 300,000 videos or 500,000 objects page by page is what made this
slow), plus the account's analytics written window by window, a month at a time, through the
warehouse's bulk loader (`Transaction.load_range` + `cover`, the windows `sync` uses), for
the whole simulated history instead of the 90 (Stream) or 31 (R2) days the API still serves.
tests/test_sandbox_warehouse.py proves the result equals a real sync for the served days.
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
                    rows[table] = rows.get(table, 0) + tx.load_range(
                        table, "date", lo, hi, frame)
                    tx.cover(source, lo, min(hi, account.now.date()))
    except BaseException:
        wh.finish_run(run_id, "failed", rows=rows, requests=0, retries=0, listing_calls=0,
                      error="the warehouse build stopped")
        raise
    _r2_listing_state(wh, account.now.to_pydatetime())
    wh.finish_run(run_id, "ok", rows=rows, requests=0, retries=0, listing_calls=0)
    rows.update(_sync_by_api(account, path))  # its own sync run, after ours
    return BuildReport(path, rows, account.start, account.end)


_EMPTY = pd.DataFrame()


def _sync_inventories(account: SimulatedAccount, path: Path) -> dict[str, int]:
    """The inventory tables as one full sync writes them at `now` (`sync._sync_stream` and
    `_sync_r2_inventory`), from the emulator's JSON and the sources' row functions."""
    from ..sources.r2 import lifecycle_row
    from ..sources.stream import live_input_row, video_row
    from .emulator import customer_code, live_input_json, video_json
    from .r2 import _lifecycle_rules
    from .simulator import BUCKETS

    now = account.now.to_pydatetime()
    code = customer_code(account.seed)
    videos = account.visible_videos().reset_index(drop=True).sort_values(
        ["created", "uid"], kind="stable")
    inputs = account.visible_live_inputs()
    usage = account.storage_usage()
    objects = account.visible_objects()
    wh = Warehouse(path)
    wh.claim_account(account.account_id, now)
    run_id = wh.start_run(["stream", "r2_inventory"])
    with wh.transaction() as tx:
        rows = {
            "live_inputs": tx.upsert("live_inputs", [
                live_input_row(live_input_json(r, code, account.seed))
                for r in inputs.to_dict("records")], seen_at=now),
            "videos": tx.upsert("videos", [video_row(video_json(r, code))
                                           for r in videos.to_dict("records")], seen_at=now),
            "stream_storage_snapshots": tx.upsert("stream_storage_snapshots", [{
                "taken_at": now, "creator": usage["creator"] or "",
                "total_storage_minutes": float(usage["totalStorageMinutes"] or 0),
                "total_storage_minutes_limit": int(usage["totalStorageMinutesLimit"] or 0),
                "video_count": int(usage["videoCount"] or 0)}]),
        }
        tx.set_watermark("stream", now.date(), {"full_listing_at": now.isoformat()})
        tx.set_watermark("live_events", now.date())  # nothing spooled
        rows["r2_objects"] = tx.upsert("r2_objects", pd.DataFrame({
            "bucket": objects["bucket"], "key": objects["key"],
            "size_bytes": objects["size"].astype("int64"), "etag": objects["etag"],
            # the emulated R2 serves whole seconds (`r2._virtual_keys`), as S3 does
            "last_modified": objects["last_modified"].dt.floor("s"),
            "storage_class": objects["storage_class"]}), seen_at=now)
        lifecycle = account.lifecycle
        rows["r2_lifecycle_rules"] = tx.upsert("r2_lifecycle_rules", [
            lifecycle_row(bucket, rule) for bucket in sorted(BUCKETS.values())
            for rule in _lifecycle_rules(lifecycle[lifecycle["bucket"] == bucket])],
            seen_at=now)
    wh.finish_run(run_id, "ok", rows=rows, requests=0, retries=0, listing_calls=0)
    return rows


def _sync_by_api(account: SimulatedAccount, path: Path) -> dict[str, int]:
    """Billable usage (a few monthly records) and the last days' live minutes by the minute
    (a few queries) as the sync reads them: one real sync of those two sources."""
    from ..sync import sync
    from .runtime import Sandbox

    with Sandbox(account) as sb:
        report = sync(sb.settings(db_path=path), sources=["live_minutes", "billed_usage"],
                      transport=sb.transport, now=lambda: account.now.to_pydatetime(),
                      progress="none")
    return dict(report.rows)


def _r2_listing_state(wh: Warehouse, now) -> None:
    """The R2 inventory's watermark as a full listing leaves it (`sync_inventory`): every
    bucket listed at `now`, with the storage metrics it was listed against."""
    from ..warehouse import incremental

    when = now.isoformat()
    buckets = {b: {"listed_at": when, "day": m[0].isoformat(), "objects": m[1], "bytes": m[2]}
               for b, m in incremental.latest_bucket_metrics(wh).items()}
    with wh.transaction() as tx:
        tx.set_watermark("r2_inventory", now.date(), {"buckets": buckets,
                                                      "full_listing_at": when})


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
