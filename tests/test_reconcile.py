"""Reconciliation with Cloudflare's bill: the sandbox's billable usage (its own pricing) against
the engine's bill; the planted contract price and uncovered product are found and explained,
and the proposed overlay closes the contract difference to the cent."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import httpx
import pytest

from lc_analytics.costs.pricebook import load_book
from lc_analytics.costs.reconcile import reconcile
from lc_analytics.sandbox import Sandbox, SimulatedAccount, billing_truth
from lc_analytics.sandbox.apis.billing import switch
from lc_analytics.sandbox.emulator import CORE_PERMISSIONS
from lc_analytics.sync import sync
from lc_analytics.warehouse import Warehouse

CENT = Decimal("0.01")


def _kinds(rec, month):
    rows = rec.rows[rec.rows["month"] == month]
    return dict(zip(rows["metric"], rows["kind"], strict=True))


def _contract_book(rec, tmp_path):
    """The list prices with the one proposed overlay applied (written as a user would)."""
    assert list(rec.overlays) == ["cf-stream-minutes-delivered"]
    path = tmp_path / "contract.toml"
    path.write_text(rec.overlays["cf-stream-minutes-delivered"])
    return load_book("cloudflare", overlay=path)


def test_the_default_account_reconciles_with_both_planted_differences(synced, tmp_path):
    sb, db, report = synced
    acct = sb.account
    wh = Warehouse(db, read_only=True)
    assert report.notes["billed_usage"].startswith("748 rows (v2 API) in 3 window(s)")
    june, may = date(2026, 6, 1), date(2026, 5, 1)
    rec = reconcile(wh, months=[may, june])
    assert billing_truth.contract_from(acct) == june
    kinds = _kinds(rec, june)
    # planted: delivery at the contract price from June 1; Images not in the price book
    assert kinds.pop("stream-minutes-delivered") == "contract_price"
    assert kinds.pop("images-delivered") == "not_modelled"
    assert set(kinds.values()) == {"match"}  # every R2 and capacity meter agrees exactly
    assert _kinds(rec, may)["stream-minutes-delivered"] == "match"
    assert "unexplained" not in set(rec.rows["kind"])
    # the billed figures are the sandbox's truth: June's minutes x 0.80 / 1,000
    minutes = int(acct.ground_truth(june, date(2026, 6, 30)).minutes_viewed_daily[
        "minutes_viewed"].sum())
    row = rec.rows[(rec.rows["month"] == june)
                   & (rec.rows["metric"] == "stream-minutes-delivered")].iloc[0]
    assert row["billed_cost"] == Decimal(minutes) * Decimal("0.80") / 1000
    assert row["modelled_cost"] == Decimal(minutes) / 1000
    assert row["billed_quantity"] == row["modelled_quantity"] == minutes
    images = billing_truth.daily_usage(acct, june, date(2026, 6, 30))
    want = sum(images.loc[images["metric"] == "images-delivered", "quantity"]) / 100_000
    assert rec.rows[(rec.rows["month"] == june)
                    & (rec.rows["metric"] == "images-delivered")]["billed_cost"].iloc[0] == want
    # summary.json's part: exact decimal strings, every difference with its kind
    summary = json.loads(json.dumps(rec.as_dict()))
    assert {(d["metric"], d["kind"]) for d in summary["differences"]
            if d["month"] == "2026-06-01"} == {("stream-minutes-delivered", "contract_price"),
                                                ("images-delivered", "not_modelled")}
    assert summary["months"][1]["billed"] == str(sum(
        rec.rows[rec.rows["month"] == june]["billed_cost"]))
    # the proposed overlay closes the contract difference to the cent, and only it
    text = rec.overlays["cf-stream-minutes-delivered"]
    assert 'amount = "0.80"' in text and "effective_from = 2026-06-01" in text
    after = reconcile(wh, _contract_book(rec, tmp_path), months=[june])
    fixed = after.rows[(after.rows["month"] == june)
                       & (after.rows["metric"] == "stream-minutes-delivered")].iloc[0]
    assert fixed["kind"] == "match" and abs(fixed["difference"]) < CENT
    assert fixed["modelled_cost"].quantize(CENT) == fixed["billed_cost"].quantize(CENT)
    assert after.overlays == {}


def test_another_seed_and_end_date_in_a_month_to_date(tmp_path):
    """Seed 11 ending 2026-08-07: the contract starts July 1; August is billed to date and
    the warehouse's half-synced today (August 8) is not priced against it."""
    acct = SimulatedAccount.build("small", seed=11, end=date(2026, 8, 7))
    august = date(2026, 8, 1)
    assert billing_truth.contract_from(acct) == date(2026, 7, 1)
    db = tmp_path / "wh.duckdb"
    with Sandbox(acct, r2=False) as sb:
        sync(sb.settings(db_path=db), transport=sb.transport, since=august,
             sources=["minutes_viewed", "billed_usage"],
             now=lambda: acct.now.to_pydatetime(), progress="none")
    wh = Warehouse(db, read_only=True)
    rec = reconcile(wh)
    kinds = _kinds(rec, august)
    assert kinds["stream-minutes-delivered"] == "contract_price"
    assert kinds["images-delivered"] == "not_modelled"
    # no R2 synced: every billed R2 charge is a timing difference, never a wrong price
    r2 = {m: k for m, k in kinds.items() if m.startswith("r2-")}
    assert set(r2.values()) <= {"timing", "match"} and r2["r2-storage-standard"] == "timing"
    assert "effective_from = 2026-08-01" in rec.overlays["cf-stream-minutes-delivered"]
    after = reconcile(wh, _contract_book(rec, tmp_path))
    row = after.rows[after.rows["metric"] == "stream-minutes-delivered"].iloc[0]
    assert row["kind"] == "match" and abs(row["difference"]) < CENT


