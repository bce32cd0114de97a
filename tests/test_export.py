"""`lc-analytics warehouse export` to Parquet: read back equal to the warehouse, incremental
after a one-day sync, and an export killed mid-way leaves the last snapshot readable."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from lc_analytics.export import export_parquet, load_manifest, snapshot_files
from lc_analytics.export.destination import Destination
from lc_analytics.warehouse import SCHEMA_VERSION, Warehouse

from .conftest import copy_warehouse


def assert_reads_back(lake: Path, db: Path, *tables: str) -> None:
    """DuckDB's reading of the export's current snapshot of each of `tables` (hive columns
    dropped) holds exactly the rows of the table in the warehouse file `db`, duplicates
    included."""
    manifest = load_manifest(Destination.open(str(lake)))
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{db}' AS w (READ_ONLY)")
        for table in tables:
            listed = ", ".join(f"'{f}'" for f in snapshot_files(str(lake), table))
            hive = manifest["tables"][table]["partitioned_by"]
            drop = f"EXCLUDE ({', '.join(hive)})" if hive else ""
            con.execute(f"CREATE OR REPLACE TEMP VIEW x AS SELECT * {drop} FROM read_parquet("
                        f"[{listed}], hive_partitioning = true)")
            n_x, n_w = (con.execute(f"SELECT count(*) FROM {v}").fetchall()[0][0]
                        for v in ("x", f"w.{table}"))
            assert n_x == n_w, table
            diff = con.execute(f"SELECT count(*) FROM ((SELECT * FROM x EXCEPT ALL SELECT * "
                               f"FROM w.{table}) UNION ALL (SELECT * FROM w.{table} EXCEPT ALL "
                               "SELECT * FROM x))").fetchall()[0][0]
            assert diff == 0, f"{table}: {diff} rows differ"
    finally:
        con.close()


def changed_partitions(before: Path, after: Path, tables: dict) -> set[str]:
    """Ground truth from the two warehouse files themselves: the partitions whose rows differ."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{before}' AS b (READ_ONLY)")
    con.execute(f"ATTACH '{after}' AS a (READ_ONLY)")
    out = set()
    for name, t in tables.items():
        part = ("'year=' || year(date) || '/month=' || month(date)" if t["partitioned_by"]
                else "''")
        diff = f"(SELECT * FROM a.{name} EXCEPT ALL SELECT * FROM b.{name}) UNION ALL " \
               f"(SELECT * FROM b.{name} EXCEPT ALL SELECT * FROM a.{name})"
        for (key,) in con.execute(f"SELECT DISTINCT {part} FROM ({diff})").fetchall():
            out.add(f"{name}/{key}".rstrip("/"))
    con.close()
    return out


#: the sync's sources read through the API (the R2 listing needs the moto server: not here)
API_SOURCES = ["stream", "minutes_viewed", "r2_storage", "r2_operations", "r2_object_reads"]


