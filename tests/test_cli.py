"""The CLI: one library call per command, clear errors, exit codes, no secrets printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lc_analytics.cli import main
from lc_analytics.sandbox.server import start_server
from lc_analytics.warehouse import Warehouse

EXE = Path(sys.executable).parent / "lc-analytics"


def _env(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("CLOUDFLARE_", "R2_", "LC_ANALYTICS_"))}
    return {**keep, **extra}


def _served_env(server, **extra: str) -> dict[str, str]:
    """The environment a user gets by pasting `sandbox serve`'s export lines."""
    env = _env(**extra)
    for line in server.env_exports():
        name, value = line.removeprefix("export ").split("=", 1)
        env[name] = value.strip("'\"")
    return env


def test_sync_without_settings_names_every_missing_variable(tmp_path):
    res = subprocess.run([EXE, "sync"], capture_output=True, text=True, cwd=tmp_path,
                         env=_env())
    assert res.returncode == 2
    for name in ("CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_STREAM_API_TOKEN", "R2_ACCESS_KEY_ID",
                 "R2_SECRET_ACCESS_KEY"):
        assert name in res.stderr
    assert not (tmp_path / "data").exists()  # nothing created


def test_sync_rejects_an_unknown_source(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for k in list(os.environ):
        if k.startswith(("CLOUDFLARE_", "R2_", "LC_ANALYTICS_")):
            monkeypatch.delenv(k)
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "0" * 32)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "x")
    assert main(["sync", "--sources", "stream,videoz"]) == 2
    assert "unknown source(s) videoz" in capsys.readouterr().err


def test_quiet_sync_over_loopback_prints_one_line_per_source(account, tmp_path):
    db = tmp_path / "wh.duckdb"
    with start_server(account) as server:
        env = _served_env(server, LC_ANALYTICS_DB=str(db))
        res = subprocess.run([EXE, "sync", "--quiet", "--sources", "stream,r2_inventory"],
                             capture_output=True, text=True, env=env, cwd=tmp_path)
        token = env["CLOUDFLARE_API_TOKEN"]
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["stream", "r2_inventory"]
    assert f"{len(account.visible_videos())} videos" in lines[0]
    assert token not in res.stdout + res.stderr
    counts = Warehouse(db, read_only=True).table_counts()
    assert counts["videos"] == len(account.visible_videos())
    assert counts["minutes_viewed_daily"] == 0


def test_a_wrong_token_exits_4_with_the_permission_named(account, tmp_path):
    with start_server(account, r2=False) as server:
        env = _env(LC_ANALYTICS_DB=str(tmp_path / "wh.duckdb"),
                   CLOUDFLARE_ACCOUNT_ID=account.account_id,
                   CLOUDFLARE_API_TOKEN="wrong-token-value",
                   CLOUDFLARE_API_BASE_URL=server.base_url)
        res = subprocess.run([EXE, "sync", "--quiet", "--sources", "stream"],
                             capture_output=True, text=True, env=env, cwd=tmp_path)
    assert res.returncode == 4
    assert "Account > Stream > Read" in res.stderr and "wrong-token-value" not in res.stderr


@pytest.mark.parametrize("argv", [["sandbox", "summary", "--end", "2026-13-01"],
                                  ["sync", "--since", "yesterday"]])
def test_bad_dates_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "not a date (YYYY-MM-DD)" in capsys.readouterr().err


def test_recommend_then_apply_dry_run_then_yes_then_again(account, synced_copy, tmp_path):
    db = synced_copy  # yesterday's full sync of `account`; the CLI's sync below brings it on
    plan = tmp_path / "plan.json"
    with start_server(account) as server:
        env = _served_env(server, LC_ANALYTICS_DB=str(db))

        def run(*argv):
            return subprocess.run([EXE, *argv], capture_output=True, text=True, env=env,
                                  cwd=tmp_path)

        assert run("sync", "--quiet").returncode == 0
        rec = run("recommend", "--plan", str(plan))
        assert rec.returncode == 0, rec.stderr
        assert "recording_selectivity" in rec.stdout and f"written to {plan}" in rec.stdout
        before = account.visible_live_inputs()["recording_mode"].tolist()
        dry = run("apply", str(plan))
        assert dry.returncode == 0, dry.stderr
        assert "Dry run: nothing changed." in dry.stdout and "[pending]" in dry.stdout
        assert account.visible_live_inputs()["recording_mode"].tolist() == before
        yes = run("apply", str(plan), "--yes")
        assert yes.returncode == 0, yes.stderr
        assert "Applied" in yes.stdout
        assert "off" in account.visible_live_inputs()["recording_mode"].tolist()
        again = run("apply", str(plan), "--yes")
        assert again.returncode == 0 and "Applied 0 change(s)" in again.stdout
        token = env["CLOUDFLARE_API_TOKEN"]
    assert token not in plan.read_text() + rec.stdout + dry.stdout + yes.stdout
    stored = Warehouse(db, read_only=True).query(
        "SELECT count(*) AS n FROM recommendations")["n"].iloc[0]
    assert stored >= 4
    audit = Warehouse(db, read_only=True).query(
        "SELECT status, count(*) AS n FROM apply_audit GROUP BY status")
    assert set(audit["status"]) >= {"applied", "already", "manual"}
