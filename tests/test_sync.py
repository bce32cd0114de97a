"""Sync against the sandbox: the warehouse equals the simulator's truth, exactly."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import httpx
import pandas as pd
import pytest

from lc_analytics.client.http import RetryPolicy
from lc_analytics.errors import AuthError, QueryError
from lc_analytics.sandbox.runtime import Sandbox
from lc_analytics.sandbox.server import start_server
from lc_analytics.settings import Secret, Settings
from lc_analytics.sync import sync
from lc_analytics.warehouse import Warehouse

TABLES = ["live_inputs", "videos", "stream_storage_snapshots", "minutes_viewed_daily",
          "r2_objects", "r2_lifecycle_rules", "r2_storage_daily", "r2_operations_daily",
          "r2_object_reads_daily"]


class FakeClock:
    """Shared by the emulator's rate limiter and the client: sleeping advances time."""

    def __init__(self) -> None:
        self.t = 0.0
        self.slept = 0.0

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds
        self.slept += seconds


def run_sync(sb: Sandbox, db, **kw):
    kw.setdefault("progress", "none")
    return sync(sb.settings(db_path=db), transport=sb.transport,
                now=lambda: sb.account.now.to_pydatetime(), **kw)


def snapshot(db) -> dict[str, pd.DataFrame]:
    wh = Warehouse(db, read_only=True)
    out = {}
    for t in TABLES:
        df = wh.query(f"SELECT * FROM {t}")
        out[t] = df.sort_values(list(df.columns[:5])).reset_index(drop=True)  # covers keys
    return out


@pytest.fixture
def sandbox(account):
    with Sandbox(account) as sb:
        yield sb


def _retained(truth, days):
    return truth.now.floor("D") - pd.Timedelta(days=days)


def test_minutes_viewed_equal_the_truth_for_every_retained_day(synced):
    sb, db, _ = synced
    truth = sb.account.ground_truth()
    lo = _retained(truth, 90)
    want = truth.minutes_viewed[truth.minutes_viewed["date"] >= lo]
    got = Warehouse(db, read_only=True).query(
        "SELECT date, uid, country, creator, minutes_viewed FROM minutes_viewed_daily "
        "ORDER BY date, uid, country, creator")
    assert len(got) == len(want) > 50_000
    assert got["uid"].tolist() == want["uid"].tolist()
    assert got["country"].tolist() == want["country"].tolist()
    assert got["creator"].tolist() == want["creator"].tolist()
    assert got["minutes_viewed"].tolist() == want["minutes_viewed"].astype(float).tolist()
    assert (pd.to_datetime(got["date"]).dt.date.tolist()
            == want["date"].dt.date.tolist())
    # per day and per video
    daily = got.groupby(pd.to_datetime(got["date"]).dt.date)["minutes_viewed"].sum()
    tday = truth.minutes_viewed_daily
    tday = tday[tday["date"] >= lo].set_index(tday[tday["date"] >= lo]["date"].dt.date)
    assert daily.to_dict() == tday["minutes_viewed"].astype(float).to_dict()
    assert len(daily) == 90


def test_videos_and_live_inputs_equal_the_listing(synced):
    sb, db, _ = synced
    truth = sb.account.ground_truth()
    wh = Warehouse(db, read_only=True)
    v = wh.query("SELECT * FROM videos ORDER BY uid").set_index("uid")
    tv = truth.videos.set_index("uid").sort_index()
    assert v.index.tolist() == tv.index.tolist()
    assert v["state"].tolist() == tv["state"].tolist()
    assert v["size_bytes"].tolist() == tv["size"].tolist()
    dur = tv["duration"].where(tv["duration"] >= 0)
    pd.testing.assert_series_equal(v["duration_seconds"], dur.astype(float),
                                   check_names=False, rtol=0, atol=1e-6)
    assert v["live_input_uid"].fillna("").tolist() == tv["live_input"].fillna("").tolist()
    assert (v.loc[v["state"] != "ready", "duration_seconds"].isna()).all()
    assert v["missing_since"].isna().all()
    li = wh.query("SELECT * FROM live_inputs ORDER BY uid").set_index("uid")
    tli = truth.live_inputs.set_index("uid").sort_index()
    assert li.index.tolist() == tli.index.tolist()
    assert li["recording_mode"].tolist() == tli["recording_mode"].tolist()
    assert li["delete_recording_after_days"].astype("Int64").tolist() == \
        tli["delete_recording_after_days"].astype("Int64").tolist()