def test_export_reads_back_equal_and_an_unchanged_warehouse_writes_nothing(synced_copy,
                                                                            tmp_path):
    lake = tmp_path / "lake"
    first = export_parquet(Warehouse(synced_copy), str(lake))
    manifest = json.loads((lake / "_manifest.json").read_text())
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["snapshot_id"] == first.snapshot_id
    counts = Warehouse(synced_copy, read_only=True).table_counts()
    del counts["export_state"]
    assert first.rows == counts and set(manifest["tables"]) == set(counts)
    assert counts["minutes_viewed_daily"] > 1000 and counts["r2_objects"] > 100
    assert_reads_back(lake, synced_copy, *manifest["tables"])
    for table, t in manifest["tables"].items():
        for key, p in t["partitions"].items():
            data = (lake / p["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == p["sha256"] and len(data) == p["bytes"]
            assert p["path"] == f"{table}/{key}/part-{first.snapshot_id}.parquet".replace("//", "/")
    daily = manifest["tables"]["minutes_viewed_daily"]["partitions"]
    assert sorted(daily) == ["year=2026/month=4", "year=2026/month=5", "year=2026/month=6"]
    assert manifest["tables"]["videos"]["partitioned_by"] == []
    # the hive columns are the date's year and month
    con = duckdb.connect()
    assert con.execute("SELECT count(*) FROM read_parquet($f, hive_partitioning = true) "
                       "WHERE year(date) <> year OR month(date) <> month",
                       {"f": snapshot_files(str(lake), "r2_storage_daily")}).fetchone() == (0,)
    files = {p: p.stat().st_mtime_ns for p in lake.rglob("*") if p.is_file()}

    again = export_parquet(Warehouse(synced_copy), str(lake))
    assert again.snapshot_id is None and again.written == [] and again.deleted == []
    assert again.kept == sum(len(t["partitions"]) for t in manifest["tables"].values())
    assert {p: p.stat().st_mtime_ns for p in lake.rglob("*") if p.is_file()} == files


def test_incremental_export_after_a_one_day_sync_rewrites_only_what_changed(
        account, synced_copy, tmp_path):
    from lc_analytics.sandbox import Sandbox
    from lc_analytics.sync import sync

    lake = tmp_path / "lake"
    first = export_parquet(Warehouse(synced_copy), str(lake))
    before = copy_warehouse(synced_copy, tmp_path / "before")
    with Sandbox(account, r2=False) as sb:
        account.advance(1)
        sync(sb.settings(db_path=synced_copy), transport=sb.transport, sources=API_SOURCES,
             now=lambda: account.now.to_pydatetime(), progress="none")
    manifest = load_manifest(Destination.open(str(lake)))
    expected = changed_partitions(before, synced_copy, manifest["tables"])
    second = export_parquet(Warehouse(synced_copy), str(lake))
    assert set(second.written) == expected
    assert "minutes_viewed_daily/year=2026/month=7" in expected  # the new day
    assert "minutes_viewed_daily/year=2026/month=4" not in expected  # untouched history
    assert second.kept == sum(len(t["partitions"]) for t in manifest["tables"].values()) \
        - len(expected & {f"{n}/{k}".rstrip("/") for n, t in manifest["tables"].items()
                          for k in t["partitions"]})
    old_files = {p["path"] for t in manifest["tables"].values() for p in t["partitions"].values()}
    assert sorted(second.deleted) == sorted(
        f for f in old_files if f.split("/part-")[0] in set(second.written))
    assert all(f"part-{first.snapshot_id}" in f for f in second.deleted)
    assert_reads_back(lake, synced_copy, "minutes_viewed_daily", "videos", "sync_runs",
                      "coverage")


KILLER = """
import sys, time
from pathlib import Path
import lc_analytics.export.parquet as p
from lc_analytics.warehouse import Warehouse
real = p._write_partition
def slow(*args, **kwargs):
    out = real(*args, **kwargs)
    Path(sys.argv[3]).write_text("one partition written")
    time.sleep(120)
    return out
p._write_partition = slow
p.export_parquet(Warehouse(sys.argv[1]), sys.argv[2])
"""


def test_a_killed_export_leaves_the_last_snapshot_readable(synced_copy, tmp_path):
    lake = tmp_path / "lake"
    first = export_parquet(Warehouse(synced_copy), str(lake))
    snapshot = copy_warehouse(synced_copy, tmp_path / "snap")
    with Warehouse(synced_copy).transaction() as tx:  # a change to export
        tx.execute("UPDATE r2_storage_daily SET payload_size = payload_size + 1")
    marker = tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-c", KILLER, str(synced_copy), str(lake),
                             str(marker)], env=dict(os.environ))
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "export never started"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    leftovers = [p for p in lake.rglob("*.parquet") if first.snapshot_id not in p.name]
    assert len(leftovers) == 1  # written, but in no snapshot
    assert load_manifest(Destination.open(str(lake)))["snapshot_id"] == first.snapshot_id
    assert_reads_back(lake, snapshot, "r2_storage_daily")

    done = export_parquet(Warehouse(synced_copy), str(lake))
    assert str(leftovers[0].relative_to(lake)) in done.deleted
    assert sorted(done.written) == sorted(
        f"r2_storage_daily/{k}" for k in load_manifest(
            Destination.open(str(lake)))["tables"]["r2_storage_daily"]["partitions"])
    assert_reads_back(lake, synced_copy, "r2_storage_daily")


