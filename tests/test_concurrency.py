"""Readers and syncs sharing one warehouse: waits, clear refusals, "as of" that never goes back,
atomic creation and first causes."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest

from lc_analytics.analyses import data_through
from lc_analytics.costs.usage import last_synced_day
from lc_analytics.errors import AuthError, ConfigError, WarehouseError, WarehouseLockedError
from lc_analytics.recommend._common import resolve
from lc_analytics.sandbox import Sandbox
from lc_analytics.sandbox.server import start_server
from lc_analytics.settings import Secret, Settings
from lc_analytics.sync import sync
from lc_analytics.warehouse import SCHEMA_VERSION, Warehouse
from lc_analytics.warehouse.locks import file_holders

ROOT = Path(__file__).resolve().parents[1]
FAST = ["stream", "r2_storage"]  # a quick sync: listings plus 31 days of R2 storage

HOLD_READ = """
import duckdb, sys, time
con = duckdb.connect({path!r}, read_only=True)
con.execute("SELECT count(*) FROM videos").fetchall()
print("ready", flush=True)
{hold}
con.close()
"""


@pytest.fixture
def sandbox(shared_account) -> Iterator[Sandbox]:
    with Sandbox(shared_account, r2=False) as sb:
        yield sb


def _settings(sb: Sandbox, db: Path, **over: object) -> Settings:
    return dataclasses.replace(sb.settings(db_path=db), **over)


def _sync(sb: Sandbox, settings: Settings, transport: httpx.BaseTransport | None = None,
          **kw: object):
    kw.setdefault("progress", "none")
    kw.setdefault("sources", FAST)
    return sync(settings, transport=transport or sb.transport,
                now=lambda: sb.account.now.to_pydatetime(), **kw)  # type: ignore[arg-type]


@contextmanager
def child(code: str) -> Iterator[subprocess.Popen[str]]:
    """`code` in another Python process; it prints 'ready' once it holds what it holds."""
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None and proc.stdin is not None
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        if not proc.stdin.closed:
            proc.stdin.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()


def _storage_truth(sb: Sandbox) -> pd.DataFrame:
    truth = sb.account.ground_truth().r2_storage_daily
    lo = sb.account.now.floor("D") - pd.Timedelta(days=31)
    want = truth[truth["date"] >= lo]
    return want


def _assert_storage_equals_truth(sb: Sandbox, db: Path) -> None:
    got = Warehouse(db, read_only=True).query(
        "SELECT count(*) AS n, sum(payload_size) AS bytes FROM r2_storage_daily")
    want = _storage_truth(sb)
    assert int(got["n"].iloc[0]) == len(want) > 0
    assert int(got["bytes"].iloc[0]) == int(want["payload_size"].sum())


# -- a reader held open ----------------------------------------------------------------------

def test_a_reader_held_open_delays_the_sync_until_it_closes(sandbox, tmp_path, caplog):
    db = tmp_path / "wh.duckdb"
    Warehouse(db)  # an empty, migrated warehouse a notebook can open
    code = HOLD_READ.format(path=str(db), hold="time.sleep(2.5)")
    settings = _settings(sandbox, db, sync_wait_seconds=60.0)
    with child(code) as proc, caplog.at_level(logging.WARNING, "lc_analytics.warehouse"):
        started = time.monotonic()
        report = _sync(sandbox, settings)
        waited = time.monotonic() - started
    assert waited >= 2.0  # it waited for the reader instead of failing
    waiting = [r.getMessage() for r in caplog.records if "waiting for" in r.getMessage()]
    assert waiting and f"process {proc.pid}" in waiting[0] and str(db) in waiting[0]
    _assert_storage_equals_truth(sandbox, db)
    assert report.rows["r2_storage_daily"] == len(_storage_truth(sandbox))
    runs = Warehouse(db, read_only=True).query("SELECT status FROM sync_runs")
    assert runs["status"].tolist() == ["ok"]


def test_a_reader_held_too_long_fails_the_sync_naming_its_process(sandbox, tmp_path):
    db = tmp_path / "wh.duckdb"
    Warehouse(db)
    settings = _settings(sandbox, db, sync_wait_seconds=0.5)
    with child(HOLD_READ.format(path=str(db), hold="sys.stdin.read()")) as proc:
        assert [pid for pid, _ in file_holders(db)] == [proc.pid]
        started = time.monotonic()
        with pytest.raises(WarehouseLockedError) as err:
            _sync(sandbox, settings)
        assert 0.5 <= time.monotonic() - started < 5
    message = str(err.value)
    assert f"process {proc.pid} ({sys.executable} -c " in message
    assert str(db) in message and "gave up after 0.5s" in message
    assert err.value.exit_code == 5
    # nothing was written: the sync never got the file
    assert Warehouse(db, read_only=True).table_counts()["sync_runs"] == 0


def test_a_snapshot_held_open_never_blocks_the_sync(sandbox, tmp_path):
    import duckdb

    db = tmp_path / "wh.duckdb"
    _sync(sandbox, _settings(sandbox, db))
    wh = Warehouse(db, read_only=True)
    snap = wh.snapshot(tmp_path / "snap" / "wh.duckdb")
    assert snap.read_only and snap.schema_version() == SCHEMA_VERSION
    assert snap.table_counts() == wh.table_counts()
    assert snap.coverage().equals(wh.coverage())
    con = duckdb.connect(str(snap.path), read_only=True)  # held for as long as we like
    try:
        _sync(sandbox, _settings(sandbox, db, sync_wait_seconds=0.5))
        assert con.execute("SELECT count(*) FROM sync_runs").fetchall() == [(1,)]
    finally:
        con.close()
    assert wh.query("SELECT status FROM sync_runs")["status"].tolist() == ["ok", "ok"]
    assert sorted(p.name for p in (tmp_path / "snap").iterdir()) == ["wh.duckdb"]
    with pytest.raises(WarehouseError, match="cannot replace the warehouse itself"):
        wh.snapshot(db)


def test_the_wait_is_a_setting_with_a_ten_minute_default():
    env = {"CLOUDFLARE_ACCOUNT_ID": "0" * 32, "CLOUDFLARE_API_TOKEN": "a-token-0123456789"}
    assert Settings.from_env(env, env_file=None).sync_wait_seconds == 600.0
    got = Settings.from_env({**env, "LC_ANALYTICS_SYNC_WAIT": "90"}, env_file=None)
    assert got.sync_wait_seconds == 90.0
    with pytest.raises(ConfigError, match=r"LC_ANALYTICS_SYNC_WAIT must be a number of "
                                          r"seconds >= 0 \(got '-3'\)"):
        Settings.from_env({**env, "LC_ANALYTICS_SYNC_WAIT": "-3"}, env_file=None)


# -- two syncs at once -----------------------------------------------------------------------

class Paused(httpx.BaseTransport):
    """Passes requests to `inner`; the `n`-th GraphQL request waits until `go` is set."""

    def __init__(self, inner: httpx.BaseTransport, n: int) -> None:
        self.inner, self.n = inner, n
        self.reached, self.go = threading.Event(), threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/graphql"):
            self.n -= 1
            if self.n == 0:
                self.reached.set()
                assert self.go.wait(60)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_a_second_sync_started_meanwhile_fails_naming_the_first_and_corrupts_nothing(
        shared_account, tmp_path):
    db = tmp_path / "wh.duckdb"
    with start_server(shared_account, r2=False) as server:
        env = {line.split(" ", 1)[1].split("=", 1)[0]: line.split("=", 1)[1].strip("'")
               for line in server.env_exports()}
        env["LC_ANALYTICS_DB"] = str(db)
        settings = Settings.from_env(env, env_file=None, require=["stream"])
        paused = Paused(httpx.HTTPTransport(), n=2)  # the preflight, then the first window
        outcome: dict[str, object] = {}

        def first() -> None:
            outcome["report"] = sync(settings, sources=FAST, transport=paused,
                                     now=lambda: shared_account.now.to_pydatetime(),
                                     progress="none")

        thread = threading.Thread(target=first)
        thread.start()
        try:
            assert paused.reached.wait(60)
            second = subprocess.run(
                [sys.executable, "-m", "lc_analytics.cli", "sync", "--quiet",
                 "--sources", ",".join(FAST)],
                cwd=tmp_path, capture_output=True, text=True, timeout=120,
                env={**os.environ, **env, "PYTHONPATH": str(ROOT)})
        finally:
            paused.go.set()
            thread.join(60)
    assert second.returncode == 5, second.stderr
    assert (f"another sync is running on {db} (pid {os.getpid()}, started "
            in second.stderr)
    report = outcome["report"]
    sb = Sandbox(shared_account, r2=False)
    _assert_storage_equals_truth(sb, db)
    assert report.rows["r2_storage_daily"] == len(_storage_truth(sb))  # type: ignore[attr-defined]
    runs = Warehouse(db, read_only=True).query("SELECT status FROM sync_runs")
    assert runs["status"].tolist() == ["ok"]  # the refused sync left no trace


# -- "as of" during a re-fetch ---------------------------------------------------------------

class Watching(httpx.BaseTransport):
    """Before each GraphQL request, reads what reports and `recommend` would call "as of"."""

    def __init__(self, inner: httpx.BaseTransport, db: Path) -> None:
        self.inner, self.db = inner, db
        self.seen: list[tuple[object, object, object]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/graphql"):
            wh = Warehouse(self.db, read_only=True)
            self.seen.append((last_synced_day(wh), resolve(wh, None, None)[1],
                              data_through(wh)))
        return self.inner.handle_request(request)


def test_as_of_never_moves_back_during_a_re_fetch(account, tmp_path):
    db = tmp_path / "wh.duckdb"
    sources = ["minutes_viewed", "r2_storage"]
    with Sandbox(account, r2=False) as sb:
        _sync(sb, sb.settings(db_path=db), sources=sources)
        wh = Warehouse(db, read_only=True)
        end = account.now.date() - timedelta(days=1)
        assert last_synced_day(wh) == end and data_through(wh) == end
        covered = wh.coverage().set_index("source")
        assert covered.loc["minutes_viewed", "last_day"] == end
        watch = Watching(sb.transport, db)
        report = _sync(sb, sb.settings(db_path=db), transport=watch, sources=sources,
                       since=end - timedelta(days=70))
        assert len(report.windows["minutes_viewed"]) >= 3
        # every window after the first was fetched with earlier ones committed
        assert len(watch.seen) >= len(report.windows["minutes_viewed"]) + 2
        assert set(watch.seen) == {(end, end, end)}
        assert last_synced_day(wh) == end
        pd.testing.assert_frame_equal(wh.coverage(), covered.reset_index())
        truth = account.ground_truth().minutes_viewed
        want = truth[truth["date"] >= account.now.floor("D") - pd.Timedelta(days=90)]
        got = wh.query("SELECT count(*) AS n, sum(minutes_viewed) AS m "
                       "FROM minutes_viewed_daily")
        assert int(got["n"].iloc[0]) == len(want)
        assert got["m"].iloc[0] == want["minutes_viewed"].sum()


# -- creation and disappearance --------------------------------------------------------------

def test_a_refused_token_on_a_new_path_creates_nothing(sandbox, tmp_path):
    folder = tmp_path / "data"
    db = folder / "wh.duckdb"
    wrong = _settings(sandbox, db, api_token=Secret("not-the-token"))
    with pytest.raises(AuthError):
        _sync(sandbox, wrong)
    assert not folder.exists()  # no warehouse, no lock file, not even the folder


def test_a_kill_during_creation_leaves_no_warehouse_and_the_next_creation_cleans_up(tmp_path):
    db = tmp_path / "wh.duckdb"
    code = (
        "from lc_analytics.warehouse import store\n"
        "apply = store.Warehouse._apply_migrations\n"
        "def hold(self, con):\n"
        "    applied = apply(self, con)\n"
        "    print('ready', flush=True)\n"
        "    import time; time.sleep(60)\n"
        "    return applied\n"
        "store.Warehouse._apply_migrations = hold\n"
        f"store.Warehouse({str(db)!r})\n"
    )
    with child(code) as proc:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        left = sorted(p.name for p in tmp_path.iterdir())
    assert not db.exists()
    # only the half-built temporary file (and its write-ahead log)
    assert left and all(n.startswith(f".wh.duckdb.{proc.pid}.creating") for n in left), left
    with pytest.raises(WarehouseError, match="no warehouse at .*run `lc-analytics sync`"):
        Warehouse(db, read_only=True)
    assert Warehouse(db).applied_migrations == list(range(1, SCHEMA_VERSION + 1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wh.duckdb"]
    assert Warehouse(db, read_only=True).schema_version() == SCHEMA_VERSION


def test_a_failed_creation_leaves_no_file(tmp_path, monkeypatch):
    from lc_analytics.warehouse import migrations
    from lc_analytics.warehouse.schema import MIGRATIONS, Migration

    broken = [*MIGRATIONS, Migration(SCHEMA_VERSION + 1, "broken", "CREATE TABLE videos (x INT)")]
    monkeypatch.setattr(migrations, "MIGRATIONS", broken)
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(WarehouseError, match=f"migration {SCHEMA_VERSION + 1} .broken. failed"):
        Warehouse(tmp_path / "wh.duckdb")
    assert list(tmp_path.iterdir()) == []


class DeleteOnWindow(httpx.BaseTransport):
    """Deletes the warehouse file when the `n`-th GraphQL request is made."""

    def __init__(self, inner: httpx.BaseTransport, db: Path, n: int) -> None:
        self.inner, self.db, self.n = inner, db, n

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/graphql"):
            self.n -= 1
            if self.n == 0:
                self.db.unlink()
        return self.inner.handle_request(request)


def test_a_warehouse_deleted_mid_run_reports_the_first_cause(sandbox, tmp_path):
    db = tmp_path / "wh.duckdb"
    Warehouse(db)
    gone = DeleteOnWindow(sandbox.transport, db, n=2)  # after the preflight
    with pytest.raises(WarehouseError) as err:
        _sync(sandbox, sandbox.settings(db_path=db), transport=gone)
    assert str(err.value).startswith(f"the warehouse {db} is gone: it was deleted or moved")
    assert "does not exist" not in str(err.value)
    assert not db.exists()  # no empty warehouse was started in its place
