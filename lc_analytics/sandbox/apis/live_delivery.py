"""Pushing live-input events and recording-ready webhooks as the simulated clock moves.

`deliver_until(emulator, until)` sends everything that happened since the last delivery:
each live-input event (`sandbox.live_shows`) to every webhook destination of a matching
`stream_live_notifications` policy (header `cf-webhook-auth`: the destination's secret,
recorded in the alerting history), and each recording that became ready to the Stream webhook
URL (header `Webhook-Signature`, signed at the moment of sending, as Cloudflare does).
`Sandbox.advance` calls it. `configure(emulator, faults=..., send=...)` sets the faults a
receiver must survive (duplicates, reordering, delays, bad signatures) and how to send (by
default an HTTP POST).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pandas as pd

from .. import live_shows
from ..emulator import Emulator, rfc3339, video_json
from . import notifications, stream_webhook
from .live_views import live_clock

Send = Callable[[str, bytes, dict[str, str]], int]


@dataclass(frozen=True)
class DeliveryFaults:
    """What can go wrong on the way: shares of deliveries sent twice, held back to the end of
    their batch (delayed, so out of order), and forged (an extra copy with a bad secret or
    signature, next to the genuine one); `shuffle` reorders each batch."""

    duplicates: float = 0.0
    delays: float = 0.0
    bad_signatures: float = 0.0
    shuffle: bool = False
    seed: int = 0


@dataclass
class Deliveries:
    """Delivery settings and what was sent (url, kind, forged, status)."""

    faults: DeliveryFaults = field(default_factory=DeliveryFaults)
    send: Send | None = None
    cursor: pd.Timestamp | None = None
    batches: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)


def state(emulator: Emulator) -> Deliveries:
    """The emulator's delivery state."""
    return emulator.module_state("live_delivery", Deliveries)


def configure(emulator: Emulator, *, faults: DeliveryFaults | None = None,
              send: Send | None = None) -> None:
    """Set the faults and the sender; deliveries start from the live clock's instant."""
    st = state(emulator)
    st.faults = faults or DeliveryFaults()
    st.send = send
    st.cursor = live_clock(emulator)


def _http_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    try:
        return httpx.post(url, content=body, headers=headers, timeout=5).status_code
    except httpx.HTTPError:
        return 0


def pending(emulator: Emulator, since: pd.Timestamp, until: pd.Timestamp) -> list[dict]:
    """Everything to send for (since, until]: {at, kind, url, body, headers} in time order."""
    account = emulator.account
    out: list[dict] = []
    shows = account.draws.shows
    near = shows.index[(shows["start"] <= until) & (shows["end"] >= since - pd.Timedelta(
        hours=1))]
    roles, quota = live_shows.roles(account), live_shows.quota_show(account)
    for row in near:
        show = shows.loc[row]
        ev = live_shows.show_events(account, int(row), roles, quota)
        for e in ev[(ev["at"] > since) & (ev["at"] <= until)].itertuples():
            out.extend(_notifications(emulator, show["live_input_uid"], e))
    hook = stream_webhook.state(emulator)
    derived = account._state()["videos"]
    due = (derived["kind"] == "recording") & (derived["ready_at"] > since) \
        & (derived["ready_at"] <= until)
    if hook.url is not None and hook.secret is not None and due.any():
        videos = account.visible_videos()
        ready = videos[(videos["kind"] == "recording") & (videos["ready_at"] > since)
                       & (videos["ready_at"] <= until)]
        for row_ in ready.to_dict("records"):
            body = json.dumps(video_json(row_, emulator.customer_code)).encode()
            out.append({"at": row_["ready_at"], "kind": "stream_webhook", "url": hook.url,
                        "body": body, "secret": hook.secret})
    return sorted(out, key=lambda d: d["at"])


def _notifications(emulator: Emulator, li: str, e: Any) -> list[dict]:
    data: dict[str, Any] = {"notification_name": "Stream Live Input", "input_id": li,
                            "event_type": e.event_type, "updated_at": rfc3339(e.at)}
    code = e.code if isinstance(e.code, str) else None  # a frame holds None as NaN
    if code:
        data["live_input_errored"] = {
            "error": {"code": code, "message": live_shows.ERROR_MESSAGES.get(code, code)},
            "video_codec": "h264", "audio_codec": "aac"}
    out = []
    for policy, dest in notifications.matching_destinations(
            emulator, "stream_live_notifications", input_id=li):
        body = {"name": policy["name"], "text": f"{e.event_type} for live input {li}",
                "data": data, "ts": int(e.at.timestamp())}
        out.append({"at": e.at, "kind": "notification", "url": dest["url"], "policy": policy,
                    "destination": dest, "payload": body,
                    "body": json.dumps(body, sort_keys=True).encode(),
                    "secret": dest.get("secret")})
    return out


def _headers(item: dict, forged: bool) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    secret = item["secret"]
    if item["kind"] == "notification":
        if secret is not None:
            headers["cf-webhook-auth"] = secret + "x" if forged else secret
    else:
        sign = stream_webhook.signature(secret + ("x" if forged else ""), int(time.time()),
                                        item["body"])
        headers["webhook-signature"] = sign
    return headers


def deliver_until(emulator: Emulator, until: pd.Timestamp | None = None) -> list[dict]:
    """Send what happened since the last delivery up to `until` (default: the live clock),
    with the configured faults; returns what was sent, also kept in `state(em).sent`."""
    st = state(emulator)
    until = until if until is not None else live_clock(emulator)
    since = st.cursor if st.cursor is not None else until
    st.cursor = max(since, until)
    items = pending(emulator, since, until)
    if not items:
        return []
    f = st.faults
    rng = np.random.default_rng([f.seed, 14, st.batches])
    st.batches += 1
    plan: list[tuple[dict, bool]] = []
    held: list[tuple[dict, bool]] = []
    for item in items:
        if rng.random() < f.bad_signatures:
            plan.append((item, True))
        (held if rng.random() < f.delays else plan).append((item, False))
        if rng.random() < f.duplicates:
            plan.append((item, False))
    plan += held
    if f.shuffle:
        plan = [plan[i] for i in rng.permutation(len(plan))]
    send = st.send or _http_post
    out = []
    for item, forged in plan:
        status = send(item["url"], item["body"], _headers(item, forged))
        if item["kind"] == "notification" and not forged:
            record = notifications.record_delivery(emulator, item["policy"],
                                                   item["destination"], item["payload"])
            record["sent"] = rfc3339(item["at"])
        sent = {"url": item["url"], "kind": item["kind"], "forged": forged, "status": status,
                "at": item["at"], "body": item["body"]}
        st.sent.append(sent)
        out.append(sent)
    return out
