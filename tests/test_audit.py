"""`lc-analytics audit`: the sandbox's production checklist, before and after it is set up
through the emulated API (webhook, notification policies, recording retention)."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from lc_analytics.audit import FAIL, PASS, UNKNOWN, record_audit, run_audit
from lc_analytics.readmodel import last_successful_sync, latest_audit
from lc_analytics.sandbox import Sandbox
from lc_analytics.sandbox.emulator import FULL_PERMISSIONS
from lc_analytics.settings import Secret
from lc_analytics.warehouse import Warehouse

from .conftest import copy_warehouse


def _client(sb):
    return httpx.Client(transport=sb.transport, base_url=sb.settings().api_base_url,
                        headers={"Authorization": f"Bearer {sb.token}"})


def _set_up(sb) -> None:
    """What a setup plan applies: the Stream webhook, a webhook destination with a live-input
    and a billing policy, and a retention on every recording live input."""
    c, base = _client(sb), f"/accounts/{sb.account.account_id}"
    assert c.put(f"{base}/stream/webhook",
                 json={"notificationUrl": "https://hooks.example.com/stream"}).is_success
    dest = c.post(f"{base}/alerting/v3/destinations/webhooks",
                  json={"name": "ops", "url": "https://hooks.example.com/cf",
                        "secret": "s3cret-hook"}).json()["result"]["id"]
    for alert_type, filters in (("stream_live_notifications", {}),
                                ("billing_usage_alert", {"product": ["stream"],
                                                         "limit": ["500"]})):
        assert c.post(f"{base}/alerting/v3/policies", json={
            "name": alert_type, "alert_type": alert_type, "enabled": True,
            "mechanisms": {"webhooks": [{"id": dest}]}, "filters": filters}).is_success
    for uid in sb.account.visible_live_inputs()["uid"]:
        assert c.put(f"{base}/stream/live_inputs/{uid}",
                     json={"deleteRecordingAfterDays": 90}).is_success


@pytest.fixture(scope="module")
def audited(_pristine_account, synced, tmp_path_factory):
    """(sandbox, audit before, audit after set-up, writable warehouse, live inputs before
    set-up) on a fresh account."""
    account = copy.deepcopy(_pristine_account)
    db = copy_warehouse(synced[1], tmp_path_factory.mktemp("audit") / "wh")
    with Sandbox(account) as sb:
        settings = sb.settings(db_path=db)
        now = datetime.now(UTC)
        before = run_audit(settings, transport=sb.transport, now=now, budgets=None)
        inputs = account.visible_live_inputs().copy()
        _set_up(sb)
        after = run_audit(settings, transport=sb.transport, now=now, budgets=None)
        yield sb, before, after, db, inputs


def test_the_audit_follows_the_sandbox_before_and_after_set_up(audited):
    sb, before, after, db, truth = audited
    recording = truth[truth["recording_mode"] != "off"]
    forever = recording[recording["delete_recording_after_days"].isna()]
    assert len(forever) > 0  # the sandbox keeps some recordings forever
    assert before.status("stream_webhook") == FAIL
    assert before.status("live_notifications") == FAIL
    assert before.status("billing_alert") == FAIL  # no policy, no budgets, no alert URLs
    assert before.status("recording_retention") == FAIL
    evidence = next(c.evidence for c in before.checks if c.key == "recording_retention")
    assert evidence.startswith(f"{len(forever)} of {len(recording)} recording live input(s)")
    assert all(uid in evidence for uid in forever["uid"])
    assert not any(uid in evidence for uid in recording["uid"] if uid not in set(forever["uid"]))
    for s in ("stream_webhook", "live_notifications", "billing_alert", "recording_retention"):
        assert after.status(s) == PASS, s
    webhook = next(c.evidence for c in after.checks if c.key == "stream_webhook")
    assert "https://hooks.example.com/..." in webhook
    # both export buckets of the sandbox carry lifecycle rules (its truth)
    rules = sb.account.lifecycle.groupby("bucket").size().to_dict()
    lifecycle = next(c for c in before.checks if c.key == "export_lifecycle")
    assert lifecycle.status == PASS
    assert lifecycle.evidence == ", ".join(
        f"{b}: {rules.get(b, 0)} rule(s)" for b in sorted(rules) if "export" in b)
    # runway: the planted exhaustion (21 days after the clock) is above the 14-day threshold
    runway = next(c for c in before.checks if c.key == "storage_runway")
    assert runway.status == PASS
    assert f"full on {sb.account.exhaustion_date()}" in runway.evidence
    assert before.status("sync_recent") == PASS
    # the full token cannot list its own permissions: said, not guessed
    assert before.status("token_scope") == UNKNOWN
    # no secret in any output
    for report in (before, after):
        text = report.text() + json.dumps(report.as_dict())
        assert sb.token not in text and "s3cret-hook" not in text
        assert "sig1" not in text


def test_the_audit_is_recorded_for_the_cost_review(audited):
    _, before, after, db, _ = audited
    wh = Warehouse(db)
    record_audit(wh, before)
    record_audit(wh, after.__class__(after.run_at + timedelta(seconds=1), after.checks))
    latest = latest_audit(wh)
    assert list(latest["check_key"]) == [c.key for c in after.checks]
    assert list(latest["status"]) == [c.status for c in after.checks]


def test_a_stale_sync_and_a_broad_token_fail_budgets_with_delivery_pass(account, synced,
                                                                        tmp_path):
    token = "broad-token-with-token-read"
    perms = set(FULL_PERMISSIONS) | {"tokens:read", "zone:read"}
    budgets = tmp_path / "budgets.toml"
    budgets.write_text('[[budget]]\nname = "stream"\nservice = "Stream"\nmonthly_usd = "500"\n')
    url = "json://alerts.example.com/hook?token=abc123secret"
    with Sandbox(account, r2=False, tokens={token: perms}) as sb:
        wh = Warehouse(synced[1], read_only=True)
        later = last_successful_sync(wh) + timedelta(days=2)
        settings = dataclasses.replace(sb.settings(), alert_urls=Secret(url))
        report = run_audit(settings, transport=sb.transport, warehouse=wh, now=later,
                           r2=None, budgets=budgets)
    assert report.status("billing_alert") == PASS
    assert next(c.evidence for c in report.checks if c.key == "billing_alert").endswith(
        f"1 budget(s) in {budgets} delivered to 1 alert URL(s) by `alerts check`")
    assert "abc123secret" not in report.text() + json.dumps(report.as_dict())
    assert report.status("sync_recent") == FAIL
    assert report.status("token_scope") == FAIL
    evidence = next(c.evidence for c in report.checks if c.key == "token_scope")
    assert evidence.endswith("also holds: API Tokens Read, Zone Read")
    assert report.status("export_lifecycle") == UNKNOWN


def test_the_cli_prints_json_without_secrets(shared_account, tmp_path, monkeypatch, capsys):
    from lc_analytics.cli import main
    from lc_analytics.sandbox.server import start_server

    for name in [k for k in os.environ if k.startswith(("CLOUDFLARE_", "R2_", "LC_ANALYTICS_"))]:
        monkeypatch.delenv(name)
    with start_server(shared_account, r2=False) as server:
        for line in server.env_exports():
            name, value = line.removeprefix("export ").split("=", 1)
            monkeypatch.setenv(name, value.strip("'\""))
        monkeypatch.setenv("LC_ANALYTICS_DB", str(tmp_path / "none.duckdb"))
        monkeypatch.chdir(tmp_path)  # no budgets.toml here
        assert main(["audit", "--json", "--no-record"]) == 10  # items fail: exit 10
        token = os.environ.get("CLOUDFLARE_API_TOKEN") or os.environ[
            "CLOUDFLARE_STREAM_API_TOKEN"]
    captured = capsys.readouterr()
    out = captured.out
    assert token not in out + captured.err
    assert "audit: 4 item(s) fail: stream_webhook, live_notifications, billing_alert, " \
        "recording_retention" in captured.err
    statuses = {c["key"]: c["status"] for c in json.loads(out)["checks"]}
    assert statuses == {"stream_webhook": FAIL, "live_notifications": FAIL,
                        "billing_alert": FAIL, "recording_retention": FAIL,
                        "export_lifecycle": UNKNOWN, "storage_runway": UNKNOWN,
                        "sync_recent": UNKNOWN, "token_scope": UNKNOWN}
    assert not (tmp_path / "none.duckdb").exists()  # the audit creates nothing
