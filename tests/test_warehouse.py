"""Tests of lc_analytics.warehouse: migrations, bulk idempotent writes, locks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from lc_analytics.errors import WarehouseError, WarehouseLockedError
from lc_analytics.warehouse import MIGRATIONS, SCHEMA_VERSION, Warehouse, sync_lock
from lc_analytics.warehouse.schema import BOOTSTRAP_SQL

ROOT = Path(__file__).resolve().parents[1]
T1 = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
T2 = datetime(2026, 6, 2, 3, 0, tzinfo=UTC)
T3 = datetime(2026, 6, 3, 3, 0, tzinfo=UTC)
ALL_TABLES = {
    "live_inputs", "videos", "stream_storage_snapshots", "minutes_viewed_daily", "r2_objects",
    "r2_lifecycle_rules", "r2_storage_daily", "r2_operations_daily", "r2_listing_calls",
    "sync_runs", "sync_state", "r2_object_reads_daily", "recommendations", "apply_audit",
    "accounts",
    "focus_cost_rows", "coverage", "alerts", "alert_events", "sync_skips",
    "export_state",
    "zone_traffic_daily", "zone_traffic_daily_countries", "zone_traffic_hourly",
    "zone_cache_rules", "zone_dataset_limits",
    "live_input_events", "live_viewer_samples", "live_minutes_viewed",
    "billed_usage", "audit_checks",
}


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    return Warehouse(tmp_path / "wh.duckdb", lock_timeout=2.0)


def video(uid: str, **over: object) -> dict[str, object]:
    """A video record as a Stream source yields it (API strings, -1 already mapped to None)."""
    record: dict[str, object] = {
        "uid": uid, "created": "2026-05-01T10:00:00.000Z", "modified": "2026-05-02T10:00:00Z",
        "uploaded": "2026-05-01T10:05:00Z", "ready_to_stream_at": "2026-05-01T10:06:00Z",
        "ready_to_stream": True, "state": "ready", "pct_complete": "100.000000",
        "error_reason_code": "", "error_reason_text": "", "duration_seconds": 1834.5,
        "size_bytes": 734_003_200, "width": 1920, "height": 1080, "live_input_uid": "li1",
        "creator": "shop-7", "name": "Spring sale", "scheduled_deletion": None,
        "max_duration_seconds": None, "upload_expiry": None, "require_signed_urls": False,
    }
    record.update(over)
    return record


def obj(bucket: str, key: str, size: int = 100) -> dict[str, object]:
    return {"bucket": bucket, "key": key, "size_bytes": size, "etag": f"e-{key}",
            "last_modified": datetime(2026, 5, 1, tzinfo=UTC), "storage_class": "STANDARD"}


def storage_day(day: int, payload: int) -> dict[str, object]:
    return {"date": date(2026, 6, day), "bucket": "rec", "payload_size": payload,
            "metadata_size": 10, "object_count": 3, "upload_count": 0}


def snapshot(wh: Warehouse) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, sorted, to compare a warehouse before and after."""
    with wh.connect(read_only=True) as con:
        return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                for t in sorted(ALL_TABLES)}


@contextmanager
def child(code: str) -> Iterator[subprocess.Popen[str]]:
    """Run `code` in another Python process; it prints 'ready', then holds until stdin closes."""
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        release(proc)
        proc.stdout.close()


def release(proc: subprocess.Popen[str]) -> None:
    if proc.stdin and not proc.stdin.closed:
        proc.stdin.close()
    proc.wait(timeout=10)


HOLD_WRITE = """
import duckdb, sys
con = duckdb.connect({path!r})
print("ready", flush=True)
sys.stdin.read()
con.close()
"""


# -- schema ----------------------------------------------------------------------------------

