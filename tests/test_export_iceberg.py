"""`warehouse export --format iceberg` to a local SQL catalog: scans equal the warehouse, only
changed months are rewritten, a failed export leaves each table at its previous snapshot, and
a migration's new column evolves the Iceberg schema."""

from __future__ import annotations

import duckdb
import pytest

from lc_analytics.export import export_warehouse
from lc_analytics.export.iceberg import NAMESPACE, open_catalog
from lc_analytics.warehouse import Warehouse

from .conftest import copy_warehouse

TABLES = ["live_inputs", "minutes_viewed_daily", "r2_storage_daily"]


def assert_scan_equals(arrow, db, table: str) -> None:
    """The Iceberg rows hold exactly the warehouse table's rows (duplicates included)."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{db}' AS w (READ_ONLY)")
        con.register("got", arrow)
        cols = ", ".join(f'"{c}"' for c in arrow.column_names)
        n_w = con.execute(f"SELECT count(*) FROM w.{table}").fetchall()[0][0]
        assert len(arrow) == n_w > 0, table
        diff = con.execute(f"SELECT count(*) FROM ((SELECT {cols} FROM got EXCEPT ALL SELECT "
                           f"{cols} FROM w.{table}) UNION ALL (SELECT {cols} FROM w.{table} "
                           "EXCEPT ALL SELECT * FROM got))").fetchall()[0][0]
        assert diff == 0, f"{table}: {diff} rows differ"
    finally:
        con.close()


def snapshots(catalog) -> dict[str, int]:
    return {t: catalog.load_table((NAMESPACE, t)).current_snapshot().snapshot_id for t in TABLES}


def test_iceberg_export_reads_back_and_rewrites_only_the_changed_month(synced_copy, tmp_path):
    lake = str(tmp_path / "iceberg")
    first = export_warehouse(Warehouse(synced_copy), lake, format="iceberg", tables=TABLES)
    catalog, _, _ = open_catalog(lake)
    assert sorted(first.written)[:2] == ["live_inputs", "minutes_viewed_daily/year=2026/month=4"]
    for t in TABLES:
        assert_scan_equals(catalog.load_table((NAMESPACE, t)).scan().to_arrow(), synced_copy, t)
    spec = catalog.load_table((NAMESPACE, "r2_storage_daily")).spec()
    assert [str(f.transform) for f in spec.fields] == ["month"]
    before = snapshots(catalog)

    again = export_warehouse(Warehouse(synced_copy), lake, format="iceberg", tables=TABLES)
    assert again.written == [] and again.snapshot_id is None and snapshots(catalog) == before

    old = copy_warehouse(synced_copy, tmp_path / "old")
    with Warehouse(synced_copy).transaction() as tx:
        tx.execute("UPDATE r2_storage_daily SET payload_size = payload_size + 1 "
                   "WHERE date >= '2026-06-01'")
    third = export_warehouse(Warehouse(synced_copy), lake, format="iceberg", tables=TABLES)
    assert third.written == ["r2_storage_daily/year=2026/month=6"]
    after = snapshots(catalog)
    assert {t for t in TABLES if after[t] != before[t]} == {"r2_storage_daily"}
    table = catalog.load_table((NAMESPACE, "r2_storage_daily"))
    assert_scan_equals(table.scan().to_arrow(), synced_copy, "r2_storage_daily")
    old_rows = table.scan(snapshot_id=before["r2_storage_daily"]).to_arrow()
    assert_scan_equals(old_rows, old, "r2_storage_daily")  # the previous snapshot still reads


def test_a_failed_iceberg_export_leaves_the_previous_snapshot(synced_copy, tmp_path,
                                                              monkeypatch):
    import lc_analytics.export.iceberg as ice

    lake = str(tmp_path / "iceberg")
    export_warehouse(Warehouse(synced_copy), lake, format="iceberg", tables=["r2_storage_daily"])
    catalog, _, _ = open_catalog(lake)
    before = catalog.load_table((NAMESPACE, "r2_storage_daily")).current_snapshot().snapshot_id
    old = copy_warehouse(synced_copy, tmp_path / "old")
    with Warehouse(synced_copy).transaction() as tx:  # two months change
        tx.execute("UPDATE r2_storage_daily SET payload_size = payload_size + 1 "
                   "WHERE date >= '2026-05-01'")
    real, calls = ice.partition_rows, []

    def dies_on_the_second_month(con, shape, part):
        calls.append(part.key)
        if len(calls) == 3:  # the schema check, the first month, then the second: killed
            raise KeyboardInterrupt
        return real(con, shape, part)

    monkeypatch.setattr(ice, "partition_rows", dies_on_the_second_month)
    with pytest.raises(KeyboardInterrupt):
        export_warehouse(Warehouse(synced_copy), lake, format="iceberg",
                         tables=["r2_storage_daily"])
    table = catalog.load_table((NAMESPACE, "r2_storage_daily"))
    assert table.current_snapshot().snapshot_id == before
    assert_scan_equals(table.scan().to_arrow(), old, "r2_storage_daily")
    monkeypatch.setattr(ice, "partition_rows", real)
    done = export_warehouse(Warehouse(synced_copy), lake, format="iceberg",
                            tables=["r2_storage_daily"])
    assert done.written == ["r2_storage_daily/year=2026/month=5",
                            "r2_storage_daily/year=2026/month=6"]
    assert_scan_equals(catalog.load_table((NAMESPACE, "r2_storage_daily")).scan().to_arrow(),
                       synced_copy, "r2_storage_daily")


def test_a_migrations_new_column_evolves_the_iceberg_schema(synced_copy, tmp_path, monkeypatch):
    from lc_analytics.warehouse import Migration, migrations

    lake = str(tmp_path / "iceberg")
    export_warehouse(Warehouse(synced_copy), lake, format="iceberg", tables=["live_inputs"])
    newer = Migration(99, "live input region",
                      "ALTER TABLE live_inputs ADD COLUMN region VARCHAR DEFAULT 'weur';")
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, newer])
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", 99)
    result = export_warehouse(Warehouse(synced_copy), lake, format="iceberg",
                              tables=["live_inputs"])
    assert result.written == ["live_inputs"] and result.schema_version == 99
    catalog, _, _ = open_catalog(lake)
    table = catalog.load_table((NAMESPACE, "live_inputs"))
    assert table.schema().find_field("region").field_type.is_primitive
    rows = table.scan().to_arrow()
    assert set(rows.column("region").to_pylist()) == {"weur"}
    assert_scan_equals(rows, synced_copy, "live_inputs")


def test_rest_catalog_settings_are_required_and_the_token_masked():
    from lc_analytics.errors import ConfigError
    from lc_analytics.settings import Settings

    s = Settings.from_env({"ICEBERG_CATALOG_URI": "https://catalog.example/api",
                           "ICEBERG_TOKEN": "tok-very-secret"}, env_file=None)
    assert "tok-very-secret" not in repr(s) and "tok-very-secret" in s.secrets()
    with pytest.raises(ConfigError, match="ICEBERG_WAREHOUSE is not set") as err:
        open_catalog("rest://lc", s)
    assert "tok-very-secret" not in str(err.value)
    with pytest.raises(ConfigError, match="ICEBERG_CATALOG_URI must be an http"):
        Settings.from_env({"ICEBERG_CATALOG_URI": "catalog"}, env_file=None)
