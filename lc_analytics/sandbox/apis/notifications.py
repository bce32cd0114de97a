"""Cloudflare Notifications (alerting v3), reference 8.2: webhook destinations, policies and
the history of deliveries; the live-shows and billing-alert features of the emulator send
through it (`matching_destinations`, `record_delivery`).

A destination's secret is kept but never served back (Cloudflare sends it verbatim in the
`cf-webhook-auth` header of each delivery). Policy filters are checked for the alert types
the toolkit uses (`stream_live_notifications`: `input_id`; `billing_usage_alert`: `product`,
`limit`); other alert types are accepted as sent.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from ..emulator import ACCOUNT, Emulator, Problem, Request, envelope, register, rfc3339, route

ALERT_TYPES = frozenset({"stream_live_notifications", "billing_usage_alert"})
_ID = r"(?P<id>[0-9a-f]{32})"
_BASE = f"{ACCOUNT}/alerting/v3"


@dataclass
class Notifications:
    """What the account has configured, and what was sent."""

    destinations: dict[str, dict[str, Any]] = field(default_factory=dict)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    counter: int = 0

    def new_id(self, kind: str, seed: int) -> str:
        self.counter += 1
        return hashlib.sha256(f"lc-sandbox-{seed}-{kind}-{self.counter}".encode()).hexdigest()[:32]


def state(emulator: Emulator) -> Notifications:
    """The emulator's notifications state."""
    return emulator.module_state("notifications", Notifications)