def test_migrations_apply_once_and_are_recorded(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "wh.duckdb"
    first = Warehouse(path)
    assert first.applied_migrations == [m.version for m in MIGRATIONS] == list(
        range(1, SCHEMA_VERSION + 1))
    assert path.exists()
    recorded = first.query("SELECT version, description FROM schema_migrations ORDER BY version")
    assert recorded.values.tolist() == [[m.version, m.description] for m in MIGRATIONS]
    assert set(first.table_counts()) == ALL_TABLES
    assert all(n == 0 for n in first.table_counts().values())

    again = Warehouse(path)
    assert again.applied_migrations == []
    assert again.schema_version() == SCHEMA_VERSION == MIGRATIONS[-1].version
    assert len(again.query("SELECT * FROM schema_migrations")) == len(MIGRATIONS)


def test_a_v1_warehouse_is_upgraded_in_place_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(path))  # a file as the first release left it
    con.execute(BOOTSTRAP_SQL)
    con.execute(MIGRATIONS[0].sql)
    con.execute("INSERT INTO schema_migrations VALUES (1, ?, now())", [MIGRATIONS[0].description])
    con.execute("INSERT INTO r2_storage_daily VALUES ('2026-06-01', 'rec', 5, 1, 2, 0)")
    con.close()
    with pytest.raises(WarehouseError, match=f"at schema v1, this lc-analytics needs "
                       f"v{SCHEMA_VERSION}"):
        Warehouse(path, read_only=True)

    wh = Warehouse(path)
    assert wh.applied_migrations == list(range(2, SCHEMA_VERSION + 1))
    assert wh.schema_version() == SCHEMA_VERSION
    assert set(wh.table_counts()) == ALL_TABLES
    assert wh.table_counts()["r2_storage_daily"] == 1
    assert wh.table_counts()["r2_object_reads_daily"] == 0
    with wh.transaction() as tx:
        tx.upsert("r2_object_reads_daily", [{"date": date(2026, 6, 1), "bucket": "rec",
                                             "object_name": "a.mp4", "action_type": "GetObject",
                                             "requests": 3}])
    assert Warehouse(path, read_only=True).query(
        "SELECT requests FROM r2_object_reads_daily")["requests"].tolist() == [3]


def test_every_table_documents_its_row_and_key(wh: Warehouse) -> None:
    comments = wh.query("SELECT table_name, comment FROM duckdb_tables()")
    docs = dict(zip(comments.table_name, comments.comment, strict=True))
    for table in ALL_TABLES:
        assert "key (" in docs[table], table


def test_read_only_open_of_missing_file_says_to_sync(tmp_path: Path) -> None:
    path = tmp_path / "absent.duckdb"
    with pytest.raises(WarehouseError) as err:
        Warehouse(path, read_only=True)
    assert str(path) in str(err.value) and "lc-analytics sync" in str(err.value)
    assert not path.exists()


def test_read_only_warehouse_refuses_writes(wh: Warehouse) -> None:
    with Warehouse.open(wh.path, read_only=True) as reader:
        assert reader.table_counts()["videos"] == 0
        with pytest.raises(WarehouseError, match="read-only"), reader.transaction():
            pass


def test_newer_schema_is_refused(wh: Warehouse) -> None:
    with wh.transaction() as tx:
        tx.execute("INSERT INTO schema_migrations VALUES (99, 'from the future', now())")
    with pytest.raises(WarehouseError, match="v99, newer than this lc-analytics"):
        Warehouse(wh.path)


# -- upsert ----------------------------------------------------------------------------------

