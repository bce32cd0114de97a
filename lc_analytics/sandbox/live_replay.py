"""Replaying the last simulated day's live shows through the real receiver and poller, as the
demo does: destinations set up through the emulated API, events delivered as a live clock
steps through the day, `/views` polled every minute, all into the spool beside a warehouse.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from ..live.poller import Poller
from ..live.receiver import ReceiverConfig, create_app
from ..live.spool import Spool, spool_dir
from ..settings import Secret
from .apis import live_delivery, live_views
from .runtime import Sandbox

RECEIVER = "http://receiver.sandbox"


def _asgi_send(app: Any) -> tuple[Callable[[str, bytes, dict[str, str]], int],
                               Callable[[], None]]:
    """A delivery sender that posts to the ASGI `app` in-process."""
    loop = asyncio.new_event_loop()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=RECEIVER)

    def send(url: str, body: bytes, headers: dict[str, str]) -> int:
        path = url.removeprefix(RECEIVER)
        return loop.run_until_complete(client.post(path, content=body,
                                                   headers=headers)).status_code

    def close() -> None:
        loop.run_until_complete(client.aclose())
        loop.close()
    return send, close


def _configure(sb: Sandbox, secret: str) -> str:
    """Create the webhook destination, the live-notifications policy and the Stream webhook
    through the emulated API; returns the Stream webhook's signing secret."""
    with httpx.Client(transport=sb.transport, base_url=sb.settings().api_base_url,
                      headers={"Authorization": f"Bearer {sb.token}"}) as api:
        base = f"/accounts/{sb.account.account_id}"
        dest = api.post(f"{base}/alerting/v3/destinations/webhooks", json={
            "name": "lc-analytics", "url": f"{RECEIVER}/notifications", "secret": secret})
        api.post(f"{base}/alerting/v3/policies", json={
            "name": "live shows", "alert_type": "stream_live_notifications", "enabled": True,
            "mechanisms": {"webhooks": [{"id": dest.json()["result"]["id"]}]}, "filters": {}})
        hook = api.put(f"{base}/stream/webhook",
                       json={"notificationUrl": f"{RECEIVER}/stream-webhook"})
        return str(hook.json()["result"]["secret"])


def replay_last_day(sb: Sandbox, db_path: str | Path, *, deliver_every: int = 5) -> int:
    """Deliver the last simulated day's events to a receiver spooling beside `db_path` and
    poll `/views` each minute while inputs are live; returns the samples taken."""
    note_secret = secrets.token_urlsafe(24)
    hook_secret = _configure(sb, note_secret)
    spool = Spool(spool_dir(db_path))
    app = create_app(spool, ReceiverConfig(Secret(note_secret), Secret(hook_secret)))
    send, close = _asgi_send(app)
    now = sb.account.now
    day = now - pd.Timedelta(days=1)
    live_views.set_live_clock(sb.emulator, day)
    live_delivery.configure(sb.emulator, send=send)
    clock = {"at": day}
    taken = 0
    try:
        with httpx.Client(transport=sb.transport) as http:
            poller = Poller(spool, f"https://customer-{sb.emulator.customer_code}"
                                   ".cloudflarestream.com", http,
                            now=lambda: clock["at"].to_pydatetime())
            for i, minute in enumerate(pd.date_range(day, now, freq="min", inclusive="left")):
                at = minute + pd.Timedelta(seconds=30)
                live_views.set_live_clock(sb.emulator, at)
                clock["at"] = at
                if i % deliver_every == 0:
                    live_delivery.deliver_until(sb.emulator, at)
                if i % deliver_every == 0 or poller.live():
                    taken += len(poller.poll_once())
            live_delivery.deliver_until(sb.emulator, now)
    finally:
        live_views.set_live_clock(sb.emulator, None)
        close()
    return taken