def test_cli_export_and_bad_tables(synced_copy, tmp_path, capsys, monkeypatch):
    from lc_analytics.cli import main
    from lc_analytics.errors import UsageError

    lake = tmp_path / "lake"
    code = main(["warehouse", "export", "--to", str(lake), "--db", str(synced_copy),
                 "--tables", "videos", "nonesuch"])
    assert code == 2 and not lake.exists()  # refused before anything is created
    assert "no table 'nonesuch'" in capsys.readouterr().err
    code = main(["warehouse", "export", "--to", str(lake), "--db", str(synced_copy),
                 "--format", "iceberg", "--tables", "nonesuch"])
    assert code == 2 and not lake.exists()
    assert "no table 'nonesuch'" in capsys.readouterr().err
    assert main(["warehouse", "export", "--to", str(lake), "--db", str(synced_copy),
                 "--tables", "videos", "r2_storage_daily"]) == 0
    assert "2 tables" in capsys.readouterr().out
    assert set(load_manifest(Destination.open(str(lake)))["tables"]) == {"videos",
                                                                         "r2_storage_daily"}
    for name in ("R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY", "R2_ENDPOINT_URL",
                 "CLOUDFLARE_ACCOUNT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env
    code = main(["warehouse", "export", "--to", "s3://lake/lc", "--db", str(synced_copy)])
    err = capsys.readouterr().err
    assert code == 2 and "R2_ACCESS_KEY_ID is not set (needed by --to s3://lake/lc)" in err
    code = main(["warehouse", "export", "--to", "ftp://x/y", "--db", str(synced_copy)])
    assert code == 2 and "s3://bucket/prefix" in capsys.readouterr().err
    code = main(["warehouse", "export", "--to", str(lake), "--db", str(tmp_path / "none.db")])
    assert code == 8 and "no warehouse at" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()
    with pytest.raises(UsageError, match="read-write"):
        export_parquet(Warehouse(synced_copy, read_only=True), str(tmp_path / "other"))


@pytest.mark.parametrize("bad", ["format", "newer"])
def test_a_foreign_manifest_is_refused(synced_copy, tmp_path, bad):
    from lc_analytics.errors import UsageError

    lake = tmp_path / "lake"
    lake.mkdir()
    manifest = {"format": "something-else"} if bad == "format" else {
        "format": "lc-analytics-parquet", "format_version": 99}
    (lake / "_manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UsageError, match="_manifest.json"):
        export_parquet(Warehouse(synced_copy), str(lake))
    assert sorted(p.name for p in lake.iterdir()) == ["_manifest.json"]


def test_a_migrations_new_column_carries_over_with_the_new_schema_version(
        synced_copy, tmp_path, monkeypatch):
    from lc_analytics.warehouse import Migration, migrations

    lake = tmp_path / "lake"
    first = export_parquet(Warehouse(synced_copy), str(lake))
    newer = Migration(99, "live input region",
                      "ALTER TABLE live_inputs ADD COLUMN region VARCHAR DEFAULT 'weur';")
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, newer])
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", 99)
    wh = Warehouse(synced_copy)  # migrates to 99
    assert wh.applied_migrations == [99]
    second = export_parquet(wh, str(lake))
    manifest = load_manifest(Destination.open(str(lake)))
    assert first.schema_version == SCHEMA_VERSION and manifest["schema_version"] == 99
    assert second.written == ["live_inputs"]  # the only table whose columns changed
    assert manifest["tables"]["live_inputs"]["columns"][-1] == ["region", "VARCHAR"]
    assert_reads_back(lake, synced_copy, "live_inputs")
    con = duckdb.connect()
    assert con.execute("SELECT DISTINCT region FROM read_parquet($f)", {
        "f": snapshot_files(str(lake), "live_inputs")}).fetchall() == [("weur",)]


def test_export_to_r2(synced_copy, shared_account, tmp_path):
    import pyarrow.parquet as pq

    from lc_analytics.sandbox import Sandbox

    with Sandbox(shared_account) as sb:
        settings = sb.settings(db_path=synced_copy)
        sb.r2.client().create_bucket(Bucket="lake")
        first = export_parquet(Warehouse(synced_copy), "s3://lake/lc", settings=settings)
        dest = Destination.open("s3://lake/lc", settings)
        manifest = load_manifest(dest)
        assert manifest["snapshot_id"] == first.snapshot_id
        assert first.rows["r2_storage_daily"] > 100
        for table in ("r2_storage_daily", "videos"):
            paths = [p["path"] for p in manifest["tables"][table]["partitions"].values()]
            got = pa_concat([pq.read_table(dest.path(p), filesystem=dest.fs) for p in paths])
            con = duckdb.connect()
            con.execute(f"ATTACH '{synced_copy}' AS w (READ_ONLY)")
            con.register("got", got)
            assert con.execute(f"SELECT count(*) FROM ((SELECT * FROM got EXCEPT ALL SELECT * "
                               f"FROM w.{table}) UNION ALL (SELECT * FROM w.{table} EXCEPT ALL "
                               "SELECT * FROM got))").fetchall() == [(0,)]
            con.close()
            assert len(got) == first.rows[table]
        again = export_parquet(Warehouse(synced_copy), "s3://lake/lc", settings=settings)
        assert again.snapshot_id is None and again.written == []
    assert settings.r2_secret_access_key.reveal() not in json.dumps(manifest)


def pa_concat(tables):
    import pyarrow as pa
    return pa.concat_tables(tables)
