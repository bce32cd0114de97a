"""Stream's own webhook (reference 1.6): one `notificationUrl` per account, and the secret
with which every delivery is signed (`Webhook-Signature: time=...,sig1=...`, HMAC-SHA256
over `"{time}.{body}"`). `signature()` is what the emulator's deliveries use."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from ..emulator import ACCOUNT, Emulator, Problem, Request, envelope, register, rfc3339, route


@dataclass
class StreamWebhook:
    """The account's webhook: its URL (None until set), when it changed, its secret."""

    url: str | None = None
    modified: str | None = None
    secret: str | None = None


def state(emulator: Emulator) -> StreamWebhook:
    """The emulator's Stream webhook."""
    return emulator.module_state("stream_webhook", StreamWebhook)


def signature(secret: str, time: int, body: bytes) -> str:
    """The `Webhook-Signature` header for `body` sent at unix `time`.

    >>> signature("s3cret", 1230811200, b"{}")[:18]
    'time=1230811200,si'
    """
    mac = hmac.new(secret.encode(), f"{time}.".encode() + body, hashlib.sha256).hexdigest()
    return f"time={time},sig1={mac}"


def _json(hook: StreamWebhook) -> dict[str, Any]:
    return {"notificationUrl": hook.url, "modified": hook.modified, "secret": hook.secret}


def _get(em: Emulator, request: Request) -> tuple[int, dict]:
    hook = state(em)
    if hook.url is None:
        raise Problem(404, 10003, "Not Found")
    return 200, envelope(_json(hook))


def _put(em: Emulator, request: Request) -> tuple[int, dict]:
    url = request.json_body().get("notificationUrl")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise Problem(400, 10011, "notificationUrl must be an http(s) URL")
    hook = state(em)
    hook.url, hook.modified = url, rfc3339(em.account.now)
    hook.secret = hashlib.sha256(f"lc-sandbox-{em.account.seed}-webhook-{url}".encode()
                                 ).hexdigest()
    return 200, envelope(_json(hook))


def _delete(em: Emulator, request: Request) -> tuple[int, dict]:
    state(em).url = state(em).secret = state(em).modified = None
    return 200, envelope(None)


register(route(f"{ACCOUNT}/stream/webhook", GET=(_get, "stream:read"),
               PUT=(_put, "stream:write"), DELETE=(_delete, "stream:write")))