def test_upsert_is_idempotent_and_tracks_first_and_last_seen(wh: Warehouse) -> None:
    batch = [video("v1"), video("v2", duration_seconds=None, width=None, height=None)]
    with wh.transaction() as tx:
        assert tx.upsert("videos", batch, seen_at=T1) == 2
    first = wh.query("SELECT * FROM videos ORDER BY uid")
    with wh.transaction() as tx:
        assert tx.upsert("videos", batch, seen_at=T2) == 2
    second = wh.query("SELECT * FROM videos ORDER BY uid")

    assert wh.table_counts()["videos"] == 2
    assert list(second.first_seen) == [pd.Timestamp(T1)] * 2
    assert list(second.last_seen) == [pd.Timestamp(T2)] * 2
    assert second.missing_since.isna().all()
    pd.testing.assert_frame_equal(first.drop(columns="last_seen"),
                                  second.drop(columns="last_seen"))
    v1, v2 = second.to_dict("records")
    assert v1["created"] == pd.Timestamp("2026-05-01T10:00:00Z")
    assert v1["pct_complete"] == 100.0 and v1["size_bytes"] == 734_003_200
    assert v1["ready_to_stream"] is True or v1["ready_to_stream"] == True  # noqa: E712
    assert pd.isna(v2["duration_seconds"]) and pd.isna(v2["width"])


def test_upsert_updates_values_and_last_record_in_a_batch_wins(wh: Warehouse) -> None:
    with wh.transaction() as tx:
        tx.upsert("videos", [video("v1", state="inprogress", pct_complete="39.000000")])
    with wh.transaction() as tx:
        n = tx.upsert("videos", [video("v1", state="queued"), video("v1", state="ready")])
    assert n == 1
    row = wh.query("SELECT state, pct_complete FROM videos").to_dict("records")
    assert row == [{"state": "ready", "pct_complete": 100.0}]


def test_upsert_fills_defaults_and_accepts_a_dataframe(wh: Warehouse) -> None:
    frame = pd.DataFrame({
        "date": ["2026-06-01", "2026-06-01"], "uid": ["v1", "v1"], "country": ["DE", "FR"],
        "creator": [None, "shop-7"], "minutes_viewed": [12.5, 3.0],
    })
    with wh.transaction() as tx:
        assert tx.upsert("minutes_viewed_daily", frame) == 2
        started = tx.started_at
    rows = wh.query("SELECT * FROM minutes_viewed_daily ORDER BY country")
    assert list(rows.creator) == ["", "shop-7"]  # NULL creator is stored as ''
    assert list(rows.date) == [pd.Timestamp("2026-06-01")] * 2  # DATE reads as datetime64
    assert (rows.synced_at >= pd.Timestamp(started) - pd.Timedelta(seconds=5)).all()


def test_upsert_of_120k_rows_in_bulk(wh: Warehouse) -> None:
    rows = (obj("rec", f"live/{i:06d}.mp4", size=i) for i in range(120_000))
    with wh.transaction() as tx:
        assert tx.upsert("r2_objects", rows, seen_at=T1) == 120_000
    totals = wh.query("SELECT count(*) AS n, sum(size_bytes) AS s FROM r2_objects")
    assert totals.to_dict("records") == [{"n": 120_000, "s": sum(range(120_000))}]


# -- replace_range ---------------------------------------------------------------------------

def test_replace_range_replaces_only_the_window(wh: Warehouse) -> None:
    with wh.transaction() as tx:
        tx.upsert("r2_storage_daily", [storage_day(d, 1000 + d) for d in range(1, 11)])
    with wh.transaction() as tx:
        inserted = tx.replace_range("r2_storage_daily", "date", date(2026, 6, 3),
                                    date(2026, 6, 6), [storage_day(3, 7), storage_day(4, 8)])
    assert inserted == 2
    got = wh.query("SELECT date, payload_size FROM r2_storage_daily ORDER BY date")
    expected = [(d, 1000 + d) for d in (1, 2)] + [(3, 7), (4, 8)] + [
        (d, 1000 + d) for d in range(6, 11)]
    assert [(d.day, p) for d, p in got.itertuples(index=False, name=None)] == expected


