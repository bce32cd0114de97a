"""The built warehouse equals what a real sync writes for the days the API still serves."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pandas as pd
import pytest

from lc_analytics.errors import SandboxError
from lc_analytics.sandbox.warehouse_builder import build_warehouse

# Bookkeeping columns that name a run or the moment a row was written, not a fact.
BOOKKEEPING = {
    "sync_runs": None,  # one row per run: ids, timings and counts differ by construction
    "r2_listing_calls": None,  # keyed by run id
    "coverage": {"committed_at"},
    "schema_migrations": {"applied_at"},
    "sync_state": {"updated_at"},
    "accounts": {"first_synced_at", "last_synced_at"},
    "minutes_viewed_daily": {"synced_at"},
}
SERVED = {  # table -> days back from `now` the API still answers
    "minutes_viewed_daily": 90,
    "r2_storage_daily": 31,
    "r2_operations_daily": 31,
    "r2_object_reads_daily": 31,
}


@pytest.fixture(scope="module")
def built(shared_account, tmp_path_factory):
    acct = shared_account  # the builder only reads the account
    path = tmp_path_factory.mktemp("built") / "wh.duckdb"
    return acct, path, build_warehouse(acct, path)


def _table(path, table, where="") -> pd.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        cols = [c for c, *_ in con.execute(f"DESCRIBE {table}").fetchall()
                if c not in (BOOKKEEPING.get(table) or set())]
        df = con.execute(f"SELECT {', '.join(cols)} FROM {table} {where} "
                         f"ORDER BY ALL").df()
    finally:
        con.close()
    return df


def _tables(path) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
        ).fetchall()]
    finally:
        con.close()


def test_built_warehouse_equals_the_sync_for_the_served_days(built, synced):
    acct, path, _ = built
    _, synced_path, _ = synced
    tables = _tables(synced_path)
    assert sorted(_tables(path)) == sorted(tables)
    today = acct.now.date()
    compared = 0
    for table in tables:
        if table in BOOKKEEPING and BOOKKEEPING[table] is None:
            continue
        where = ""
        if table in SERVED:
            where = f"WHERE date >= DATE '{today - timedelta(days=SERVED[table])}'"
        elif table == "coverage":
            continue  # compared below: the build covers more days than the sync
        want, got = _table(synced_path, table, where), _table(path, table, where)
        if table == "sync_state":
            continue  # compared below
        pd.testing.assert_frame_equal(got, want, obj=table)
        compared += len(want)
    assert compared > 10_000
    # coverage and watermarks: the served days are covered in both, and the build covers
    # every day of the simulated history
    for source, days in (("minutes_viewed", 90), ("r2_storage", 31)):
        first = today - timedelta(days=days)
        sql = (f"WHERE source = '{source}' AND day >= DATE '{first}'")
        pd.testing.assert_frame_equal(_table(path, "coverage", sql),
                                      _table(synced_path, "coverage", sql))
    cov = _table(path, "coverage", "WHERE source = 'minutes_viewed'")
    assert cov["day"].min().date() == acct.start
    assert cov["day"].max().date() == acct.end
    assert len(cov) == (acct.end - acct.start).days + 1
    want_state = _table(synced_path, "sync_state")
    got_state = _table(path, "sync_state")
    # watermarks, and the listing state the next (incremental) sync starts from
    pd.testing.assert_frame_equal(got_state[["source", "watermark", "details_json"]],
                                  want_state[["source", "watermark", "details_json"]])


def test_built_history_equals_the_ground_truth(built):
    acct, path, report = built
    truth = acct.ground_truth()
    got = _table(path, "minutes_viewed_daily")
    want = truth.minutes_viewed.assign(date=truth.minutes_viewed["date"].dt.date)
    assert len(got) == len(want) == report.rows["minutes_viewed_daily"]
    assert got["minutes_viewed"].sum() == want["minutes_viewed"].sum()
    ops = _table(path, "r2_operations_daily")
    assert len(ops) == len(truth.r2_operations_daily)
    assert ops["requests"].sum() == truth.r2_operations_daily["requests"].sum()
    storage = _table(path, "r2_storage_daily")
    assert storage["payload_size"].tolist() == truth.r2_storage_daily.sort_values(
        ["date", "bucket"])["payload_size"].tolist()


def test_the_builder_refuses_an_existing_path(shared_account, tmp_path):
    path = tmp_path / "wh.duckdb"
    path.write_bytes(b"")
    with pytest.raises(SandboxError, match="already exists"):
        build_warehouse(shared_account, path)
    assert path.read_bytes() == b""


def test_load_range_fills_an_empty_range_and_refuses_a_held_one(tmp_path):
    from datetime import date

    from lc_analytics.errors import WarehouseError
    from lc_analytics.warehouse import Warehouse

    wh = Warehouse(tmp_path / "wh.duckdb")
    rows = pd.DataFrame({"date": [date(2026, 6, 1), date(2026, 6, 2)], "uid": ["a", "a"],
                         "country": ["US", "US"], "creator": ["c", "c"],
                         "minutes_viewed": [1.5, 2.0]})
    lo, hi = date(2026, 6, 1), date(2026, 7, 1)
    with wh.transaction() as tx:
        assert tx.load_range("minutes_viewed_daily", "date", lo, hi, rows) == 2
    got = wh.query("SELECT date, minutes_viewed FROM minutes_viewed_daily ORDER BY date")
    assert got["minutes_viewed"].tolist() == [1.5, 2.0]
    with pytest.raises(WarehouseError, match="2 row.s. already hold"), wh.transaction() as tx:
        tx.load_range("minutes_viewed_daily", "date", lo, hi, rows)
    with pytest.raises(WarehouseError, match="outside"), wh.transaction() as tx:
        tx.load_range("minutes_viewed_daily", "date", date(2026, 7, 1), date(2026, 7, 2), rows)
    with pytest.raises(WarehouseError, match="not an analytics table"), \
            wh.transaction() as tx:
        tx.load_range("r2_objects", "last_modified", lo, hi, [])
    assert wh.query("SELECT count(*) AS n FROM minutes_viewed_daily")["n"][0] == 2