def test_storage_snapshot_equals_storage_usage(synced):
    sb, db, _ = synced
    truth = sb.account.ground_truth()
    snap = Warehouse(db, read_only=True).query("SELECT * FROM stream_storage_snapshots")
    assert len(snap) == 1
    assert snap["total_storage_minutes"].iloc[0] == pytest.approx(
        truth.storage_usage["totalStorageMinutes"], abs=1e-9)
    assert snap["total_storage_minutes"].iloc[0] * 60 == pytest.approx(
        truth.stored_minutes_daily["stored_seconds"].iloc[-1], abs=1e-6)
    assert snap["total_storage_minutes_limit"].iloc[0] == truth.capacity_minutes


def test_r2_inventory_equals_the_objects(synced):
    sb, db, report = synced
    truth = sb.account.ground_truth()
    wh = Warehouse(db, read_only=True)
    objs = wh.query("SELECT bucket, key, size_bytes, etag, last_modified, storage_class "
                    "FROM r2_objects ORDER BY bucket, key")
    want = truth.r2_objects
    assert objs["key"].tolist() == want["key"].tolist()
    assert objs["size_bytes"].tolist() == want["size"].tolist()
    assert objs["etag"].tolist() == want["etag"].tolist()
    assert objs["storage_class"].tolist() == want["storage_class"].tolist()
    got_lm = pd.to_datetime(objs["last_modified"], utc=True).dt.floor("s")
    assert (got_lm.to_numpy() == want["last_modified"].dt.floor("s").to_numpy()).all()
    summary = wh.query("SELECT bucket, storage_class, count(*) AS objects, "
                       "sum(size_bytes) AS bytes FROM r2_objects GROUP BY ALL ORDER BY ALL")
    assert summary["objects"].tolist() == truth.r2_objects_summary["objects"].tolist()
    assert summary["bytes"].astype(int).tolist() == truth.r2_objects_summary["bytes"].tolist()
    calls = wh.query("SELECT bucket, calls FROM r2_listing_calls ORDER BY bucket")
    per_bucket = want.groupby("bucket").size()
    assert calls.set_index("bucket")["calls"].to_dict() == {
        b: -(-n // 1000) for b, n in per_bucket.items()}  # one ListObjectsV2 per 1000 keys
    assert report.listing_calls == calls["calls"].sum() + 1  # + ListBuckets
    rules = wh.query("SELECT bucket, rule_id, prefix, transition_days, expire_days "
                     "FROM r2_lifecycle_rules WHERE rule_id NOT LIKE 'Default%' ORDER BY rule_id")
    assert rules["rule_id"].tolist() == sorted(truth.r2_lifecycle["rule_id"].tolist())


def test_r2_storage_and_operations_equal_the_truth_for_31_days(synced):
    sb, db, _ = synced
    truth = sb.account.ground_truth()
    lo = _retained(truth, 31)
    wh = Warehouse(db, read_only=True)
    st = wh.query("SELECT * FROM r2_storage_daily ORDER BY date, bucket")
    want = truth.r2_storage_daily[truth.r2_storage_daily["date"] >= lo].sort_values(
        ["date", "bucket"])
    assert len(st) == len(want) == 31 * 4
    for col in ("payload_size", "metadata_size", "object_count"):
        assert st[col].tolist() == want[col].tolist(), col
    ops = wh.query("SELECT * FROM r2_operations_daily ORDER BY date, bucket, action_type, "
                   "action_status, response_status_code")
    want = truth.r2_operations_daily[truth.r2_operations_daily["date"] >= lo]
    assert len(ops) == len(want)
    assert ops["requests"].tolist() == want["requests"].tolist()
    assert ops["action_type"].tolist() == want["action_type"].tolist()
    assert ops["response_status_code"].tolist() == want["response_status_code"].tolist()


def test_r2_object_reads_equal_the_truth_for_31_days(synced):
    sb, db, report = synced
    ops = sb.account.r2_operations()
    lo = sb.account.now.floor("D") - pd.Timedelta(days=31)
    reads = ops[ops["action_type"].isin(["GetObject", "HeadObject"])
                & (ops["action_status"] == "success") & (ops["object_name"] != "")
                & (ops["date"] >= lo)]
    keys = ["date", "bucket", "object_name", "action_type"]
    want = reads.groupby(keys, as_index=False)["requests"].sum().sort_values(keys)
    got = Warehouse(db, read_only=True).query(
        "SELECT * FROM r2_object_reads_daily ORDER BY date, bucket, object_name, action_type")
    assert len(got) == len(want) == report.rows["r2_object_reads_daily"] > 1000
    assert set(got["action_type"]) == {"GetObject", "HeadObject"}
    assert (pd.to_datetime(got["date"]).dt.date.tolist() == want["date"].dt.date.tolist())
    for col in ("bucket", "object_name", "action_type", "requests"):
        assert got[col].tolist() == want[col].tolist(), col
    assert report.windows["r2_object_reads"] == report.windows["r2_operations"]


def test_the_run_is_recorded(synced):
    _, db, report = synced
    runs = Warehouse(db, read_only=True).query("SELECT * FROM sync_runs")
    assert runs["status"].tolist() == ["ok"]
    assert runs["requests"].iloc[0] == report.requests > 20
    assert report.rows["minutes_viewed_daily"] > 50_000
    assert [w[1] - w[0] for w in report.windows["minutes_viewed"]] == \
        [timedelta(days=31), timedelta(days=31), timedelta(days=29)]


def test_a_second_sync_changes_nothing_and_fetches_only_the_lag(sandbox, synced_copy):
    db = synced_copy  # a full sync of the sandbox's account at its clock
    before = snapshot(db)
    again = run_sync(sandbox, db)
    after = snapshot(db)
    for t in TABLES:
        pd.testing.assert_frame_equal(before[t], after[t], obj=t)
    today = sandbox.account.now.date()
    for source in ("minutes_viewed", "r2_storage", "r2_operations", "r2_object_reads"):
        assert again.windows[source] == [(today - timedelta(days=3), today + timedelta(days=1))]
    assert again.graphql_requests < 10


def test_incremental_sync_follows_the_clock_and_keeps_history(sandbox, synced_copy):
    db = synced_copy  # a full sync of the sandbox's account at its clock
    first = snapshot(db)["minutes_viewed_daily"]
    acct = sandbox.account
    victim = acct.visible_videos().query("state == 'ready'")["uid"].iloc[0]
    acct.delete_video(victim)
    acct.advance(5)
    run_sync(sandbox, db)
    wh = Warehouse(db, read_only=True)
    truth = acct.ground_truth()
    # the five new days match the truth exactly
    new = wh.query("SELECT date, sum(minutes_viewed) AS m FROM minutes_viewed_daily "
                   "WHERE date > ? GROUP BY date ORDER BY date", [truth.end - timedelta(days=5)])
    want = truth.minutes_viewed_daily.tail(5)
    assert new["m"].tolist() == want["minutes_viewed"].astype(float).tolist()
    # days the API no longer serves are still in the warehouse, unchanged
    oldest = first["date"].min()
    kept = wh.query("SELECT count(*) AS n FROM minutes_viewed_daily WHERE date < ?",
                    [oldest + pd.Timedelta(days=5)])["n"].iloc[0]
    assert kept == (first["date"] < oldest + pd.Timedelta(days=5)).sum() > 0
    # the deleted video is kept, marked missing since this sync
    gone = wh.query("SELECT missing_since FROM videos WHERE uid = ?", [victim])
    assert gone["missing_since"].notna().all()
    assert wh.query("SELECT count(*) AS n FROM stream_storage_snapshots")["n"].iloc[0] == 2


def test_low_rate_limits_still_sync_exactly(account, tmp_path):
    clock = FakeClock()
    with Sandbox(account, rest_limit=15, graphql_limit=6, window_seconds=60,
                 clock=clock.monotonic) as sb:
        report = run_sync(sb, tmp_path / "wh.duckdb", clock=clock,
                          client_options={"rest_limit": 1000, "graphql_limit": 1000},
                          sources=["stream", "minutes_viewed"])
        truth = sb.account.ground_truth()
    assert report.retries > 0 and clock.slept > 60
    got = Warehouse(tmp_path / "wh.duckdb", read_only=True).query(
        "SELECT sum(minutes_viewed) AS m, count(*) AS n FROM minutes_viewed_daily")
    want = truth.minutes_viewed[truth.minutes_viewed["date"] >= _retained(truth, 90)]
    assert got["n"].iloc[0] == len(want)
    assert got["m"].iloc[0] == want["minutes_viewed"].sum()


def _with_token(settings: Settings, token: str) -> Settings:
    return dataclasses.replace(settings, api_token=Secret(token))


def test_wrong_token_and_missing_permission_leave_the_warehouse_unchanged(sandbox, synced_copy):
    db = synced_copy  # a full sync of the sandbox's account at its clock
    before = snapshot(db)
    now = lambda: sandbox.account.now.to_pydatetime()  # noqa: E731
    sandbox.account.advance(2)  # there would be new data to write
    wrong = _with_token(sandbox.settings(db_path=db), "not-the-token")
    with pytest.raises(AuthError, match="Account > Stream > Read") as err:
        sync(wrong, transport=sandbox.transport, now=now, progress="none")
    assert "not-the-token" not in str(err.value)
    stream_only = _with_token(sandbox.settings(db_path=db), sandbox.emulator.stream_only_token)
    with pytest.raises(AuthError, match="Account Analytics > Read"):
        sync(stream_only, transport=sandbox.transport, now=now, progress="none")
    after = snapshot(db)
    for t in TABLES:
        pd.testing.assert_frame_equal(before[t], after[t], obj=t)
    runs = Warehouse(db, read_only=True).query("SELECT status FROM sync_runs ORDER BY started_at")
    assert runs["status"].tolist() == ["ok", "failed", "failed"]


class FailAfter(httpx.BaseTransport):
    """Lets `n` GraphQL requests through, then fails every one (a dying network)."""

    def __init__(self, inner: httpx.BaseTransport, n: int) -> None:
        self.inner, self.n = inner, n

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/graphql"):
            self.n -= 1
            if self.n < 0:
                return httpx.Response(400, json={"data": None, "errors": [
                    {"message": "simulated failure"}]})
        return self.inner.handle_request(request)


def test_an_interrupted_sync_resumes_with_no_gap_and_no_duplicate(sandbox, tmp_path):
    db = tmp_path / "wh.duckdb"
    settings = sandbox.settings(db_path=db)
    now = lambda: sandbox.account.now.to_pydatetime()  # noqa: E731
    # preflight (1) + first window of minutes viewed (several pages) then die
    with pytest.raises(QueryError, match="simulated failure"):
        sync(settings, transport=FailAfter(sandbox.transport, 8), now=now,
             sources=["minutes_viewed"], progress="none",
             client_options={"retry": RetryPolicy(max_attempts=1)})
    wh = Warehouse(db, read_only=True)
    mark = wh.get_watermark("minutes_viewed")
    assert mark is not None and mark < sandbox.account.end
    partial = wh.query("SELECT max(date) AS d FROM minutes_viewed_daily")["d"].iloc[0]
    assert pd.Timestamp(partial).date() <= mark
    report = run_sync(sandbox, db, sources=["minutes_viewed"])
    assert report.windows["minutes_viewed"][0][0] == mark - timedelta(days=2)
    truth = sandbox.account.ground_truth()
    want = truth.minutes_viewed[truth.minutes_viewed["date"] >= _retained(truth, 90)]
    got = wh.query("SELECT count(*) AS n, sum(minutes_viewed) AS m FROM minutes_viewed_daily")
    assert got["n"].iloc[0] == len(want)
    assert got["m"].iloc[0] == want["minutes_viewed"].sum()
    statuses = wh.query("SELECT status FROM sync_runs ORDER BY started_at")["status"].tolist()
    assert statuses == ["failed", "ok"]


def test_sync_over_loopback_http_equals_the_truth(account, tmp_path):
    db = tmp_path / "wh.duckdb"
    with start_server(account, r2=True) as server:
        env = {line.split(" ", 1)[1].split("=", 1)[0]: line.split("=", 1)[1]
               for line in server.env_exports()}
        env["LC_ANALYTICS_DB"] = str(db)
        settings = Settings.from_env(env, env_file=None, require=["stream", "r2"])
        report = sync(settings, now=lambda: account.now.to_pydatetime(), progress="none")
    truth = account.ground_truth()
    wh = Warehouse(db, read_only=True)
    n_videos = wh.query("SELECT count(*) AS n FROM videos")["n"].iloc[0]
    assert n_videos == len(truth.videos)
    m = wh.query("SELECT sum(minutes_viewed) AS m FROM minutes_viewed_daily")["m"].iloc[0]
    want = truth.minutes_viewed[truth.minutes_viewed["date"] >= _retained(truth, 90)]
    assert m == want["minutes_viewed"].sum()
    n_obj = wh.query("SELECT count(*) AS n FROM r2_objects")["n"].iloc[0]
    assert n_obj == len(truth.r2_objects)
    assert report.rows["r2_objects"] == len(truth.r2_objects)


def test_a_second_sync_at_the_same_time_waits_then_fails_clearly(sandbox, tmp_path):
    from lc_analytics.errors import WarehouseLockedError
    from lc_analytics.warehouse import sync_lock

    db = tmp_path / "wh.duckdb"
    with sync_lock(db), pytest.raises(WarehouseLockedError, match="another sync is running"):
        run_sync(sandbox, db, lock_timeout=0.3)
    assert not db.exists() or Warehouse(db, read_only=True).table_counts()["videos"] == 0


def test_today_comes_from_the_api_clock_not_the_local_one(account, tmp_path):
    """With no `now`, the sync follows the server's Date header (here: the simulated clock)."""
    db = tmp_path / "wh.duckdb"
    with start_server(account, r2=False) as server:
        settings = dataclasses.replace(
            Settings.from_env({"CLOUDFLARE_ACCOUNT_ID": account.account_id,
                               "CLOUDFLARE_API_TOKEN": server.emulator.token,
                               "CLOUDFLARE_API_BASE_URL": server.base_url}, env_file=None),
            db_path=db)
        report = sync(settings, sources=["stream", "r2_storage"], progress="none")
    today = account.now.date()  # 2026-07-01, months before the machine's clock
    assert report.windows["r2_storage"][-1][1] == today + timedelta(days=1)
    assert report.rows["r2_storage_daily"] == 31 * 4
    taken = Warehouse(db, read_only=True).query("SELECT taken_at FROM stream_storage_snapshots")
    assert pd.Timestamp(taken["taken_at"].iloc[0]) == account.now


def test_a_warehouse_holds_one_account(sandbox, tmp_path):
    db = tmp_path / "wh.duckdb"
    run_sync(sandbox, db, sources=["stream"])
    held = Warehouse(db, read_only=True).query("SELECT account_id FROM accounts")
    assert held["account_id"].tolist() == [sandbox.account.account_id]
    other = dataclasses.replace(sandbox.settings(db_path=db), account_id="e" * 32)
    from lc_analytics.errors import ConfigError

    with pytest.raises(ConfigError, match=f"holds account {sandbox.account.account_id}"):
        sync(other, transport=sandbox.transport, sources=["stream"], progress="none",
             now=lambda: sandbox.account.now.to_pydatetime())
