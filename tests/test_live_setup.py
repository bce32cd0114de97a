"""`setup events`: a plan creating the webhook destination, the live-notifications policy and
the Stream webhook; dry run first, applied through `apply`, never overwriting another URL
unasked, never writing the secret into the plan."""

from __future__ import annotations

import pytest

from lc_analytics.actions import apply_plan
from lc_analytics.actions.events import setup_plan
from lc_analytics.client.http import CloudflareClient
from lc_analytics.errors import ConfigError, UsageError
from lc_analytics.recommend.model import Plan
from lc_analytics.sandbox import Sandbox
from lc_analytics.sandbox.apis import notifications, stream_webhook

URL = "https://events.example.com"
SECRET = "dest-s3cret-for-setup"


def test_setup_plan_dry_run_apply_and_refusals(shared_account, tmp_path, monkeypatch):
    monkeypatch.setenv("LC_EVENTS_NOTIFICATION_SECRET", SECRET)
    with Sandbox(shared_account, r2=False) as sb:
        settings = sb.settings(db_path=tmp_path / "wh.duckdb")
        with CloudflareClient(settings, transport=sb.transport) as client:
            plan = setup_plan(client, URL)
        path = plan.write(tmp_path / "plan.json")
        assert SECRET not in path.read_text()
        plan = Plan.read(path)
        dry = apply_plan(plan, settings, transport=sb.transport)
        assert [r.status for r in dry.reviews] == ["pending"] * 3
        notes = notifications.state(sb.emulator)
        assert not notes.destinations and not notes.policies
        assert stream_webhook.state(sb.emulator).url is None
        monkeypatch.delenv("LC_EVENTS_NOTIFICATION_SECRET")
        with pytest.raises(ConfigError, match="LC_EVENTS_NOTIFICATION_SECRET is not set"):
            apply_plan(plan, settings, transport=sb.transport, yes=True)
        assert not notes.destinations
        monkeypatch.setenv("LC_EVENTS_NOTIFICATION_SECRET", SECRET)
        done = apply_plan(plan, settings, transport=sb.transport, yes=True)
        assert len(done.applied) == 3
        (dest,) = notes.destinations.values()
        assert (dest["url"], dest["secret"]) == (f"{URL}/notifications", SECRET)
        (policy,) = notes.policies.values()
        assert policy["alert_type"] == "stream_live_notifications"
        assert policy["mechanisms"]["webhooks"] == [{"id": dest["id"]}]
        assert stream_webhook.state(sb.emulator).url == f"{URL}/stream-webhook"
        again = apply_plan(plan, settings, transport=sb.transport, yes=True)
        assert again.applied == [] and len(again.already) == 3
        with CloudflareClient(settings, transport=sb.transport) as client:
            with pytest.raises(UsageError, match="already sends to another URL"):
                setup_plan(client, "https://other.example.com")
            moved = setup_plan(client, "https://other.example.com", yes=True)
            assert moved.recommendations[0].evidence.replaces
            with pytest.raises(UsageError, match="public https URL"):
                setup_plan(client, "http://events.example.com")
