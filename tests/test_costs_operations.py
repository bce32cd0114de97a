"""R2 requests refused with 401/403 are synced but not billed; other failed requests are billed.

The sandbox's traffic has both kinds (401 GetObject, 403 PutObject, 404/500 GetObject); its
ground truth keeps every request in `r2_operations_daily` and only billable ones in
`r2_billing_operations` (its own copy of the rule).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from lc_analytics.costs.usage import warehouse_usage
from lc_analytics.warehouse import MIGRATIONS, Warehouse
from lc_analytics.warehouse.schema import BOOTSTRAP_SQL

JUNE = (pd.Timestamp("2026-06-01", tz="UTC"), pd.Timestamp("2026-07-01", tz="UTC"))


def _june(df: pd.DataFrame) -> pd.DataFrame:
    return df[(df["date"] >= JUNE[0]) & (df["date"] < JUNE[1])]


@pytest.fixture(scope="module")
def truth(synced):
    return synced[0].account.ground_truth()


@pytest.fixture(scope="module")
def wh(synced):
    return Warehouse(synced[1], read_only=True)


def test_the_sandbox_traffic_has_refused_and_other_failed_requests(truth):
    raw = _june(truth.r2_operations_daily)
    by_code = raw.groupby("response_status_code")["requests"].sum()
    assert {200, 401, 403, 404, 500} <= set(by_code.index)
    assert by_code[401] > 100 and by_code[403] > 30 and by_code[404] > 100
    refused = raw[raw["response_status_code"].isin([401, 403])]
    assert set(refused["action_status"]) == {"userError"}
    assert set(refused["action_type"]) == {"GetObject", "PutObject"}  # Class B and Class A


def test_the_warehouse_keeps_every_request_with_its_status_code(wh, truth):
    got = wh.query("SELECT response_status_code AS code, sum(requests)::BIGINT AS n "
                   "FROM r2_operations_daily WHERE date >= '2026-06-01' AND date < '2026-07-01' "
                   "GROUP BY code ORDER BY code")
    want = _june(truth.r2_operations_daily).groupby("response_status_code")["requests"].sum()
    assert dict(zip(got["code"], got["n"], strict=True)) == {int(k): int(v)
                                                             for k, v in want.items()}


def test_class_a_and_b_counts_leave_out_401_and_403_only(wh, truth):
    ops = warehouse_usage(wh, "2026-06").usage.r2_operations
    got = ops.groupby(["op_class", "storage_class"])["requests"].sum()
    billable = _june(truth.r2_billing_operations).groupby(["op_class", "storage_class"])[
        "requests"].sum()
    assert {k: int(v) for k, v in got.items()} == {k: int(v) for k, v in billable.items()}
    # raw counts (all requests, failures included) exceed the billed ones by exactly the
    # refused requests; 404s and 500s stay in the bill
    raw = _june(truth.r2_operations_by_class).groupby("op_class")["requests"].sum()
    daily = _june(truth.r2_operations_daily)
    refused = daily[daily["response_status_code"].isin([401, 403])]
    assert int(raw["A"]) - int(got.xs("A", level="op_class").sum()) == int(
        refused.loc[refused["action_type"] == "PutObject", "requests"].sum()) > 0
    assert int(raw["B"]) - int(got.xs("B", level="op_class").sum()) == int(
        refused.loc[refused["action_type"] == "GetObject", "requests"].sum()) > 0


def test_operations_synced_before_v6_keep_code_0_and_stay_billable(tmp_path: Path):
    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    con.execute(BOOTSTRAP_SQL)
    for m in MIGRATIONS[:5]:
        con.execute(m.sql)
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())",
                    [m.version, m.description])
    con.execute("INSERT INTO r2_operations_daily VALUES "
                "('2026-06-02', 'b', 'GetObject', 'userError', 7), "
                "('2026-06-02', 'b', 'PutObject', 'success', 5)")
    con.execute("INSERT INTO r2_storage_daily VALUES ('2026-06-02', 'b', 10, 1, 1, 0)")
    con.close()
    wh = Warehouse(db)
    assert 6 in wh.applied_migrations
    rows = wh.query("SELECT action_type, response_status_code, requests FROM "
                    "r2_operations_daily ORDER BY action_type")
    assert rows.values.tolist() == [["GetObject", 0, 7], ["PutObject", 0, 5]]
    ops = warehouse_usage(wh, "2026-06").usage.r2_operations
    assert dict(zip(ops["op_class"], ops["requests"], strict=True)) == {"B": 7, "A": 5}
