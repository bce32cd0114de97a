"""The billing-alert backstop: a plan, its dry run, then apply against the emulator."""

from __future__ import annotations

import pytest

from lc_analytics.actions import apply_plan
from lc_analytics.alerts import parse_budgets
from lc_analytics.alerts.backstop import backstop_plan
from lc_analytics.client.http import CloudflareClient
from lc_analytics.errors import PlanError
from lc_analytics.recommend.model import Plan
from lc_analytics.sandbox import Sandbox
from lc_analytics.sandbox.apis.notifications import state

BUDGETS = parse_budgets("""
[[budget]]
name = "stream"
service = "Stream"
monthly_usd = "500"

[[budget]]
name = "r2"
service = "R2"
monthly_usd = "120.50"

[[budget]]
name = "shop"
broadcaster = "creator-0001"
monthly_usd = "50"
""")


@pytest.fixture
def sandbox(account):
    with Sandbox(account, r2=False) as sb:
        yield sb


def _hook(sb: Sandbox, name: str) -> str:
    with CloudflareClient(sb.settings(), transport=sb.transport) as client:
        page = client.post(client.account_path("alerting/v3/destinations/webhooks"),
                           {"name": name, "url": f"https://hooks.example/{name}",
                            "secret": "hook-secret-1"}, permission="notifications_write")
    return page.result["id"]


def test_plan_dry_run_apply_and_apply_again(sandbox, tmp_path):
    settings = sandbox.settings()
    with pytest.raises(PlanError, match="has 0 webhook destinations"):
        backstop_plan(BUDGETS, settings, transport=sandbox.transport)
    hook = _hook(sandbox, "ops")
    plan = backstop_plan(BUDGETS, settings, transport=sandbox.transport)
    plan = Plan.read(plan.write(tmp_path / "plan.json"))  # what apply reads
    assert [a.resource for a in plan.actions] == ["lc-analytics budget stream (Stream)",
                                                  "lc-analytics budget r2 (R2)"]
    dry = apply_plan(plan, settings, transport=sandbox.transport)
    assert [r.status for r in dry.reviews] == ["pending", "pending"]
    assert state(sandbox.emulator).policies == {}  # a dry run changes nothing
    done = apply_plan(plan, settings, yes=True, transport=sandbox.transport)
    assert len(done.applied) == 2
    policies = sorted(state(sandbox.emulator).policies.values(), key=lambda p: p["name"])
    assert [(p["name"], p["alert_type"], p["filters"], p["mechanisms"]) for p in policies] == [
        ("lc-analytics budget r2 (R2)", "billing_usage_alert",
         {"product": ["r2"], "limit": ["120.50"]}, {"webhooks": [{"id": hook}]}),
        ("lc-analytics budget stream (Stream)", "billing_usage_alert",
         {"product": ["stream"], "limit": ["500"]}, {"webhooks": [{"id": hook}]})]
    again = apply_plan(plan, settings, yes=True, transport=sandbox.transport)
    assert again.applied == [] and len(again.already) == 2  # idempotent
    # a budget raised later: a new plan updates the policy in place
    raised = parse_budgets('[[budget]]\nname = "r2"\nservice = "R2"\nmonthly_usd = "200"\n')
    update = backstop_plan(raised, settings, transport=sandbox.transport)
    apply_plan(update, settings, yes=True, transport=sandbox.transport)
    r2, = [p for p in state(sandbox.emulator).policies.values() if "r2" in p["name"]]
    assert r2["filters"] == {"product": ["r2"], "limit": ["200"]}
    assert len(state(sandbox.emulator).policies) == 2
    # the first plan is now stale: refused
    with pytest.raises(PlanError, match="is stale"):
        apply_plan(plan, settings, yes=True, transport=sandbox.transport)


def test_destination_must_be_named_when_several(sandbox):
    _hook(sandbox, "ops")
    _hook(sandbox, "finance")
    with pytest.raises(PlanError, match="has 2 webhook destinations"):
        backstop_plan(BUDGETS, sandbox.settings(), transport=sandbox.transport)
    with pytest.raises(PlanError, match="no webhook destination named 'x'.*finance, ops"):
        backstop_plan(BUDGETS, sandbox.settings(), destination="x", transport=sandbox.transport)
    plan = backstop_plan(BUDGETS, sandbox.settings(), destination="finance",
                         transport=sandbox.transport)
    assert plan.actions[0].proposed["mechanisms"]["webhooks"][0]["id"] == \
        [d["id"] for d in state(sandbox.emulator).destinations.values()
         if d["name"] == "finance"][0]
    with pytest.raises(PlanError, match="no service budget"):
        backstop_plan(BUDGETS[2:], sandbox.settings(), transport=sandbox.transport)
