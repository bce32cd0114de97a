"""Driving a served sandbox from outside: `sandbox advance`, `sandbox ground-truth`, the control
endpoint's own token, and R2 following the clock."""

from __future__ import annotations

import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd
import pytest

from lc_analytics.cli import main
from lc_analytics.sandbox import BUCKETS, Sandbox
from lc_analytics.sandbox.control import TOKEN_ENV, URL_ENV, truth_tables
from lc_analytics.sandbox.server import start_server
from lc_analytics.settings import Settings
from lc_analytics.sync import sync
from lc_analytics.warehouse import Warehouse

OBJECT_COLUMNS = ["bucket", "key", "size", "etag", "last_modified", "storage_class"]


def exports(server) -> dict[str, str]:
    """The `export NAME=value` lines of `serve`, as a dict."""
    env = {}
    for line in server.env_exports():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = shlex.split(value)[0]
    return env


def use_exports(monkeypatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def warehouse_objects(db) -> pd.DataFrame:
    """R2 objects listed by the last sync, in the shape of the truth's `r2_objects`."""
    got = Warehouse(db, read_only=True).query(
        "SELECT bucket, key, size_bytes AS size, etag, last_modified, storage_class "
        "FROM r2_objects WHERE missing_since IS NULL ORDER BY bucket, key")
    got["last_modified"] = pd.to_datetime(got["last_modified"], utc=True)
    return normalised(got)


def normalised(objects: pd.DataFrame) -> pd.DataFrame:
    out = objects[OBJECT_COLUMNS].sort_values(["bucket", "key"]).reset_index(drop=True)
    out["size"] = out["size"].astype("int64")
    out["last_modified"] = out["last_modified"].dt.floor("s").astype("datetime64[ns, UTC]")
    for col in ("bucket", "key", "etag", "storage_class"):
        out[col] = out[col].astype(object)
    return out


def listed_objects(r2) -> pd.DataFrame:
    """Every object R2 lists now, in the shape of `visible_objects()`."""
    s3, rows = r2.client(), []
    for bucket in r2.buckets:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            rows += [{"bucket": bucket, "key": o["Key"], "size": o["Size"],
                      "etag": o["ETag"].strip('"'), "last_modified": o["LastModified"],
                      "storage_class": o["StorageClass"]} for o in page.get("Contents", [])]
    frame = pd.DataFrame(rows)
    frame["last_modified"] = pd.to_datetime(frame["last_modified"], utc=True)
    return normalised(frame)


# --- the whole loop: serve -> sync -> advance -> sync -> ground truth ------------------------
def test_sync_advance_sync_equals_the_written_ground_truth(account, tmp_path, monkeypatch):
    db, before_dir, after_dir = tmp_path / "wh.duckdb", tmp_path / "t0", tmp_path / "t3"
    with start_server(account) as server:
        env = exports(server) | {"LC_ANALYTICS_DB": str(db)}
        use_exports(monkeypatch, env)
        settings = Settings.from_env(env, env_file=None, require=["stream", "r2"])
        sync(settings, progress="none")  # "today" from the API's Date header: the clock
        assert main(["sandbox", "ground-truth", "--out", str(before_dir)]) == 0
        assert main(["sandbox", "advance", "--days", "3"]) == 0
        report = sync(settings, progress="none")
        assert main(["sandbox", "ground-truth", "--out", str(after_dir)]) == 0

    truth = {p.stem: pd.read_parquet(p) for p in after_dir.glob("*.parquet")}
    assert set(truth) == set(truth_tables(account)) >= {"r2_objects", "minutes_viewed",
                                                        "videos", "account", "planted"}
    assert truth["account"]["now"].iloc[0] == pd.Timestamp("2026-07-04", tz="UTC")
    assert truth["account"]["end"].iloc[0].isoformat() == "2026-07-03"

    # R2: the second sync listed the new day's objects and classes, exactly.
    want = normalised(truth["r2_objects"])
    pd.testing.assert_frame_equal(warehouse_objects(db), want)
    assert report.rows["r2_objects"] == len(want)
    old = normalised(pd.read_parquet(before_dir / "r2_objects.parquet")).set_index(
        ["bucket", "key"])
    new = want.set_index(["bucket", "key"])
    both = old.index.intersection(new.index)
    appeared, expired = new.index.difference(old.index), old.index.difference(new.index)
    to_ia = both[(old.loc[both, "storage_class"] == "STANDARD")
                 & (new.loc[both, "storage_class"] == "STANDARD_IA")]
    assert len(appeared) > 0 and len(expired) > 0 and len(to_ia) > 0  # the advance mattered
    gone = Warehouse(db, read_only=True).query(
        "SELECT bucket, key FROM r2_objects WHERE missing_since IS NOT NULL ORDER BY ALL")
    assert list(gone.itertuples(index=False, name=None)) == sorted(expired)

    # Stream and analytics: the warehouse equals the truth as of the new clock, from the first
    # day the first sync could fetch (90 days of Stream, 31 of R2 before 2026-07-01).
    wh = Warehouse(db, read_only=True)
    lo = pd.Timestamp("2026-07-01", tz="UTC") - pd.Timedelta(days=90)
    mv = truth["minutes_viewed"]
    mv = mv[mv["date"] >= lo].reset_index(drop=True)
    got = wh.query("SELECT date, uid, country, creator, minutes_viewed FROM minutes_viewed_daily "
                   "ORDER BY date, uid, country, creator")
    assert len(got) == len(mv) > 50_000
    for col in ("uid", "country", "creator"):
        assert got[col].tolist() == mv[col].tolist(), col
    assert got["minutes_viewed"].tolist() == mv["minutes_viewed"].astype(float).tolist()
    assert pd.to_datetime(got["date"]).dt.date.tolist() == mv["date"].dt.date.tolist()
    videos = wh.query("SELECT uid, state, size_bytes FROM videos WHERE missing_since IS NULL "
                      "ORDER BY uid")
    tv = truth["videos"].sort_values("uid")
    assert videos["uid"].tolist() == tv["uid"].tolist()
    assert videos["state"].tolist() == tv["state"].tolist()
    assert videos["size_bytes"].tolist() == tv["size"].tolist()
    snap = wh.query("SELECT * FROM stream_storage_snapshots ORDER BY taken_at DESC LIMIT 1")
    usage = truth["storage_usage"].iloc[0]
    assert snap["total_storage_minutes"].iloc[0] == usage["totalStorageMinutes"]
    assert snap["video_count"].iloc[0] == usage["videoCount"]
    storage = wh.query("SELECT * FROM r2_storage_daily ORDER BY date, bucket")
    ts = truth["r2_storage_daily"]
    ts = ts[ts["date"] >= pd.Timestamp("2026-05-31", tz="UTC")].sort_values(["date", "bucket"])
    assert len(storage) == len(ts) == (31 + 3) * len(BUCKETS)
    for col in ("payload_size", "metadata_size", "object_count"):
        assert storage[col].tolist() == ts[col].tolist(), col


# --- the control endpoint's own token ------------------------------------------------------
@pytest.fixture(scope="module")
def served(shared_account):
    """A server over the shared account; tests here never move its clock."""
    with start_server(shared_account, r2=False) as server:
        yield server


def test_control_needs_its_own_token_and_api_paths_refuse_it(served, shared_account):
    control, api = served.control_url, served.base_url
    token, api_token = served.control.token, served.emulator.token
    assert control == f"http://127.0.0.1:{served.port}/__sandbox"
    assert token not in (api_token, served.emulator.stream_only_token)
    assert httpx.get(f"{control}/clock").status_code == 401
    for wrong in (api_token, served.emulator.stream_only_token, token[:-1]):
        r = httpx.get(f"{control}/clock", headers={"Authorization": f"Bearer {wrong}"})
        assert r.status_code == 403 and r.json() == {"error": "wrong control token"}
    ok = httpx.get(f"{control}/clock", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    assert ok.json() == {"account_id": shared_account.account_id,
                         "now": "2026-07-01T00:00:00+00:00", "end": "2026-06-30",
                         "horizon_end": "2026-09-28", "days_left": 90}
    stream = f"{api}/accounts/{shared_account.account_id}/stream/storage-usage"
    r = httpx.get(stream, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403 and r.json()["errors"][0]["code"] == 10000
    r = httpx.post(f"{api}/graphql", json={"query": "{viewer{zones{zoneTag}}}"},
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert httpx.get(stream, headers={"Authorization": f"Bearer {api_token}"}).status_code == 200


def test_control_routes_and_refusals_leave_the_clock(served, shared_account, caplog):
    caplog.set_level(logging.DEBUG, logger="lc_analytics")
    headers = {"Authorization": f"Bearer {served.control.token}"}
    url = served.control_url
    assert httpx.get(f"{url}/advance", headers=headers).status_code == 405
    assert httpx.get(f"{url}/rewind", headers=headers).status_code == 404
    for body, status, error in (
            ({"days": 0}, 400, "days must be a whole number, at least 1 (got 0)"),
            ({"days": 1.5}, 400, "days must be a whole number, at least 1 (got 1.5)"),
            ({"days": True}, 400, "days must be a whole number, at least 1 (got True)"),
            ({"days": 91}, 409, "cannot advance 91 day(s): the simulation ends on 2026-09-28, "
                                "90 day(s) after the clock")):
        r = httpx.post(f"{url}/advance", json=body, headers=headers)
        assert (r.status_code, r.json()["error"]) == (status, error)
    r = httpx.post(f"{url}/advance", content=b"{days", headers=headers)
    assert r.status_code == 400
    assert shared_account.now == pd.Timestamp("2026-07-01", tz="UTC")
    assert "/__sandbox/advance" in caplog.text
    assert served.control.token not in caplog.text


def test_serve_prints_the_control_and_stream_only_tokens(served):
    env = exports(served)
    assert env[URL_ENV] == served.control_url
    assert env[TOKEN_ENV] == served.control.token
    assert env["LC_SANDBOX_STREAM_ONLY_TOKEN"] == served.emulator.stream_only_token
    assert len({env[TOKEN_ENV], env["CLOUDFLARE_API_TOKEN"],
                env["LC_SANDBOX_STREAM_ONLY_TOKEN"]}) == 3
    other = start_server(served.account, r2=False)
    try:
        assert other.control.token != served.control.token  # random per server
    finally:
        other.close()


# --- the CLI's answers to bad input ---------------------------------------------------------
def test_cli_without_the_exports_says_what_to_set(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert main(["sandbox", "advance", "--days", "1"]) == 2
    err = capsys.readouterr().err
    assert f"{URL_ENV} and {TOKEN_ENV} not set" in err and "sandbox serve" in err
    assert main(["sandbox", "ground-truth", "--out", str(tmp_path / "t")]) == 2
    assert not (tmp_path / "t").exists()


def test_cli_refusals_create_nothing(served, monkeypatch, tmp_path, capsys):
    use_exports(monkeypatch, {URL_ENV: served.control_url, TOKEN_ENV: "not-the-token"})
    assert main(["sandbox", "ground-truth", "--out", str(tmp_path / "t")]) == 2
    assert "refused the control token" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()
    monkeypatch.setenv(TOKEN_ENV, served.control.token)
    (tmp_path / "file").write_text("x")
    assert main(["sandbox", "ground-truth", "--out", str(tmp_path / "file")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["sandbox", "advance", "--days", "500"]) == 2
    assert "cannot advance 500 day(s)" in capsys.readouterr().err
    dead = f"http://127.0.0.1:{free_port()}/__sandbox"
    assert main(["sandbox", "advance", "--days", "1", "--url", dead]) == 2
    err = capsys.readouterr().err
    assert f"cannot reach the sandbox control endpoint at {dead}/advance" in err
    assert served.control.token not in err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- in process: Sandbox.advance, with R2 following ----------------------------------------
def test_in_process_advance_brings_r2_to_the_new_day(account):
    thumbs, reports = BUCKETS["thumbnails"], BUCKETS["reports"]
    with Sandbox(account) as sb:
        s3 = sb.r2.client()
        s3.put_object(Bucket=reports, Key="notes/mine.txt", Body=b"kept")
        s3.put_bucket_lifecycle_configuration(Bucket=thumbs, LifecycleConfiguration={"Rules": [
            {"ID": "cold-shows", "Status": "Enabled", "Filter": {"Prefix": "shows/"},
             "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}]}]})
        before = listed_objects(sb.r2)
        assert (before.query("bucket == @thumbs")["storage_class"] == "STANDARD").all()
        sb.advance(5)
        after = listed_objects(sb.r2)
        mine = s3.head_object(Bucket=reports, Key="notes/mine.txt")
    assert account.now == pd.Timestamp("2026-07-06", tz="UTC")
    simulated = after[after["key"] != "notes/mine.txt"].reset_index(drop=True)
    pd.testing.assert_frame_equal(simulated, normalised(account.visible_objects()))
    assert mine["ContentLength"] == 4  # written through the API: kept
    shows = after[(after["bucket"] == thumbs) & after["key"].str.startswith("shows/")]
    assert {"STANDARD", "STANDARD_IA"} == set(shows["storage_class"])  # the rule was followed
    assert len(after) > len(before)


# --- the real commands, in their own processes ----------------------------------------------
def test_served_sandbox_is_driven_by_the_printed_exports(tmp_path):
    """`sandbox serve` in one process; its export lines, evaluated by a shell, drive it."""
    exe = Path(sys.executable).parent / "lc-analytics"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CLOUDFLARE_", "R2_", "LC_SANDBOX_"))}
    with subprocess.Popen([exe, "sandbox", "serve", "--port", "0", "--end", "2026-06-30"],
                          stdout=subprocess.PIPE, text=True, env=env) as serve:
        assert serve.stdout is not None
        try:
            done = _drive(serve.stdout, exe, env, tmp_path / "gt")
        finally:
            serve.send_signal(signal.SIGINT)
            assert serve.wait(timeout=30) == 0
    assert done.returncode == 0, done.stderr
    assert "last complete day 2026-07-02 (88 more day(s) simulated)" in done.stdout
    account = pd.read_parquet(tmp_path / "gt" / "account.parquet").iloc[0]
    assert account["now"] == pd.Timestamp("2026-07-03", tz="UTC")
    assert (account["preset"], account["seed"]) == ("small", 7)
    objects = pd.read_parquet(tmp_path / "gt" / "r2_objects.parquet")
    assert len(objects) > 1000 and set(objects["storage_class"]) == {"STANDARD", "STANDARD_IA"}


def _drive(stdout, exe, env, out):
    """Read serve's exports, then run `advance --days 2` and `ground-truth` in a shell."""
    lines: list[str] = []
    while not any(x.startswith("export R2_SECRET_ACCESS_KEY") for x in lines):
        line = stdout.readline()
        assert line, "serve exited before printing its exports"
        lines.append(line)
    exports = "".join(x for x in lines if x.startswith("export "))
    script = (f"{exports}\n{shlex.quote(str(exe))} sandbox advance --days 2 && "
              f"{shlex.quote(str(exe))} sandbox ground-truth --out {shlex.quote(str(out))}")
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env,
                          timeout=300)