@pytest.fixture
def billing_sandbox(shared_account):
    with Sandbox(shared_account, r2=False) as sb:
        yield sb


def _sync_billing(sb, db, since=date(2026, 6, 1)):
    acct = sb.account
    return sync(sb.settings(db_path=db), transport=sb.transport, since=since,
                sources=["billed_usage"], now=lambda: acct.now.to_pydatetime(),
                progress="none")


def test_v2_refused_falls_back_to_v1_with_the_same_bill(billing_sandbox, tmp_path):
    switch(billing_sandbox.emulator).v2 = False
    report = _sync_billing(billing_sandbox, tmp_path / "wh.duckdb")
    assert report.notes["billed_usage"].startswith("273 rows (v1 API) in 1 window(s)")
    wh = Warehouse(tmp_path / "wh.duckdb", read_only=True)
    rows = wh.query("SELECT ServiceName, sum(BilledCost)::VARCHAR AS c FROM billed_usage "
                    "WHERE ServiceName = 'Stream Minutes Delivered' GROUP BY 1")
    truth = billing_truth.billed_rows(billing_sandbox.account, date(2026, 6, 1),
                                      date(2026, 6, 30))
    want = sum(truth.loc[truth["metric"] == "stream-minutes-delivered", "billed_cost"])
    assert Decimal(rows["c"].iloc[0]) == want
    # the next sync re-fetches from the anchor day (V1 answers nothing without it)
    again = _sync_billing(billing_sandbox, tmp_path / "wh.duckdb", since=None)
    assert again.notes["billed_usage"].startswith("273 rows (v1 API) in 1 window(s), "
                                                  "2026-06-01 to 2026-06-30")
    assert wh.query("SELECT count(*) AS n FROM billed_usage")["n"].iloc[0] == 273


def test_neither_version_enabled_is_said_plainly(billing_sandbox, tmp_path):
    switch(billing_sandbox.emulator).v2 = False
    switch(billing_sandbox.emulator).v1 = False
    report = _sync_billing(billing_sandbox, tmp_path / "wh.duckdb")
    note = report.notes["billed_usage"]
    assert note.startswith("not synced: billable usage is not available")
    assert "v2: HTTP 403, v1: HTTP 404" in note and "Billing > Read" in note
    rec = reconcile(Warehouse(tmp_path / "wh.duckdb", read_only=True))
    assert rec.rows.empty and "not enabled" in rec.note


def test_a_token_without_billing_read_gets_403(shared_account, tmp_path):
    token = "core-token-without-billing"
    with Sandbox(shared_account, r2=False, tokens={token: set(CORE_PERMISSIONS)}) as sb:
        path = f"/client/v4/accounts/{shared_account.account_id}/billable/usage"
        answer = sb.emulator.handle("GET", path, "from=2026-06-01&to=2026-06-30",
                                    {"Authorization": f"Bearer {token}"}, b"")
        assert answer.status == 403
        report = _sync_billing(sb, tmp_path / "wh.duckdb")
        assert "v2: HTTP 403, v1: HTTP 403" in report.notes["billed_usage"]


def test_the_api_keeps_its_limits(billing_sandbox):
    client = httpx.Client(transport=billing_sandbox.transport,
                          base_url=billing_sandbox.settings().api_base_url,
                          headers={"Authorization": f"Bearer {billing_sandbox.token}"})
    base = f"/accounts/{billing_sandbox.account.account_id}"
    too_long = client.get(f"{base}/billable/usage", params={"from": "2026-05-01",
                                                             "to": "2026-06-01"})
    assert too_long.status_code == 400 and "31 days" in too_long.text
    no_anchor = client.get(f"{base}/billable-usage", params={"from": "2026-06-02",
                                                              "to": "2026-06-30"})
    assert no_anchor.status_code == 200 and no_anchor.json()["result"] == []
    info = client.get(f"{base}/billable-usage/info").json()["result"]
    assert info["subscriptions"][0]["billing_cycle_anchor_timestamp"] == "2026-03-01T00:00:00Z"
