"""Fault injection: syncs through 10% and 20% mixed faults, and SIGKILLs, equal the truth.

The comparisons with the simulator's ground truth are test_sync's own, called with
(sandbox, warehouse, report) in place of its `synced` fixture. Sleeps go through a fake
clock; only R2's read timeouts really wait (LC_ANALYTICS_REQUEST_TIMEOUT, here short).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pandas as pd
import pytest

from lc_analytics.errors import WarehouseError
from lc_analytics.sandbox.runtime import Sandbox
from lc_analytics.sandbox.server import start_server
from lc_analytics.sources.r2 import R2Inventory
from lc_analytics.sync import sync
from lc_analytics.warehouse import Warehouse
from tests import test_sync as truth
from tests.faults import FAULTS, FaultPlan, FaultProxy, FaultTransport, run_cli

R2_TIMEOUT = 3.0  # a real read timeout waits this long; the proxy hangs a little longer
KILL_TRIALS = int(os.environ.get("LC_ANALYTICS_KILL_TRIALS", "20"))
KILL_SOURCES = ["stream", "r2_storage", "r2_operations"]  # small, with windows to cut
CLI_SYNC = ["sync", "--quiet", "--sources", ",".join(KILL_SOURCES)]

FULL_SYNC_CHECKS = [
    truth.test_minutes_viewed_equal_the_truth_for_every_retained_day,
    truth.test_videos_and_live_inputs_equal_the_listing,
    truth.test_storage_snapshot_equals_storage_usage,
    truth.test_r2_inventory_equals_the_objects,
    truth.test_r2_storage_and_operations_equal_the_truth_for_31_days,
    truth.test_r2_object_reads_equal_the_truth_for_31_days,
    truth.test_the_run_is_recorded,
]
KILL_CHECKS = [
    truth.test_videos_and_live_inputs_equal_the_listing,
    truth.test_storage_snapshot_equals_storage_usage,
    truth.test_r2_storage_and_operations_equal_the_truth_for_31_days,
]


class _Frozen:
    """The shared account, which nobody here mutates, with its ground truth computed once."""

    def __init__(self, account) -> None:
        self._account, self._truth = account, None

    def ground_truth(self):
        if self._truth is None:
            self._truth = self._account.ground_truth()
        return self._truth

    def __getattr__(self, name: str):
        return getattr(self._account, name)


def _frozen(account) -> SimpleNamespace:
    """What test_sync's checks read from a sandbox: (this, db, report) stands for `synced`."""
    return SimpleNamespace(account=_Frozen(account))


@pytest.fixture(scope="module")
def world(shared_account):
    """One sandbox (API in-process, R2 on moto) whose rate limiter runs on a fake clock."""
    clock = truth.FakeClock()
    with Sandbox(shared_account, clock=clock.monotonic) as sb:
        yield sb, clock, _frozen(shared_account)


def _now(sb):
    return lambda: sb.account.now.to_pydatetime()


@pytest.mark.parametrize(("rate", "seed"), [(0.10, 6), (0.20, 5)])
def test_a_sync_through_mixed_faults_equals_the_truth(world, tmp_path, rate, seed):
    sb, clock, frozen = world
    clock.t += 3600  # a fresh rate-limit window: every retry below is an injected fault's
    api, r2 = FaultPlan(rate, seed), FaultPlan(rate, seed + 100)
    db = tmp_path / "wh.duckdb"
    with FaultProxy(sb.r2.endpoint_url, r2, hang=R2_TIMEOUT + 0.5) as proxy:
        settings = dataclasses.replace(sb.settings(db_path=db), r2_endpoint_url=proxy.url,
                                       request_timeout=R2_TIMEOUT)
        report = sync(settings, transport=FaultTransport(sb.transport, api, clock=clock),
                      clock=clock, now=_now(sb), progress="none")
    # the faults were many, on both clients
    assert api.total >= rate * api.requests / 2 and r2.total >= 1
    # one retry per injected fault, R2's included, recorded with the run
    runs = Warehouse(db, read_only=True).query("SELECT status, retries FROM sync_runs")
    assert runs["status"].tolist() == ["ok"]
    assert runs["retries"].tolist() == [report.retries] == [api.total + r2.total]
    for check in FULL_SYNC_CHECKS:
        check((frozen, db, report))


