"""The webhook receiver behind `lc-analytics events serve`: an ASGI app (Starlette) for both
of Cloudflare's senders, answering 2xx only once the event is fsynced to the spool.

    POST /notifications     Cloudflare Notifications (live-input events): `cf-webhook-auth`
                            must equal the destination's secret (compared in constant time)
    POST /stream-webhook    Stream's webhook (a video, e.g. a recording, is ready or failed):
                            `Webhook-Signature: time=...,sig1=...` is HMAC-SHA256 over
                            "{time}.{body}" with the webhook secret; a time further than the
                            tolerance from now is refused (a replay)
    GET  /health            {"status": "ok", "events": N} while the spool is writable

A delivery seen before (same content) is acknowledged again and stored once; order does not
matter (every record keeps its own event time). Each refused request logs one line with the
reason and the client address, never a secret or a header's value.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..settings import Secret
from .spool import Spool

log = logging.getLogger("lc_analytics.events")
DEFAULT_TOLERANCE = 300.0  # seconds between a signature's time and now
MAX_BODY = 1_000_000


@dataclass(frozen=True)
class ReceiverConfig:
    """The receiver's secrets and replay tolerance (secrets masked in every repr)."""

    notification_secret: Secret | None
    webhook_secret: Secret | None
    tolerance: float = DEFAULT_TOLERANCE


class Rejected(Exception):
    """A request refused: HTTP status and the reason logged."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def check_notification(headers: Any, config: ReceiverConfig) -> None:
    """Raise Rejected unless `cf-webhook-auth` equals the destination secret."""
    if config.notification_secret is None:
        raise Rejected(404, "notifications are not configured (no destination secret)")
    got = headers.get("cf-webhook-auth")
    if got is None:
        raise Rejected(401, "missing cf-webhook-auth header")
    if not hmac.compare_digest(got.encode(), config.notification_secret.reveal().encode()):
        raise Rejected(401, "cf-webhook-auth does not match the destination secret")


def check_signature(header: str | None, body: bytes, config: ReceiverConfig,
                    now: float) -> None:
    """Raise Rejected unless `Webhook-Signature` signs `body` within the tolerance.

    >>> cfg = ReceiverConfig(None, Secret("s"))
    >>> mac = hmac.new(b"s", b"100.{}", hashlib.sha256).hexdigest()
    >>> check_signature(f"time=100,sig1={mac}", b"{}", cfg, now=150.0)
    >>> try:
    ...     check_signature(f"time=100,sig1={mac}", b"{}", cfg, now=1000.0)
    ... except Rejected as r:
    ...     print(r.reason[:40])
    signature time is 900 s from now (tolera
    """
    if config.webhook_secret is None:
        raise Rejected(404, "the Stream webhook is not configured (no webhook secret)")
    if not header:
        raise Rejected(401, "missing Webhook-Signature header")
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        sent = int(parts["time"])
        sig = parts["sig1"]
    except (KeyError, ValueError):
        raise Rejected(401, "malformed Webhook-Signature header") from None
    if abs(now - sent) > config.tolerance:
        raise Rejected(401, f"signature time is {abs(now - sent):.0f} s from now (tolerance "
                            f"{config.tolerance:.0f} s): a replay or a skewed clock")
    want = hmac.new(config.webhook_secret.reveal().encode(), f"{sent}.".encode() + body,
                    hashlib.sha256).hexdigest()
    if not hmac.compare_digest(sig.encode(), want.encode()):
        raise Rejected(401, "Webhook-Signature does not match the body")


def _json(body: bytes) -> Any:
    if len(body) > MAX_BODY:
        raise Rejected(413, f"body over {MAX_BODY} bytes")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Rejected(400, "body is not JSON") from None


def create_app(spool: Spool, config: ReceiverConfig,
               clock: Callable[[], float] = time.time) -> Starlette:
    """The receiver as an ASGI app writing to `spool`."""

    async def store(request: Request, source: str) -> JSONResponse:
        body = await request.body()
        try:
            if source == "notification":
                check_notification(request.headers, config)
            else:
                check_signature(request.headers.get("webhook-signature"), body, config,
                                clock())
            payload = _json(body)
            if source == "notification" and not isinstance(
                    (payload.get("data") if isinstance(payload, dict) else None), dict):
                raise Rejected(400, "not a Cloudflare notification (no data object)")
        except Rejected as r:
            client = request.client.host if request.client else "-"
            log.warning("rejected %s %s from %s: %s", request.method, request.url.path,
                        client, r.reason)
            return JSONResponse({"error": r.reason}, status_code=r.status)
        ident, new = await run_in_threadpool(
            spool.append, "event", payload, source=source, received_at=clock())
        return JSONResponse({"id": ident, "stored": new}, status_code=200)

    async def notifications(request: Request) -> JSONResponse:
        return await store(request, "notification")

    async def stream_webhook(request: Request) -> JSONResponse:
        return await store(request, "stream_webhook")

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "events": spool.count("event"),
                             "samples": spool.count("sample")})

    return Starlette(routes=[
        Route("/notifications", notifications, methods=["POST"]),
        Route("/stream-webhook", stream_webhook, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ])