def matching_destinations(emulator: Emulator, alert_type: str,
                          **facts: Any) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(policy, destination) for every enabled policy of `alert_type` whose filters admit
    `facts` (e.g. `input_id=`), once per webhook destination it names."""
    notes = state(emulator)
    pairs = []
    for policy in notes.policies.values():
        if not policy["enabled"] or policy["alert_type"] != alert_type:
            continue
        if any(name in facts and str(facts[name]) not in [str(v) for v in values]
               for name, values in policy["filters"].items()):
            continue
        for mechanism in policy["mechanisms"].get("webhooks", []):
            destination = notes.destinations.get(mechanism.get("id"))
            if destination is not None:
                pairs.append((policy, destination))
    return pairs


def record_delivery(emulator: Emulator, policy: dict[str, Any], destination: dict[str, Any],
                    body: dict[str, Any]) -> dict[str, Any]:
    """Append one delivery to the history (what `GET alerting/v3/history` lists)."""
    notes = state(emulator)
    item = {"id": notes.new_id("history", emulator.account.seed), "name": policy["name"],
            "description": policy.get("description", ""), "alert_type": policy["alert_type"],
            "alert_body": json.dumps(body, sort_keys=True), "policy_id": policy["id"],
            "mechanism": destination["url"], "mechanism_type": "webhook",
            "sent": rfc3339(emulator.account.now)}
    notes.history.append(item)
    return item


# --- destinations -------------------------------------------------------------------------
def _destination_json(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "secret"}


def _webhook_body(request: Request) -> dict[str, Any]:
    body = request.json_body()
    for name in ("name", "url"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise Problem(400, 17001, f"{name} is required")
    if not body["url"].startswith(("https://", "http://")):
        raise Problem(400, 17002, "url must be an http(s) URL")
    return body


def _list_destinations(em: Emulator, request: Request) -> tuple[int, dict]:
    items = [_destination_json(d) for d in state(em).destinations.values()]
    return 200, envelope(items, result_info={"count": len(items), "total_count": len(items)})


def _create_destination(em: Emulator, request: Request) -> tuple[int, dict]:
    body = _webhook_body(request)
    notes = state(em)
    ident = notes.new_id("destination", em.account.seed)
    now = rfc3339(em.account.now)
    notes.destinations[ident] = {"id": ident, "name": body["name"], "url": body["url"],
                                 "type": "generic", "secret": body.get("secret"),
                                 "created_at": now, "last_success": None, "last_failure": None}
    return 200, envelope({"id": ident})


def _destination(em: Emulator, request: Request) -> dict[str, Any]:
    item = state(em).destinations.get(request.params["id"])
    if item is None:
        raise Problem(404, 17404, "webhook destination not found")
    return item


def _get_destination(em: Emulator, request: Request) -> tuple[int, dict]:
    return 200, envelope(_destination_json(_destination(em, request)))


def _update_destination(em: Emulator, request: Request) -> tuple[int, dict]:
    item = _destination(em, request)
    body = _webhook_body(request)
    item.update(name=body["name"], url=body["url"], secret=body.get("secret", item["secret"]))
    return 200, envelope({"id": item["id"]})


def _delete_destination(em: Emulator, request: Request) -> tuple[int, dict]:
    state(em).destinations.pop(_destination(em, request)["id"])
    return 200, envelope(None)


# --- policies -----------------------------------------------------------------------------
def _policy_body(em: Emulator, request: Request) -> dict[str, Any]:
    body = request.json_body()
    if not isinstance(body.get("name"), str) or not body["name"]:
        raise Problem(400, 17001, "name is required")
    if body.get("alert_type") not in ALERT_TYPES:
        raise Problem(400, 17003, f"alert_type {body.get('alert_type')!r} is not supported")
    mechanisms = body.get("mechanisms") or {}
    hooks = mechanisms.get("webhooks", []) if isinstance(mechanisms, dict) else None
    if not isinstance(hooks, list) or not hooks:
        raise Problem(400, 17004, "mechanisms.webhooks must name at least one destination")
    for hook in hooks:
        if not isinstance(hook, dict) or hook.get("id") not in state(em).destinations:
            raise Problem(400, 17005, f"unknown webhook destination {hook!r}")
    filters = body.get("filters") or {}
    if not isinstance(filters, dict) or any(not isinstance(v, list) for v in filters.values()):
        raise Problem(400, 17006, "filters must map names to lists of values")
    if body["alert_type"] == "billing_usage_alert" and not {"product", "limit"} <= set(filters):
        raise Problem(400, 17006, "billing_usage_alert needs the filters product and limit")
    return {"name": body["name"], "description": body.get("description", ""),
            "enabled": bool(body.get("enabled", True)), "alert_type": body["alert_type"],
            "mechanisms": {"webhooks": [{"id": h["id"]} for h in hooks]}, "filters": filters}


def _list_policies(em: Emulator, request: Request) -> tuple[int, dict]:
    items = list(state(em).policies.values())
    return 200, envelope(items, result_info={"count": len(items), "total_count": len(items)})


def _create_policy(em: Emulator, request: Request) -> tuple[int, dict]:
    fields = _policy_body(em, request)
    notes = state(em)
    ident = notes.new_id("policy", em.account.seed)
    now = rfc3339(em.account.now)
    notes.policies[ident] = {"id": ident, **fields, "created": now, "modified": now}
    return 200, envelope({"id": ident})


def _policy(em: Emulator, request: Request) -> dict[str, Any]:
    item = state(em).policies.get(request.params["id"])
    if item is None:
        raise Problem(404, 17404, "policy not found")
    return item


def _get_policy(em: Emulator, request: Request) -> tuple[int, dict]:
    return 200, envelope(_policy(em, request))


def _update_policy(em: Emulator, request: Request) -> tuple[int, dict]:
    item = _policy(em, request)
    item.update(_policy_body(em, request), modified=rfc3339(em.account.now))
    return 200, envelope({"id": item["id"]})


def _delete_policy(em: Emulator, request: Request) -> tuple[int, dict]:
    state(em).policies.pop(_policy(em, request)["id"])
    return 200, envelope(None)


# --- history ------------------------------------------------------------------------------
def _history(em: Emulator, request: Request) -> tuple[int, dict]:
    """GET history: deliveries sent in [since, before), oldest first, paged (per_page 5-1000)."""
    query = request.query
    items = [h for h in state(em).history
             if h["sent"] >= query.get("since", "") and h["sent"] < query.get("before", "~")]
    try:
        page, per_page = int(query.get("page", 1)), int(query.get("per_page", 25))
    except ValueError:
        raise Problem(400, 17007, "page and per_page must be integers") from None
    if page < 1 or not 5 <= per_page <= 1000:
        raise Problem(400, 17007, "page must be >= 1 and per_page between 5 and 1000")
    chunk = items[(page - 1) * per_page: page * per_page]
    return 200, envelope(chunk, result_info={"page": page, "per_page": per_page,
                                             "count": len(chunk), "total_count": len(items)})


register(
    route(f"{_BASE}/destinations/webhooks",
          GET=(_list_destinations, "notifications:read"),
          POST=(_create_destination, "notifications:write")),
    route(f"{_BASE}/destinations/webhooks/{_ID}",
          GET=(_get_destination, "notifications:read"),
          PUT=(_update_destination, "notifications:write"),
          DELETE=(_delete_destination, "notifications:write")),
    route(f"{_BASE}/policies", GET=(_list_policies, "notifications:read"),
          POST=(_create_policy, "notifications:write")),
    route(f"{_BASE}/policies/{_ID}", GET=(_get_policy, "notifications:read"),
          PUT=(_update_policy, "notifications:write"),
          DELETE=(_delete_policy, "notifications:write")),
    route(f"{_BASE}/history", GET=(_history, "notifications:read")),
)
