"""Cloudflare's own billing alert as a backstop: a plan with one Notifications policy of type
`billing_usage_alert` per service budget, so Cloudflare still alerts if this host is down.

Nothing changes the account here: `backstop_plan` reads the account's webhook destinations
and policies and writes a plan; `lc-analytics apply` shows the dry-run diff and, with
`--yes`, creates or updates the policies (reference 8.2; filters `product` and `limit`).

Assumptions to check against a real account: the `product` filter takes the service's
lower-case name (`stream`, `r2`) and `limit` the monthly budget in dollars, as strings.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from ..client.http import CloudflareClient
from ..errors import PlanError
from ..recommend.evidence import BackstopEvidence
from ..recommend.model import Action, Plan, Recommendation
from ..settings import Settings
from .budgets import Budget

KIND = "billing_alert_backstop"
ACTION = "notifications.policy"
POLICIES = "alerting/v3/policies"
DESTINATIONS = "alerting/v3/destinations/webhooks"


def policy_name(budget: Budget) -> str:
    """The policy's name in the account: how apply finds it again.

    >>> from lc_analytics.alerts import parse_budgets
    >>> policy_name(parse_budgets('[[budget]]\\nname="s"\\nservice="Stream"\\nmonthly_usd=9')[0])
    'lc-analytics budget s (Stream)'
    """
    return f"lc-analytics budget {budget.name} ({budget.value})"


def backstop_plan(budgets: list[Budget], settings: Settings, *, destination: str | None = None,
                  transport: httpx.BaseTransport | None = None,
                  now: datetime | None = None) -> Plan:
    """A plan creating (or correcting) one `billing_usage_alert` policy per service budget,
    delivered to the webhook destination named `destination` (default: the only one).

    >>> plan = backstop_plan(load_budgets("budgets.toml"), Settings.from_env())  # doctest: +SKIP
    """
    services = [b for b in budgets if b.scope == "service"]
    if not services:
        raise PlanError("no service budget in the budgets file: the billing-alert backstop "
                        "mirrors service budgets (service = \"Stream\" or \"R2\")")
    with CloudflareClient(settings, transport=transport) as client:
        hooks = client.get(client.account_path(DESTINATIONS),
                           permission="notifications").result or []
        policies = client.get(client.account_path(POLICIES),
                              permission="notifications").result or []
    hook = _destination(hooks, destination)
    existing = {p["name"]: p for p in policies if p.get("alert_type") == "billing_usage_alert"}
    recs = [_recommendation(b, hook, existing.get(policy_name(b))) for b in services]
    return Plan(account_id=settings.account_id or "", created_at=now or datetime.now(UTC),
                book="cloudflare", recommendations=recs)


def _destination(hooks: list[dict[str, Any]], name: str | None) -> dict[str, Any]:
    if name is not None:
        found = [h for h in hooks if h.get("name") == name]
        if not found:
            raise PlanError(f"no webhook destination named {name!r} in the account (have: "
                            f"{', '.join(sorted(h['name'] for h in hooks)) or 'none'})")
        return found[0]
    if len(hooks) != 1:
        raise PlanError(f"the account has {len(hooks)} webhook destinations: name the one "
                        "Cloudflare's billing alerts go to with --destination (create one "
                        "under Notifications > Destinations first if there is none)")
    return hooks[0]


def proposed_policy(budget: Budget, hook: dict[str, Any]) -> dict[str, Any]:
    """The policy body for one service budget, as the Notifications API takes it."""
    return {"name": policy_name(budget), "alert_type": "billing_usage_alert",
            "enabled": True,
            "description": f"Backstop of the lc-analytics budget {budget.name}",
            "mechanisms": {"webhooks": [{"id": hook["id"]}]},
            "filters": {"product": [budget.value.lower()],
                        "limit": [str(budget.monthly_usd)]}}


def policy_fields(policy: dict[str, Any] | None) -> dict[str, Any]:
    """The parts of a policy a plan compares ({} when there is none)."""
    if policy is None:
        return {}
    return {k: policy.get(k) for k in ("name", "alert_type", "enabled", "description",
                                       "mechanisms", "filters")}


def _recommendation(b: Budget, hook: dict[str, Any], policy: dict[str, Any] | None,
                    ) -> Recommendation:
    proposed = proposed_policy(b, hook)
    verb = "create" if policy is None else "update"
    action = Action(id=f"{KIND}:{b.name}", kind=ACTION, resource=policy_name(b),
                    current=policy_fields(policy), proposed=proposed,
                    why=f"Cloudflare alerts on its own when {b.value} usage passes the "
                        f"${b.monthly_usd} budget, even if this host is down",
                    recommendation_id=f"{KIND}:{b.name}")
    return Recommendation(
        id=f"{KIND}:{b.name}", kind=KIND, target_type="account", target=policy_name(b),
        action=f"{verb} the billing_usage_alert policy {policy_name(b)!r}",
        evidence=BackstopEvidence(budget=b.name, service=b.value,
                                  monthly_usd=Decimal(b.monthly_usd),
                                  destination=hook.get("name"), policy_exists=policy is not None),
        rule="every service budget has a Cloudflare billing_usage_alert policy",
        monthly_saving=Decimal(0), saving_computation="none: a safety net, not a saving",
        viewer_impact="none", confidence="high", actions=(action,))