def test_replace_range_refuses_records_outside_the_window(wh: Warehouse) -> None:
    with wh.transaction() as tx:
        tx.upsert("r2_storage_daily", [storage_day(d, d) for d in (1, 2, 3)])
    before = snapshot(wh)
    with pytest.raises(WarehouseError, match="1 record.s. fall outside"), wh.transaction() as tx:
        tx.replace_range("r2_storage_daily", "date", date(2026, 6, 2), date(2026, 6, 3),
                         [storage_day(2, 9), storage_day(3, 9)])
    assert snapshot(wh) == before
    with pytest.raises(WarehouseError, match="inventory table"), wh.transaction() as tx:
        tx.replace_range("r2_objects", "last_modified", T1, T2, [])


# -- mark_missing ----------------------------------------------------------------------------

def test_mark_missing_keeps_the_row_and_clears_on_reappearance(wh: Warehouse) -> None:
    with wh.transaction() as tx:
        tx.upsert("r2_objects", [obj("a", "k1"), obj("a", "k2"), obj("a", "k3"),
                                 obj("b", "k1")], seen_at=T1)
    with wh.transaction() as tx:  # bucket a listed again without k3; b not listed
        tx.upsert("r2_objects", [obj("a", "k1"), obj("a", "k2")], seen_at=T2)
        assert tx.mark_missing("r2_objects", T2, {"bucket": "a"}) == 1
    with wh.transaction() as tx:  # still gone a day later: the first date is kept
        tx.upsert("r2_objects", [obj("a", "k1"), obj("a", "k2")], seen_at=T3)
        assert tx.mark_missing("r2_objects", T3, {"bucket": "a"}) == 0

    rows = wh.query("SELECT bucket, key, missing_since FROM r2_objects ORDER BY bucket, key")
    missing = {(r.bucket, r.key): r.missing_since for r in rows.itertuples()}
    assert len(missing) == 4
    assert missing[("a", "k3")] == pd.Timestamp(T2)
    assert pd.isna(missing[("a", "k1")]) and pd.isna(missing[("b", "k1")])

    with wh.transaction() as tx:
        tx.upsert("r2_objects", [obj("a", "k3")], seen_at=T3)
    back = wh.query("SELECT first_seen, last_seen, missing_since FROM r2_objects "
                    "WHERE bucket = 'a' AND key = 'k3'").to_dict("records")[0]
    assert back["first_seen"] == pd.Timestamp(T1) and back["last_seen"] == pd.Timestamp(T3)
    assert pd.isna(back["missing_since"])


# -- failures --------------------------------------------------------------------------------

def test_failed_transaction_leaves_the_warehouse_unchanged(wh: Warehouse) -> None:
    with wh.transaction() as tx:
        tx.upsert("videos", [video("v1")], seen_at=T1)
        tx.set_watermark("stream.videos", date(2026, 5, 31))
    before = snapshot(wh)
    with pytest.raises(WarehouseError) as err, wh.transaction() as tx:
        tx.upsert("videos", [video("v1", state="deleted"), video("v2")], seen_at=T2)
        tx.set_watermark("stream.videos", date(2026, 6, 30))
        tx.upsert("videos", [video("v3", durations=12.0)])
    assert "'durations'" in str(err.value) and "videos" in str(err.value)
    assert err.value.context["columns"] == ["durations"]
    assert snapshot(wh) == before
    assert wh.get_watermark("stream.videos") == date(2026, 5, 31)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"state": None}, r"videos\.state is NOT NULL .*record 0, key \{'uid': 'v9'\}"),
        ({"size_bytes": "lots"}, r"videos\.size_bytes: cannot store 'lots' as BIGINT"),
        ({"first_seen": T1}, r"'first_seen' are set by the warehouse"),
        ({"duration_seconds": -1}, r"CHECK constraint"),
    ],
)
def test_bad_records_raise_warehouse_error_naming_the_column(
    wh: Warehouse, record: dict[str, object], message: str
) -> None:
    with pytest.raises(WarehouseError, match=message), wh.transaction() as tx:
        tx.upsert("videos", [video("v9", **record)])
    assert wh.table_counts()["videos"] == 0


