"""Cloudflare Notifications objects (policies, webhook destinations) found and written by
name: what the billing-alert backstop and the live-events setup both apply."""

from __future__ import annotations

from typing import Any

from ..client.http import CloudflareClient

POLICIES = "alerting/v3/policies"
DESTINATIONS = "alerting/v3/destinations/webhooks"


def find_by_name(client: CloudflareClient, collection: str, name: str) -> dict[str, Any] | None:
    """The object of `collection` (POLICIES or DESTINATIONS) called `name`, or None."""
    items = client.get(client.account_path(collection), permission="notifications").result or []
    return next((item for item in items if item.get("name") == name), None)


def save_by_name(client: CloudflareClient, collection: str, name: str,
                 body: dict[str, Any]) -> None:
    """Update the object of `collection` called `name` to `body`, or create it."""
    found, path = find_by_name(client, collection, name), client.account_path(collection)
    if found is None:
        client.post(path, body, permission="notifications_write")
    else:
        client.put(f"{path}/{found['id']}", body, permission="notifications_write")
