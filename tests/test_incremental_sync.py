"""Incremental inventories: after incremental and skipped listings the warehouse equals a full
re-sync's, and the sandbox's truth; each skip is recorded in the run."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pandas as pd
import pytest

from lc_analytics.errors import ConfigError
from lc_analytics.readmodel import sync_skips
from lc_analytics.sandbox.runtime import Sandbox
from lc_analytics.settings import Settings
from lc_analytics.sync import sync
from lc_analytics.warehouse import Warehouse

from .conftest import copy_warehouse

INVENTORIES = ["live_inputs", "videos", "r2_objects", "r2_lifecycle_rules",
               "stream_storage_snapshots"]
SOURCES = ["stream", "r2_storage", "r2_inventory"]  # what the inventory steps read


@pytest.fixture
def sandbox(account):
    with Sandbox(account) as sb:
        yield sb


def run_sync(sb: Sandbox, db, full_listing_days: int = 7, **kw):
    settings = dataclasses.replace(sb.settings(db_path=db), full_listing_days=full_listing_days)
    return sync(settings, transport=sb.transport, now=lambda: sb.account.now.to_pydatetime(),
                progress="none", **kw)


def inventories(db) -> dict[str, pd.DataFrame]:
    """Every inventory table, less `last_seen` (a skipped listing does not see a row)."""
    wh = Warehouse(db, read_only=True)
    out = {}
    for t in INVENTORIES:
        cols = "* EXCLUDE (last_seen)" if t != "stream_storage_snapshots" else "*"
        out[t] = wh.query(f"SELECT {cols} FROM {t} ORDER BY ALL")
    return out


def test_incremental_listings_equal_a_full_resync_and_the_truth(sandbox, synced, synced_copy,
                                                                 tmp_path):
    incremental_db, full_db = synced_copy, copy_warehouse(synced[1], tmp_path / "full")
    acct = sandbox.account
    # a re-sync at the same clock: buckets whose metrics did not move are not listed
    again = run_sync(sandbox, incremental_db, sources=["r2_inventory"])
    skips = {s["subject"]: s["skipped"] for s in again.skips}
    assert skips == {"lc-product-images": 1, "lc-thumbnails": 1}  # no lifecycle rule due
    wh = Warehouse(incremental_db, read_only=True)
    recorded = wh.query("SELECT source, subject, skipped FROM sync_skips WHERE run_id = ?",
                        [again.run_id])
    assert sorted(zip(recorded["source"], recorded["subject"], recorded["skipped"],
                      strict=True)) == [("r2_inventory", b, 1) for b in sorted(skips)]
    logged = sync_skips(wh)
    assert logged[logged["run_id"] == again.run_id]["subject"].tolist() == sorted(skips)
    assert any(line.startswith("skipped r2_inventory lc-thumbnails (1): ")
               for line in again.summary_lines())
    calls = wh.query("SELECT bucket FROM r2_listing_calls WHERE run_id = ?", [again.run_id])
    buckets = set(acct.ground_truth().r2_objects["bucket"])
    assert len(buckets) == 4 and set(calls["bucket"]) == buckets - set(skips)
    # then a day passes, one live input is edited: an incremental sync and a full re-sync
    changed = acct.visible_live_inputs()["uid"].iloc[0]
    acct.update_live_input(changed, enabled=False)
    sandbox.advance(1)
    report = run_sync(sandbox, incremental_db, sources=SOURCES)
    run_sync(sandbox, full_db, sources=["stream", "r2_inventory"], full=True)
    got, want = inventories(incremental_db), inventories(full_db)
    for t in INVENTORIES:
        pd.testing.assert_frame_equal(got[t], want[t], obj=t)
    skips = {s["subject"]: s["skipped"] for s in report.skips}
    assert skips["live_inputs"] == len(acct.visible_live_inputs()) - 1  # one GET, not ten
    # a clip was deleted by hand that day: the API's video count moved, so all were listed
    assert "videos" not in skips and "full listing" in report.notes["stream"]
    # and the truth, exactly
    truth = acct.ground_truth()
    assert not got["live_inputs"].set_index("uid").at[changed, "enabled"]
    alive = got["videos"].loc[got["videos"]["missing_since"].isna(), "uid"]
    assert sorted(alive) == sorted(truth.videos["uid"])
    objects = got["r2_objects"][got["r2_objects"]["missing_since"].isna()]
    assert objects["key"].tolist() == truth.r2_objects["key"].tolist()
    assert objects["storage_class"].tolist() == truth.r2_objects["storage_class"].tolist()


def test_old_edits_wait_for_the_full_listing_and_scheduled_deletions_do_not(sandbox,
                                                                           synced_copy):
    db, acct = synced_copy, sandbox.account
    now = acct.now
    ready = acct.visible_videos().query("state == 'ready'").sort_values("created")
    renamed, doomed = ready.index[0], ready.index[1]
    assert ready.at[doomed, "uploaded"] < now - pd.Timedelta(days=31)
    deletion = now + pd.Timedelta(days=1, hours=6)
    acct.edit_video(renamed, meta={"name": "renamed by the test"})
    acct.edit_video(doomed, scheduled_deletion=deletion)

    def row(uid):
        return Warehouse(db, read_only=True).query(
            "SELECT name, scheduled_deletion, missing_since FROM videos WHERE uid = ?",
            [uid]).iloc[0]

    first = run_sync(sandbox, db, sources=["stream"])  # incremental: old videos not listed
    skipped = {s["subject"]: s["skipped"] for s in first.skips}
    assert skipped["videos"] == len(acct.visible_videos()) - first.rows["videos"] > 500
    assert row(renamed)["name"] != "renamed by the test"
    assert pd.isna(row(doomed)["scheduled_deletion"])
    sandbox.advance(1)
    due = run_sync(sandbox, db, sources=["stream"], full_listing_days=1)  # the full listing
    assert "videos" not in {s["subject"] for s in due.skips}
    assert row(renamed)["name"] == "renamed by the test"
    assert row(doomed)["scheduled_deletion"] == deletion
    assert pd.isna(row(doomed)["missing_since"])
    sandbox.advance(1)  # the scheduled deletion passes
    run_sync(sandbox, db, sources=["stream"])
    assert row(doomed)["missing_since"] == deletion  # deleted from then, not from the sync
    videos = Warehouse(db, read_only=True).query(
        "SELECT uid FROM videos WHERE missing_since IS NULL ORDER BY uid")
    assert videos["uid"].tolist() == sorted(acct.ground_truth().videos["uid"])


@pytest.mark.parametrize("value", ["-1", "seven", "400", "1.5"])
def test_a_bad_full_listing_interval_is_named(value):
    env = {"CLOUDFLARE_ACCOUNT_ID": "0" * 32, "CLOUDFLARE_API_TOKEN": "a-test-token-value",
           "LC_ANALYTICS_FULL_LISTING_DAYS": value}
    with pytest.raises(ConfigError, match="LC_ANALYTICS_FULL_LISTING_DAYS must be a whole "
                                          "number of days from 0 to 366"):
        Settings.from_env(env, env_file=None)
    ok = Settings.from_env({**env, "LC_ANALYTICS_FULL_LISTING_DAYS": "0"}, env_file=None)
    assert ok.full_listing_days == 0
    assert Settings.from_env({k: v for k, v in env.items() if "FULL" not in k},
                             env_file=None).full_listing_days == 7


def test_the_lag_reaches_back_three_days():
    from lc_analytics.sync_inventory import LAG_DAYS

    assert timedelta(days=LAG_DAYS) == timedelta(days=3)
