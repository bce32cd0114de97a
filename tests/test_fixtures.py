"""The shared fixtures stand in for what they replace: a fresh account, a fresh full sync."""

from __future__ import annotations

import pandas as pd

from lc_analytics.sandbox import Sandbox, SimulatedAccount
from lc_analytics.sync import sync
from lc_analytics.warehouse import Warehouse

from .conftest import END, SEED

# The columns that hold the machine's wall clock (the run's id and times), not synced data.
RUN_TIME = {"sync_runs": ["run_id", "started_at", "finished_at", "duration_seconds"],
            "r2_listing_calls": ["run_id"], "sync_state": ["updated_at"],
            "schema_migrations": ["applied_at"], "coverage": ["committed_at"]}


def _truth_frames(acct: SimulatedAccount) -> dict[str, pd.DataFrame]:
    truth = acct.ground_truth()
    return {k: v for k, v in vars(truth).items() if isinstance(v, pd.DataFrame)}


def test_account_is_a_fresh_build_and_shares_nothing_with_the_next(account, _pristine_account):
    fresh = SimulatedAccount.build("small", seed=SEED, end=END)
    assert account is not _pristine_account and account.now == fresh.now
    want = _truth_frames(fresh)
    got = _truth_frames(account)
    assert set(got) == set(want) and len(want) > 10
    for name, frame in want.items():
        pd.testing.assert_frame_equal(got[name], frame, obj=name)
    assert account.planted == fresh.planted and account.capacity_minutes == fresh.capacity_minutes
    # a test's edits and clock stay in its own copy
    victim = account.visible_videos().query("state == 'ready'")["uid"].iloc[0]
    account.delete_video(victim)
    account.update_live_input(account.visible_live_inputs()["uid"].iloc[0],
                              delete_recording_after_days=45)
    account.advance(3)
    assert _pristine_account.now == fresh.now
    assert victim in set(_pristine_account.visible_videos()["uid"])
    for name, frame in _truth_frames(_pristine_account).items():
        pd.testing.assert_frame_equal(frame, want[name], obj=name)


def _tables(db) -> dict[str, pd.DataFrame]:
    wh = Warehouse(db, read_only=True)
    names = wh.query("SELECT table_name FROM information_schema.tables "
                     "WHERE table_type = 'BASE TABLE' ORDER BY table_name")["table_name"]
    out = {}
    for t in names:
        df = wh.query(f"SELECT * FROM {t}").drop(columns=RUN_TIME.get(t, []))
        out[t] = df.sort_values(list(df.columns)).reset_index(drop=True) if len(df) else df
    return out


def test_synced_copy_holds_what_a_fresh_full_sync_writes(account, synced, synced_copy, tmp_path):
    db = tmp_path / "wh.duckdb"
    with Sandbox(account) as sb:
        sync(sb.settings(db_path=db), transport=sb.transport,
             now=lambda: account.now.to_pydatetime(), progress="none")
    want, got = _tables(db), _tables(synced_copy)
    assert set(got) == set(want)
    assert sum(len(df) for df in want.values()) > 50_000
    for name, frame in want.items():
        pd.testing.assert_frame_equal(got[name], frame, obj=name)
    # and it is writable, and a copy: the session's warehouse is not touched
    now = account.now.to_pydatetime()
    with Warehouse(synced_copy).transaction() as tx:
        tx.upsert("accounts", [{"account_id": "f" * 32, "first_synced_at": now,
                                "last_synced_at": now}])
    count = "SELECT count(*) AS n FROM accounts"
    assert Warehouse(synced_copy, read_only=True).query(count)["n"].iloc[0] == 2
    assert Warehouse(synced[1], read_only=True).query(count)["n"].iloc[0] == 1