def test_every_fault_kind_is_retried_by_the_api_client_in_a_sync(world, tmp_path):
    """Each kind once, every other request, through a real sync: all retried and counted."""
    sb, clock, frozen = world
    clock.t += 3600
    plan = FaultPlan(script=[k for kind in FAULTS for k in (kind, None)])
    db = tmp_path / "wh.duckdb"
    report = sync(sb.settings(db_path=db), transport=FaultTransport(sb.transport, plan,
                                                                    clock=clock),
                  clock=clock, now=_now(sb), progress="none",
                  sources=["stream", "r2_storage", "r2_operations"])
    assert plan.injected == {kind: 1 for kind in FAULTS} and plan.script == []
    assert report.retries == len(FAULTS)
    assert Warehouse(db, read_only=True).query("SELECT retries FROM sync_runs")[
        "retries"].tolist() == [len(FAULTS)]
    for check in (truth.test_videos_and_live_inputs_equal_the_listing,
                  truth.test_storage_snapshot_equals_storage_usage,
                  truth.test_r2_storage_and_operations_equal_the_truth_for_31_days):
        check((frozen, db, report))


def test_every_fault_kind_is_retried_by_the_r2_client(world):
    """Each kind once, in a row, on the first listing: R2 retries them all and counts them."""
    sb, clock, frozen = world
    kinds = [k for k in FAULTS if k != "error_envelope"] + ["error_envelope"]
    plan = FaultPlan(script=list(kinds))
    with FaultProxy(sb.r2.endpoint_url, plan, hang=R2_TIMEOUT + 0.5) as proxy:
        settings = dataclasses.replace(sb.settings(), r2_endpoint_url=proxy.url,
                                       request_timeout=R2_TIMEOUT)
        from lc_analytics.client.retry import RetryPolicy

        inv = R2Inventory(settings, clock=clock, retry=RetryPolicy(max_attempts=len(kinds) + 1))
        bucket = sorted(frozen.account.ground_truth().r2_objects["bucket"].unique())[0]
        started = time.monotonic()
        keys = [row["key"] for row in inv.iter_objects(bucket)]
        waited = time.monotonic() - started
    want = frozen.account.ground_truth().r2_objects
    assert keys == want[want["bucket"] == bucket]["key"].tolist()
    assert inv.stats.retries == len(kinds) == plan.total
    assert R2_TIMEOUT <= waited < 30  # one real timeout, cut short by the setting
    assert inv.listing_calls[bucket] == -(-len(keys) // 1000)  # retries are not listings


def test_r2_honours_retry_after_and_fails_fast_on_permanent_codes():
    from botocore.stub import Stubber

    from lc_analytics.client.retry import RetryPolicy
    from lc_analytics.errors import R2Error
    from lc_analytics.settings import Settings

    settings = Settings.from_env({"R2_ACCESS_KEY_ID": "AKIDEXAMPLE", "R2_SECRET_ACCESS_KEY": "s",
                                  "R2_ENDPOINT_URL": "http://127.0.0.1:9"}, env_file=None)
    clock = truth.FakeClock()
    inv = R2Inventory(settings, clock=clock, retry=RetryPolicy(max_attempts=3))
    with Stubber(inv._s3) as stub:
        stub.add_client_error("list_buckets", "SlowDown", http_status_code=503,
                              response_meta={"HTTPHeaders": {"retry-after": "9"}})
        stub.add_response("list_buckets", {"Buckets": [{"Name": "lc-a"}]})
        assert inv.buckets() == ["lc-a"]
        assert inv.stats.retries == 1 and clock.slept == 9  # what the server asked
        stub.add_client_error("list_buckets", "AccessDenied", http_status_code=403)
        with pytest.raises(R2Error, match="Object Read only"):
            inv.buckets()
        assert inv.stats.retries == 1  # not retried


# --- SIGKILL at random points, then resume ----------------------------------------------------

def _env(server, db) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CLOUDFLARE_", "R2_", "LC_ANALYTICS_"))}
    for line in server.env_exports():
        name, value = line.split(" ", 1)[1].split("=", 1)
        env[name] = value.strip("'")
    env["LC_ANALYTICS_DB"] = str(db)
    return env


def _assert_committed_days_are_whole(db, account) -> None:
    """Whatever a killed sync left is whole days equal to the truth (a window is atomic)."""
    try:
        got = Warehouse(db, read_only=True).query(
            "SELECT date, count(*) AS n, sum(payload_size) AS b FROM r2_storage_daily "
            "GROUP BY date")
    except WarehouseError:  # killed while the file was being created (issue 11, item 4)
        return
    want = account.ground_truth().r2_storage_daily
    want = want.groupby(want["date"].dt.date)["payload_size"].agg(["size", "sum"])
    for day, n, b in zip(pd.to_datetime(got["date"]).dt.date, got["n"], got["b"], strict=True):
        assert (n, b) == (want.loc[day, "size"], want.loc[day, "sum"]), day


def test_a_sync_killed_at_random_points_resumes_with_nothing_lost_or_doubled(
        shared_account, tmp_path):
    """SIGKILL `lc-analytics sync` at random points; each time, resume and compare."""
    forks = multiprocessing.get_context("forkserver")
    forks.set_forkserver_preload(["lc_analytics.cli", "lc_analytics.sync", "tests.faults"])
    rng = random.Random(11)

    def child(db):
        proc = forks.Process(target=run_cli, args=(_env(server, db), CLI_SYNC), daemon=True)
        proc.start()
        return proc

    with start_server(shared_account, r2=False) as server, \
            Sandbox(shared_account, r2=False) as sb:
        frozen = _frozen(shared_account)
        # an uninterrupted run first: it must work, and it times the span to kill in
        whole = child(tmp_path / "whole.duckdb")
        started = time.monotonic()
        whole.join(timeout=300)
        span = time.monotonic() - started
        assert whole.exitcode == 0
        killed = 0
        for trial in range(KILL_TRIALS):
            db = tmp_path / f"wh{trial}.duckdb"
            proc = child(db)
            time.sleep(rng.uniform(0.0, 1.0) * span)
            proc.kill()  # SIGKILL
            proc.join()
            killed += proc.exitcode == -signal.SIGKILL
            _assert_committed_days_are_whole(db, frozen.account)
            # resume: the dead process's lock is free at once, and the result is exact
            report = sync(sb.settings(db_path=db), transport=sb.transport, now=_now(sb),
                          sources=KILL_SOURCES, progress="none", lock_timeout=0.5)
            for check in KILL_CHECKS:
                check((frozen, db, report))
            runs = Warehouse(db, read_only=True).query(
                "SELECT status FROM sync_runs ORDER BY started_at")
            assert runs["status"].iloc[-1] == "ok"
        assert killed >= KILL_TRIALS // 2  # most kills landed while the sync was running


def test_verbose_logs_of_a_sync_through_faults_never_show_a_credential(shared_account,
                                                                       tmp_path):
    """`lc-analytics -v sync`: botocore's debug log signs with the R2 key id; it is masked."""
    plan = FaultPlan(script=["503", None, "reset", None, "truncated"])
    with start_server(shared_account, r2=True) as server, \
            FaultProxy(server.r2.endpoint_url, plan) as proxy:
        env = _env(server, tmp_path / "wh.duckdb")
        env["R2_ENDPOINT_URL"] = proxy.url
        done = subprocess.run([sys.executable, "-m", "lc_analytics.cli", "-v", "sync",
                               "--sources", "stream,r2_inventory"],
                              env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    logs = done.stdout + done.stderr
    assert "botocore" in logs and "Credential=********/" in logs  # the signing line, masked
    assert logs.count("retrying in") == plan.total == 3
    for secret in (env["R2_ACCESS_KEY_ID"], env["R2_SECRET_ACCESS_KEY"],
                   env["CLOUDFLARE_API_TOKEN"]):
        assert secret not in logs
    runs = Warehouse(tmp_path / "wh.duckdb", read_only=True).query(
        "SELECT retries FROM sync_runs")
    assert runs["retries"].tolist() == [3]
