"""API tokens: `GET /user/tokens/verify` (any valid token checks itself: id and status, no
permissions) and `GET /user/tokens/{id}` (the token's policies; needs the permission
`tokens:read`, "API Tokens Read", which the sandbox's default tokens do not hold: a token
that can read tokens holds more than an analytics toolkit needs)."""

from __future__ import annotations

import hashlib
from typing import Any

from ..emulator import Emulator, Problem, Request, envelope, register, route

#: the sandbox's permission names as Cloudflare's permission groups call them
GROUP_NAMES = {
    "stream:read": "Stream Read", "stream:write": "Stream Write",
    "analytics:read": "Account Analytics Read", "notifications:read": "Notifications Read",
    "notifications:write": "Notifications Write", "billing:read": "Billing Read",
    "tokens:read": "API Tokens Read", "zone:read": "Zone Read",
    "zone:analytics:read": "Zone Analytics Read", "zone:cache_rules:edit": "Zone Cache Rules Edit",
}


def token_id(token: str) -> str:
    """The public id of a token (what verify answers; the token itself is never served).

    >>> len(token_id("abcdefgh-secret"))
    32
    """
    return hashlib.sha256(f"lc-sandbox-token-id-{token}".encode()).hexdigest()[:32]


def _verify(em: Emulator, request: Request) -> tuple[int, dict]:
    return 200, envelope({"id": token_id(request.token), "status": "active",
                          "not_before": None, "expires_on": None})


def _policies(em: Emulator, permissions: set[str]) -> list[dict[str, Any]]:
    groups = [{"id": hashlib.sha256(p.encode()).hexdigest()[:32],
               "name": GROUP_NAMES.get(p, p)} for p in sorted(permissions)]
    return [{"id": token_id(",".join(sorted(permissions)))[:16], "effect": "allow",
             "resources": {f"com.cloudflare.api.account.{em.account.account_id}": "*"},
             "permission_groups": groups}]


def _get_token(em: Emulator, request: Request) -> tuple[int, dict]:
    for token, permissions in em.tokens.items():
        if token_id(token) == request.params["id"]:
            return 200, envelope({"id": request.params["id"], "name": "lc-analytics",
                                  "status": "active", "policies": _policies(em, permissions)})
    raise Problem(404, 1003, "token not found")


register(
    route("/user/tokens/verify", GET=(_verify, "")),
    route("/user/tokens/(?P<id>[0-9a-f]{32})", GET=(_get_token, "tokens:read")),
)