def test_missing_column_is_named(wh: Warehouse) -> None:
    record = video("v1")
    del record["require_signed_urls"]
    expected = "missing column.s. 'require_signed_urls' .record 1."
    with pytest.raises(WarehouseError, match=expected), wh.transaction() as tx:
        tx.upsert("videos", [video("v0"), record])


def test_other_errors_roll_back_and_pass_through_unchanged(wh: Warehouse) -> None:
    with pytest.raises(KeyError), wh.transaction() as tx:
        tx.upsert("videos", [video("v1")])
        raise KeyError("from the source")
    assert wh.table_counts()["videos"] == 0
    with pytest.raises(WarehouseError, match="unknown table 'nope'"), wh.transaction() as tx:
        tx.upsert("nope", [])
    with pytest.raises(WarehouseError, match="Catalog Error") as err, wh.transaction() as tx:
        tx.execute("SELECT * FROM nope")
    assert err.value.__cause__ is not None  # translated once, cause kept


def test_transaction_is_unusable_after_its_block(wh: Warehouse) -> None:
    with wh.transaction() as tx:
        pass
    with pytest.raises(WarehouseError, match="transaction is over"):
        tx.upsert("videos", [video("v1")])


# -- state and runs --------------------------------------------------------------------------

def test_watermarks_and_reads_inside_a_transaction(wh: Warehouse) -> None:
    assert wh.get_watermark("r2.storage") is None
    with wh.transaction() as tx:
        tx.set_watermark("r2.storage", date(2026, 6, 28), {"lag_days": 2})
        # a read in the same process while the write transaction is open sees committed data
        assert wh.get_watermark("r2.storage") is None
        assert tx.execute("SELECT watermark FROM sync_state") == [(date(2026, 6, 28),)]
    state = wh.get_state("r2.storage")
    assert state is not None
    assert state["watermark"] == date(2026, 6, 28) and state["details"] == {"lag_days": 2}
    with wh.transaction() as tx:
        tx.set_watermark("r2.storage", "2026-06-29")
    assert wh.get_watermark("r2.storage") == date(2026, 6, 29)


def test_cover_records_whole_days_and_a_re_fetch_never_moves_the_watermark_back(
        wh: Warehouse) -> None:
    with wh.transaction() as tx:
        assert tx.cover("r2_storage", date(2026, 6, 1), date(2026, 6, 1)) is None  # empty
        assert tx.cover("r2_storage", date(2026, 6, 1), date(2026, 6, 11)) == date(2026, 6, 10)
    with wh.transaction() as tx:  # a re-fetch of earlier days
        assert tx.cover("r2_storage", date(2026, 6, 3), date(2026, 6, 5)) == date(2026, 6, 10)
    assert wh.get_watermark("r2_storage") == date(2026, 6, 10)
    cov = wh.coverage()
    assert cov.to_dict("records") == [{"source": "r2_storage", "first_day": date(2026, 6, 1),
                                       "last_day": date(2026, 6, 10), "days": 10}]
    with pytest.raises(RuntimeError), wh.transaction() as tx:  # rolled back with its window
        tx.cover("r2_storage", date(2026, 6, 11), date(2026, 6, 20))
        raise RuntimeError("the window failed")
    assert wh.get_watermark("r2_storage") == date(2026, 6, 10)
    assert wh.coverage()["days"].tolist() == [10]


