"""Setting up live-show events as a plan (`lc-analytics setup events --url URL`): the
Notifications webhook destination, the `stream_live_notifications` policy that sends to it,
and the Stream webhook URL. Written as a plan, reviewed as a dry run, applied by
`lc-analytics apply PLAN --yes` like every other change.

The plan holds URLs and names only. The destination's secret is read from
`LC_EVENTS_NOTIFICATION_SECRET` when the plan is applied (it never enters the plan file);
Stream generates the webhook's signing secret itself: set `LC_STREAM_WEBHOOK_SECRET` to the
`secret` that `GET /stream/webhook` returns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

from ..client.http import CloudflareClient
from ..errors import ApiError, ConfigError, PlanError, UsageError
from ..recommend.evidence import EventsSetupEvidence
from ..recommend.model import Action, Plan, Recommendation
from .notifications import DESTINATIONS, POLICIES, find_by_name, save_by_name

DESTINATION = "lc-analytics live events"
POLICY = "lc-analytics live shows"
ALERT = "stream_live_notifications"
KINDS = ("events.destination", "events.policy", "stream.webhook")
REC_ID = "live_events_setup:account"


def _check_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme != "https" or not parsed.netloc:
        raise UsageError(f"--url must be the receiver's public https URL, e.g. "
                         f"https://events.example.com (got {url!r}); put `lc-analytics events "
                         "serve` behind a reverse proxy or a Cloudflare Tunnel for TLS")
    return url.rstrip("/")


def read(client: CloudflareClient, action: Action) -> dict[str, Any]:
    """What the account holds now for one setup action (compared with the plan's values)."""
    if action.kind == "events.destination":
        found = find_by_name(client, DESTINATIONS, DESTINATION)
        return {"name": DESTINATION, "url": found["url"] if found else None}
    if action.kind == "events.policy":
        found = find_by_name(client, POLICIES, POLICY)
        dest = find_by_name(client, DESTINATIONS, DESTINATION)
        hooks = [h.get("id") for h in (found or {}).get("mechanisms", {}).get("webhooks", [])]
        return {"name": POLICY, "alert_type": found["alert_type"] if found else None,
                "enabled": bool(found["enabled"]) if found else None,
                "sends_to": DESTINATION if found and dest and dest["id"] in hooks else None}
    if action.kind == "stream.webhook":
        try:
            hook = client.get(client.account_path("stream/webhook")).result or {}
        except ApiError as exc:
            if exc.status != 404:
                raise
            hook = {}
        return {"notificationUrl": hook.get("notificationUrl")}
    raise PlanError(f"action {action.id}: unknown kind {action.kind!r}")


def write(client: CloudflareClient, action: Action) -> tuple[str, list[dict[str, Any]]]:
    """Create or update the resource; nothing to record in the warehouse."""
    if action.kind == "events.destination":
        from ..live.config import NOTIFICATION_SECRET
        from ..settings import _environment

        secret = (_environment(None, ".env").get(NOTIFICATION_SECRET) or "").strip()
        if not secret:
            raise ConfigError([f"{NOTIFICATION_SECRET} is not set: the destination needs the "
                               "secret the receiver checks"])
        body = {"name": DESTINATION, "url": action.proposed["url"], "secret": secret}
        save_by_name(client, DESTINATIONS, DESTINATION, body)
    elif action.kind == "events.policy":
        dest = find_by_name(client, DESTINATIONS, DESTINATION)
        if dest is None:
            raise PlanError(f"the webhook destination {DESTINATION!r} is missing: apply the "
                            "whole plan (it creates it first)")
        save_by_name(client, POLICIES, POLICY, {
            "name": POLICY, "alert_type": ALERT, "enabled": True, "filters": {},
            "description": "live-input events to the lc-analytics receiver",
            "mechanisms": {"webhooks": [{"id": dest["id"]}]}})
    elif action.kind == "stream.webhook":
        client.put(client.account_path("stream/webhook"),
                   {"notificationUrl": action.proposed["notificationUrl"]})
    else:
        raise PlanError(f"action {action.id}: unknown kind {action.kind!r}")
    return "", []


def setup_plan(client: CloudflareClient, url: str, *, yes: bool = False,
               now: datetime | None = None) -> Plan:
    """The plan that points Cloudflare's live-input events and the Stream webhook at the
    receiver at `url`. A different URL already set is kept unless `yes` (nothing is written
    to the account here: the plan is applied by `lc-analytics apply`)."""
    base = _check_url(url)
    targets: dict[str, dict[str, Any]] = {"events.destination": {"name": DESTINATION,
                                             "url": f"{base}/notifications"},
               "events.policy": {"name": POLICY, "alert_type": ALERT, "enabled": True,
                                        "sends_to": DESTINATION},
               "stream.webhook": {"notificationUrl": f"{base}/stream-webhook"}}
    actions, clashes = [], []
    for kind, proposed in targets.items():
        probe = Action(kind, kind, "account", {}, proposed, "", REC_ID)
        current = read(client, probe)
        held = current.get("url") or current.get("notificationUrl")
        want = proposed.get("url") or proposed.get("notificationUrl")
        if held and want and held != want:
            clashes.append(f"{kind}: {held}")
        actions.append(Action(id=f"{kind}:account", kind=kind, resource="account",
                              current=current, proposed=proposed, recommendation_id=REC_ID,
                              why=_WHY[kind]))
    if clashes and not yes:
        raise UsageError("the account already sends to another URL (" + "; ".join(clashes)
                         + "): pass --yes to plan replacing it")
    rec = Recommendation(
        id=REC_ID, kind="live_events_setup", target_type="account", target="account",
        action=f"send live-input events and recording webhooks to {base}",
        evidence=EventsSetupEvidence(url=base, replaces=tuple(clashes)),
        rule="setup requested with --url",
        monthly_saving=Decimal(0), saving_computation="no cost effect",
        viewer_impact="none", confidence="high", actions=tuple(actions))
    return Plan(account_id=client.account_id, created_at=now or datetime.now(UTC),
                book="n/a", recommendations=[rec])


_WHY = {
    "events.destination": "Cloudflare Notifications delivers live-input events to "
                                 "this webhook, with the secret in cf-webhook-auth",
    "events.policy": "connected / disconnected / errored events of every live input "
                            "go to the destination",
    "stream.webhook": "Stream posts each video (recordings included) when it is ready or "
                      "fails, signed with Webhook-Signature",
}