def test_a_v5_warehouse_gets_coverage_from_its_watermarks(tmp_path: Path) -> None:
    from lc_analytics.costs.usage import last_synced_day

    path = tmp_path / "v5.duckdb"
    con = duckdb.connect(str(path))
    con.execute(BOOTSTRAP_SQL)
    for m in MIGRATIONS[:5]:
        con.execute(m.sql)
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())",
                    [m.version, m.description])
    con.execute("INSERT INTO r2_storage_daily VALUES ('2026-06-27', 'rec', 5, 1, 2, 0)")
    con.execute("INSERT INTO sync_state VALUES ('r2_storage', '2026-06-29', now(), NULL), "
                "('minutes_viewed', '2026-06-30', now(), NULL), "
                "('stream', '2026-07-01', now(), NULL)")
    con.close()
    wh = Warehouse(path)
    assert wh.applied_migrations == list(range(6, SCHEMA_VERSION + 1))
    assert wh.coverage().to_dict("records") == [
        {"source": "minutes_viewed", "first_day": date(2026, 6, 30),
         "last_day": date(2026, 6, 30), "days": 1},
        {"source": "r2_storage", "first_day": date(2026, 6, 27),
         "last_day": date(2026, 6, 29), "days": 3},
    ]
    assert last_synced_day(wh) == date(2026, 6, 29)


def test_sync_runs_are_recorded(wh: Warehouse) -> None:
    stale = wh.start_run(["stream"])
    run_id = wh.start_run(["stream", "r2"])
    with wh.transaction() as tx:
        tx.upsert("r2_listing_calls", [{"run_id": run_id, "bucket": "rec", "calls": 4}])
    wh.finish_run(run_id, "ok", rows={"videos": 2, "r2_objects": 5}, requests=9, retries=1,
                  listing_calls=4)
    runs = wh.query("SELECT * FROM sync_runs ORDER BY started_at, run_id").set_index("run_id")
    assert runs.loc[stale, "status"] == "interrupted"
    done = runs.loc[run_id]
    assert (done.status, done.sources, done.requests, done.retries, done.listing_calls) == (
        "ok", "stream,r2", 9, 1, 4)
    assert done.rows_json == '{"r2_objects": 5, "videos": 2}'
    assert done.duration_seconds >= 0 and pd.isna(done.error)
    with pytest.raises(WarehouseError, match="unknown sync run"):
        wh.finish_run("nope", "failed", error="boom")
    with pytest.raises(WarehouseError, match="run status must be one of"):
        wh.finish_run(run_id, "running")


# -- locks -----------------------------------------------------------------------------------

def test_connect_raises_locked_while_another_process_writes(wh: Warehouse) -> None:
    wh.lock_timeout = 0.5
    with child(HOLD_WRITE.format(path=str(wh.path))) as proc:
        started = time.monotonic()
        with pytest.raises(WarehouseLockedError) as err, wh.connect(read_only=True):
            pass
        assert time.monotonic() - started >= 0.45
        assert str(wh.path) in str(err.value) and f"process {proc.pid}" in str(err.value)
        assert err.value.context["pid"] == proc.pid
        release(proc)
        assert wh.query("SELECT count(*) AS n FROM videos").n.tolist() == [0]


def test_connect_waits_for_a_short_writer(wh: Warehouse) -> None:
    code = HOLD_WRITE.replace("sys.stdin.read()", "import time; time.sleep(0.3)")
    with child(code.format(path=str(wh.path))), wh.transaction() as tx:  # retried until free
        tx.upsert("sync_state", [{"source": "x", "watermark": None,
                                  "updated_at": T1, "details_json": None}])
    assert wh.table_counts()["sync_state"] == 1


def test_sync_lock_refuses_a_second_sync(tmp_path: Path) -> None:
    db = tmp_path / "wh.duckdb"
    code = (
        "import sys\nfrom lc_analytics.warehouse import sync_lock\n"
        f"with sync_lock({str(db)!r}):\n"
        "    print('ready', flush=True)\n    sys.stdin.read()\n"
    )
    with child(code) as proc:
        with pytest.raises(WarehouseLockedError) as err, sync_lock(db, timeout=0.3):
            pass
        message = str(err.value)
        assert message.startswith(f"another sync is running on {db} (pid {proc.pid}, started ")
        release(proc)
        with sync_lock(db, timeout=1.0) as lock_file:
            assert f'"pid": {os.getpid()}' in lock_file.read_text()
