"""The emulated Cloudflare API core: routing, token auth, rate limits and the Stream REST endpoints.

`Emulator.handle(method, path, query, headers, body)` answers one HTTP request the way
`https://api.cloudflare.com/client/v4` would (reference/cloudflare-api.md sections 1 and 2.3),
from a `SimulatedAccount`. It is transport-free: `transport.EmulatorTransport` feeds it httpx
requests in-process and `server.start_server` puts it behind a loopback HTTP server.

Request pipeline (each step may answer early):

    path under /client/v4? ─ no ─▶ 404 (7003)
    Bearer token known?     ─ no ─▶ 403 (10000 / 9109)   GraphQL: 401 "Unauthorized"
    account id ours?        ─ no ─▶ 403 (9109)
    budget left (per token)?─ no ─▶ 429 (10100)           GraphQL: 429 "budget"
    route + method?         ─ no ─▶ 404 (7003) / 405 (10000)
    permission?             ─ no ─▶ 403 (10000)           GraphQL: 403 "authz"
    JSON body?              ─ no ─▶ 400 (6007)
    handler                 ─ RuleViolation ─▶ 400 (or 404 for 10003 "Not Found")

Listing videos: `GET stream` filters by time and cuts at `limit`, like Cloudflare, with
INCLUSIVE time bounds (`after`/`start`: created >= t; `before`/`end`: created <= t). A client
paging by the last item's `created` sees the items of that instant again and must de-duplicate
by uid; in exchange nothing is skipped when many videos share one `created` (fewer than `limit`).

Secrets (tokens, stream keys) are served but never logged.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs

import pandas as pd

from .account import RuleViolation, SimulatedAccount

API_PREFIX = "/client/v4"
CORE_PERMISSIONS = frozenset({"stream:read", "stream:write", "analytics:read"})
FULL_PERMISSIONS = CORE_PERMISSIONS | {"notifications:read", "notifications:write",
                                        "zone:analytics:read", "zone:cache_rules:edit",
                                        "billing:read"}
STREAM_ONLY_PERMISSIONS = frozenset({"stream:read", "stream:write"})
MAX_LIST_LIMIT = 1000
VIDEO_STATES = ("pendingupload", "downloading", "queued", "inprogress", "ready", "error",
                "live-inprogress")
INVALID_VALUE = 10011  # the code the simulated account uses for refused values
RTMPS_URL = "rtmps://live.cloudflare.com:443/live/"
SRT_URL = "srt://live.cloudflare.com:778"
_TOKEN_FORMAT = re.compile(r"^[A-Za-z0-9_\-.]{8,}$")
_UID = r"(?P<uid>[0-9a-f]{32})"


# --- public helpers ---------------------------------------------------------------------
@dataclass(frozen=True)
class EmulatorResponse:
    """One HTTP answer of the emulator: status, lower-case headers and the raw body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


def sandbox_tokens(seed: int) -> dict[str, set[str]]:
    """The sandbox's default API tokens for `seed`, each with its permissions.

    One full token (Stream read/write, Account Analytics read, Notifications read/write,
    Zone Analytics read, Zone Cache Rules edit, Billing read) and one stream-only token.

    >>> sorted(sorted(p) for p in sandbox_tokens(7).values())[0]  # doctest: +NORMALIZE_WHITESPACE
    ['analytics:read', 'billing:read', 'notifications:read', 'notifications:write',
     'stream:read', 'stream:write', 'zone:analytics:read', 'zone:cache_rules:edit']
    """
    return {
        _derive_token(seed, "full"): set(FULL_PERMISSIONS),
        _derive_token(seed, "stream-only"): set(STREAM_ONLY_PERMISSIONS),
    }


def customer_code(seed: int) -> str:
    """The Stream customer code (`customer-<code>.cloudflarestream.com`) of the sandbox.

    >>> len(customer_code(7))
    16
    """
    return hashlib.sha256(f"lc-analytics-sandbox-customer-{seed}".encode()).hexdigest()[:16]


def rfc3339(ts: Any) -> str | None:
    """Format a timestamp the way the emulator serves every time: UTC, microseconds, `Z`.

    >>> rfc3339(pd.Timestamp("2026-06-30 19:04:05", tz="UTC"))
    '2026-06-30T19:04:05.000000Z'
    """
    if ts is None or pd.isna(ts):
        return None
    stamp = pd.Timestamp(ts)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _derive_token(seed: int, name: str) -> str:
    digest = hashlib.sha256(f"lc-analytics-sandbox-token-{seed}-{name}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:40]


# --- JSON builders, one per object type -----------------------------------------------
def video_json(row: Mapping[str, Any], code: str) -> dict[str, Any]:
    """A video object (reference 1.2) from one row of `SimulatedAccount.visible_videos()`."""
    uid = row["uid"]
    base = f"https://customer-{code}.cloudflarestream.com/{uid}"
    errored = row["state"] == "error"
    max_duration = row["max_duration_seconds"]
    return {
        "uid": uid,
        "creator": row["creator"] or None,
        "thumbnail": f"{base}/thumbnails/thumbnail.jpg",
        "thumbnailTimestampPct": 0,
        "readyToStream": bool(row["ready_to_stream"]),
        "readyToStreamAt": rfc3339(row["ready_at"]),
        "status": {
            "state": row["state"],
            "pctComplete": row["pct_complete"],
            "errorReasonCode": "ERR_MALFORMED_VIDEO" if errored else "",
            "errorReasonText": "The video was deemed to be corrupted or malformed."
            if errored else "",
        },
        "meta": {"name": row["meta_name"]} if row["meta_name"] else {},
        "created": rfc3339(row["created"]),
        "modified": rfc3339(row["modified"]),
        "uploaded": rfc3339(row["uploaded"]),
        "scheduledDeletion": rfc3339(row["scheduled_deletion"]),
        "size": int(row["size"]),
        "preview": f"{base}/watch",
        "allowedOrigins": [],
        "requireSignedURLs": False,
        "uploadExpiry": rfc3339(row["upload_expiry"]),
        "maxSizeBytes": None,
        "maxDurationSeconds": None if pd.isna(max_duration) else int(max_duration),
        "duration": float(row["duration"]),
        "input": {"width": int(row["width"]), "height": int(row["height"])},
        "playback": {"hls": f"{base}/manifest/video.m3u8", "dash": f"{base}/manifest/video.mpd"},
        "watermark": None,
        "liveInput": row["live_input"] or None,
        "clippedFrom": None,
        "publicDetails": None,
    }


def live_input_item_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """An abbreviated live input, as the list endpoint serves it (reference 1.4)."""
    return {
        "uid": row["uid"],
        "created": rfc3339(row["created"]),
        "modified": rfc3339(row["modified"]),
        "meta": {"name": row["name"]},
        "deleteRecordingAfterDays": _int_or_none(row["delete_recording_after_days"]),
        "enabled": bool(row["enabled"]),
    }


def live_input_json(row: Mapping[str, Any], code: str, seed: int) -> dict[str, Any]:
    """A full live input object (GET/PUT single, reference 1.4), secrets included."""
    uid = row["uid"]
    base = f"https://customer-{code}.cloudflarestream.com"
    key = _live_secret(seed, uid, "rtmps")
    return {
        **live_input_item_json(row),
        "defaultCreator": row["creator"],
        "keysRotatedAt": rfc3339(row["created"]),
        "recording": {
            "mode": row["recording_mode"],
            "timeoutSeconds": 0,
            "requireSignedURLs": False,
            "allowedOrigins": None,
            "hideLiveViewerCount": bool(row.get("hide_live_viewer_count", False)),
        },
        "rtmps": {"url": RTMPS_URL, "streamKey": key},
        "rtmpsPlayback": {"url": RTMPS_URL, "streamKey": _live_secret(seed, uid, "play")},
        "srt": {"url": SRT_URL, "streamId": uid,
                "passphrase": _live_secret(seed, uid, "srt")},
        "srtPlayback": {"url": SRT_URL, "streamId": f"play{uid}",
                        "passphrase": _live_secret(seed, uid, "srt-play")},
        "webRTC": {"url": f"{base}/{key}/webRTC/publish"},
        "webRTCPlayback": {"url": f"{base}/{uid}/webRTC/play"},
        "status": row["status"] or None,
    }


def _live_secret(seed: int, uid: str, purpose: str) -> str:
    return hashlib.sha256(f"lc-sandbox-{seed}-{uid}-{purpose}".encode()).hexdigest()


def _int_or_none(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def envelope(result: Any = None, *, errors: list[dict] | None = None,
             **top_level: Any) -> dict[str, Any]:
    """Cloudflare's standard REST envelope (reference 1.1); extra keys go at the top level."""
    return {"success": not errors, "errors": errors or [], "messages": [], "result": result,
            **top_level}


def graphql_error(message: str, timestamp: str, code: str | None = None) -> dict[str, Any]:
    """A GraphQL answer carrying one error (reference 2.3)."""
    extensions: dict[str, Any] = {"timestamp": timestamp}
    if code is not None:
        extensions["code"] = code
    return {"data": None,
            "errors": [{"message": message, "path": None, "extensions": extensions}]}


# --- rate limiting ----------------------------------------------------------------------
@dataclass(frozen=True)
class Budget:
    """The outcome of one hit on a rate limiter."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: float  # seconds until the oldest hit in the window expires (0: none held)


class SlidingWindowLimiter:
    """At most `limit` hits per key in any `window` seconds; refused hits are not counted.

    >>> t = [0.0]; lim = SlidingWindowLimiter(2, 300, lambda: t[0])
    >>> [lim.hit("k").allowed for _ in range(3)]
    [True, True, False]
    >>> t[0] = 300.0; lim.hit("k").allowed
    True
    """

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> Budget:
        """Count one request for `key` if the budget allows it."""
        now = self.clock()
        hits = self._prune(key, now)
        allowed = len(hits) < self.limit
        if allowed:
            hits.append(now)
        reset = hits[0] + self.window - now if hits else 0.0
        return Budget(allowed, self.limit, self.limit - len(hits), max(reset, 0.0))

    def peek(self, key: str) -> Budget:
        """The budget of `key` without counting a request."""
        now = self.clock()
        hits = self._prune(key, now)
        reset = hits[0] + self.window - now if hits else 0.0
        return Budget(True, self.limit, self.limit - len(hits), max(reset, 0.0))

    def _prune(self, key: str, now: float) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits


# --- request plumbing -------------------------------------------------------------------
class _Problem(Exception):
    """An early REST answer: HTTP status plus one Cloudflare error."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class _Request:
    method: str
    path: str  # below /client/v4
    query: dict[str, str]
    body: bytes
    permissions: set[str] = field(default_factory=set)
    params: dict[str, str] = field(default_factory=dict)
    token: str = ""  # the bearer token presented (for GET user/tokens/verify); never logged

    def json_body(self) -> dict[str, Any]:
        try:
            payload = json.loads(self.body or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise _Problem(400, 6007, "Malformed JSON in request body") from None
        if not isinstance(payload, dict):
            raise _Problem(400, 6007, "Malformed JSON in request body")
        return payload


Handler = Callable[["Emulator", _Request], tuple[int, dict]]


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    # method -> (handler, permission needed); a handler is the name of an Emulator method
    # (`name` -> `Emulator._name`) or a function `(emulator, request)` of an API module
    methods: dict[str, tuple[str | Handler, str]]


def _route(path: str, **methods: tuple[str | Handler, str]) -> _Route:
    return _Route(re.compile(f"^{path}$"), methods)


# Public names for the API modules of `lc_analytics.sandbox.apis`, which add routes with
# `register(route(...))` instead of growing this module: each product area of the emulated
# API lives in its own module there, found and imported at the end of this one.
Request = _Request
Problem = _Problem
route = _route
ACCOUNT = r"/accounts/(?P<account>[^/]+)"
EXTRA_ROUTES: list[_Route] = []


def register(*routes: _Route) -> None:
    """Add routes served by an API module (see `lc_analytics.sandbox.apis`)."""
    EXTRA_ROUTES.extend(routes)


#: Paths served outside /client/v4 without a token (e.g. a customer-code host's `/views`):
#: pattern -> function `(emulator, match, query) -> (status, JSON payload)`.
PUBLIC_ROUTES: list[tuple[re.Pattern[str], Callable[..., tuple[int, Any]]]] = []


def register_public(path: str, handler: Callable[..., tuple[int, Any]]) -> None:
    """Serve `path` (a regex, anchored) outside the API, without authentication."""
    PUBLIC_ROUTES.append((re.compile(f"^{path}$"), handler))


_ACCOUNT = ACCOUNT
ROUTES = (
    _route(f"{_ACCOUNT}/stream", GET=("list_videos", "stream:read")),
    _route(f"{_ACCOUNT}/stream/live_inputs", GET=("list_live_inputs", "stream:read")),
    _route(f"{_ACCOUNT}/stream/live_inputs/{_UID}", GET=("get_live_input", "stream:read"),
           PUT=("update_live_input", "stream:write")),
    _route(f"{_ACCOUNT}/stream/storage-usage", GET=("storage_usage", "stream:read")),
    _route(f"{_ACCOUNT}/stream/{_UID}", GET=("get_video", "stream:read"),
           POST=("edit_video", "stream:write"), DELETE=("delete_video", "stream:write")),
)


def _parse_query(query: Mapping[str, list[str]] | str | bytes) -> dict[str, str]:
    if isinstance(query, bytes):
        query = query.decode("utf-8", "replace")
    parsed = parse_qs(query, keep_blank_values=True) if isinstance(query, str) else query
    return {k: v[-1] for k, v in parsed.items() if v}


def _bearer(headers: Mapping[str, str]) -> str:
    """The token presented as `Authorization: Bearer <token>`, or the problem with it."""
    raw = headers.get("authorization")
    if raw is None:
        raise _Problem(403, 10000, "Authentication error")
    scheme, _, token = raw.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not _TOKEN_FORMAT.match(token):
        raise _Problem(403, 9109, "Invalid access token")
    return token


# --- the emulator -----------------------------------------------------------------------
class Emulator:
    """Answers Cloudflare API requests from a simulated account; see the module docstring.

    >>> from datetime import date
    >>> em = Emulator(SimulatedAccount.build("small", seed=7, end=date(2026, 6, 30)))
    >>> r = em.handle("GET", f"/client/v4/accounts/{em.account.account_id}/stream/storage-usage",
    ...               "", {"Authorization": f"Bearer {em.token}"}, b"")
    >>> r.status, r.json()["success"]
    (200, True)

    `tokens` maps token -> permissions (default: `sandbox_tokens(account.seed)`); `token` and
    `stream_only_token` are the first tokens of the map with the core and with stream-only
    permissions (None when the map has none). `lock` serialises every request; share it with
    anything else that touches the account.
    """

    def __init__(
        self,
        account: SimulatedAccount,
        *,
        tokens: Mapping[str, set[str]] | None = None,
        rest_limit: int = 1200,
        graphql_limit: int = 300,
        window_seconds: float = 300,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.account = account
        self.tokens = {t: set(p) for t, p in (tokens or sandbox_tokens(account.seed)).items()}
        self.token = _first_token(self.tokens, lambda p: p >= CORE_PERMISSIONS)
        self.stream_only_token = _first_token(
            self.tokens, lambda p: "stream:read" in p and "analytics:read" not in p)
        self.customer_code = customer_code(account.seed)
        self.rest_limiter = SlidingWindowLimiter(rest_limit, window_seconds, clock)
        self.graphql_limiter = SlidingWindowLimiter(graphql_limit, window_seconds, clock)
        self.lock = threading.RLock()
        self._graphql: Any = None
        self._module_state: dict[str, Any] = {}

    def module_state(self, key: str, factory: Callable[[], Any]) -> Any:
        """The state an API module keeps for this emulator (created on first use)."""
        if key not in self._module_state:
            self._module_state[key] = factory()
        return self._module_state[key]

    # --- entry point --------------------------------------------------------------------
    def handle(self, method: str, path: str, query: Mapping[str, list[str]] | str,
               headers: Mapping[str, str], body: bytes) -> EmulatorResponse:
        """Answer one request; `path` is the URL path (a `?query` suffix is also accepted)."""
        path, _, inline_query = path.partition("?")
        query = query or inline_query
        headers = {k.lower(): v for k, v in headers.items()}
        method = method.upper()
        with self.lock:
            public = [(m, h) for p, h in PUBLIC_ROUTES if (m := p.match(path))] \
                if not path.startswith(API_PREFIX) else []
            if public and method == "GET":
                status, payload = public[0][1](self, public[0][0], _parse_query(query))
                answer = _json_response(status, payload, {})
            elif path.rstrip("/") == f"{API_PREFIX}/graphql":
                answer = self._handle_graphql(method, headers, body)
            else:
                answer = self._handle_rest(method, path, _parse_query(query), headers, body)
            # Like any HTTP server, say what time it is: the simulated clock, so clients that
            # take "today" from the server (lc_analytics does) follow the simulation.
            answer.headers["date"] = formatdate(self.account.now.timestamp(), usegmt=True)
            return answer

    # --- REST ---------------------------------------------------------------------------
    def _handle_rest(self, method: str, path: str, query: dict[str, str],
                     headers: dict[str, str], body: bytes) -> EmulatorResponse:
        token: str | None = None
        try:
            sub = self._api_path(path)
            token = _bearer(headers)
            permissions = self._permissions(token)
            self._check_account(sub)
            budget = self.rest_limiter.hit(token)
            if not budget.allowed:
                return self._rate_limited(budget)
            request = _Request(method, sub, query, body, permissions, token=token)
            handler = self._resolve(request)
            status, payload = handler(request)
        except _Problem as p:
            status, payload = p.status, envelope(errors=[{"code": p.code, "message": p.message}])
        except RuleViolation as v:
            status = 404 if v.code == 10003 else 400
            payload = envelope(errors=[{"code": v.code, "message": v.message}])
        budget = self.rest_limiter.peek(token) if token in self.tokens else \
            Budget(True, self.rest_limiter.limit, self.rest_limiter.limit, 0.0)
        return _json_response(status, payload, _rate_headers(budget, self.rest_limiter.window))

    def _api_path(self, path: str) -> str:
        if not path.startswith(f"{API_PREFIX}/"):
            raise _Problem(404, 7003, _no_route(path))
        return path[len(API_PREFIX):].rstrip("/") or "/"

    def _permissions(self, token: str) -> set[str]:
        if token not in self.tokens:
            raise _Problem(403, 10000, "Authentication error")
        return self.tokens[token]

    def _check_account(self, sub: str) -> None:
        match = re.match(rf"^{_ACCOUNT}(/|$)", sub)
        if match and match["account"] != self.account.account_id:
            raise _Problem(403, 9109, "Unauthorized to access requested resource")

    def _resolve(self, request: _Request) -> Callable[[_Request], tuple[int, dict]]:
        for candidate in (*ROUTES, *EXTRA_ROUTES):
            match = candidate.pattern.match(request.path)
            if match is None:
                continue
            if request.method not in candidate.methods:
                raise _Problem(405, 10000, f"{request.method} method not allowed for the "
                                           "api_token authentication scheme")
            handler, needed = candidate.methods[request.method]
            if not _allows(request.permissions, needed):
                raise _Problem(403, 10000, "Authentication error")
            request.params = {k: v for k, v in match.groupdict().items() if k != "account"}
            if callable(handler):
                return functools.partial(handler, self)
            return getattr(self, f"_{handler}")
        raise _Problem(404, 7003, _no_route(request.path))

    def _rate_limited(self, budget: Budget) -> EmulatorResponse:
        limit, window = self.rest_limiter.limit, self.rest_limiter.window
        message = (f"More than {limit} requests per {window:g} seconds reached. "
                   "Please wait and consider throttling your request speed")
        headers = _rate_headers(budget, window)
        retry = max(1, math.ceil(budget.reset_after))
        headers["retry-after"] = str(retry)
        headers["x-ratelimit-reset"] = formatdate(time.time() + retry, usegmt=True)
        return _json_response(429, envelope(errors=[{"code": 10100, "message": message}]),
                              headers)

    # --- Stream videos ------------------------------------------------------------------
    def _list_videos(self, request: _Request) -> tuple[int, dict]:
        """GET stream: filter, order by (created, uid), cut at `limit`.

        Time bounds are INCLUSIVE: `after`/`start` keep created >= t, `before`/`end` keep
        created <= t. A client that pages by passing the last item's `created` therefore
        sees the items sharing that instant again and must de-duplicate by uid; no item is
        skipped, however many share one `created` (as long as fewer than `limit` do).
        """
        q = request.query
        limit = _int_param(q, "limit", MAX_LIST_LIMIT, 1, MAX_LIST_LIMIT)
        asc = _bool_param(q, "asc", False)
        videos = self.account.visible_videos()
        matched = videos[_video_mask(videos, q)].reset_index(drop=True).sort_values(
            ["created", "uid"], ascending=asc, kind="stable")
        page = matched.head(limit)
        result = [video_json(row, self.customer_code) for row in page.to_dict("records")]
        counts: dict[str, Any] = {}
        if _bool_param(q, "include_counts", False):
            counts = {"total": len(matched), "range": len(matched) - len(page)}
        return 200, envelope(result, **counts)

    def _get_video(self, request: _Request) -> tuple[int, dict]:
        return 200, envelope(self._video(request.params["uid"]))

    def _edit_video(self, request: _Request) -> tuple[int, dict]:
        body = request.json_body()
        changes: dict[str, Any] = {}
        if "scheduledDeletion" in body:
            changes["scheduled_deletion"] = _optional_time(body["scheduledDeletion"],
                                                           "scheduledDeletion")
        if "meta" in body:
            if not isinstance(body["meta"], dict):
                raise _Problem(400, INVALID_VALUE, "meta must be an object")
            changes["meta"] = body["meta"]
        self.account.edit_video(request.params["uid"], **changes)
        return 200, envelope(self._video(request.params["uid"]))

    def _delete_video(self, request: _Request) -> tuple[int, dict]:
        self.account.delete_video(request.params["uid"])
        return 200, envelope(None)

    def _video(self, uid: str) -> dict[str, Any]:
        videos = self.account.visible_videos()
        if uid not in videos.index:
            raise _Problem(404, 10003, "Not Found")
        return video_json(videos.loc[uid].to_dict(), self.customer_code)

    # --- live inputs ----------------------------------------------------------------------
    def _list_live_inputs(self, request: _Request) -> tuple[int, dict]:
        """GET stream/live_inputs: every input, newest first, abbreviated; range is 0."""
        inputs = self.account.visible_live_inputs().reset_index(drop=True).sort_values(
            ["created", "uid"], ascending=False)
        items = [live_input_item_json(row) for row in inputs.to_dict("records")]
        return 200, envelope({"liveInputs": items, "range": 0, "total": len(items)})

    def _get_live_input(self, request: _Request) -> tuple[int, dict]:
        return 200, envelope(self._live_input(request.params["uid"]))

    def _update_live_input(self, request: _Request) -> tuple[int, dict]:
        body = request.json_body()
        changes = _live_input_changes(body)
        self.account.update_live_input(request.params["uid"], **changes)
        return 200, envelope(self._live_input(request.params["uid"]))

    def _live_input(self, uid: str) -> dict[str, Any]:
        inputs = self.account.visible_live_inputs()
        if uid not in inputs.index:
            raise _Problem(404, 10003, "Not Found")
        return live_input_json(inputs.loc[uid].to_dict(), self.customer_code, self.account.seed)

    # --- storage ------------------------------------------------------------------------
    def _storage_usage(self, request: _Request) -> tuple[int, dict]:
        creator = request.query.get("creator") or None
        if creator is not None and len(creator) > 64:
            raise _Problem(400, INVALID_VALUE, "creator must be at most 64 characters")
        return 200, envelope(self.account.storage_usage(creator))

    # --- GraphQL ------------------------------------------------------------------------
    def _handle_graphql(self, method: str, headers: dict[str, str],
                        body: bytes) -> EmulatorResponse:
        """POST /graphql: auth and budget here, the query itself in `graphql_api`."""
        stamp = self._timestamp()
        if method != "POST":
            return _json_response(405, envelope(errors=[{
                "code": 10000, "message": f"{method} method not allowed for the api_token "
                                          "authentication scheme"}]), {})
        try:
            token = _bearer(headers)
        except _Problem:
            token = ""
        if token not in self.tokens:
            return _json_response(401, graphql_error("Unauthorized", stamp), {})
        permissions = self.tokens[token]
        if not permissions & {"analytics:read", "zone:analytics:read"}:
            return _json_response(
                403, graphql_error("not authorized for that account", stamp, "authz"), {})
        if not self.graphql_limiter.hit(token).allowed:
            return _json_response(429, graphql_error(
                "rate limiter budget depleted, try again after 5 minutes", stamp, "budget"), {})
        try:
            payload = json.loads(body or b"")
        except (UnicodeDecodeError, json.JSONDecodeError):
            payload = None
        if not isinstance(payload, dict):
            return _json_response(400, graphql_error(
                "failed to recognize JSON request", stamp), {})
        status, answer = self._graphql_endpoint().execute(payload, set(permissions))
        return _json_response(status, answer, {})

    def warm(self) -> None:
        """Derive every GraphQL dataset's frame now, not on the first query (benchmarks
        time the clients, not the simulation; the frames are rebuilt when the account moves)."""
        from .graphql_api import DATASETS

        for ds in DATASETS.values():
            self._graphql_endpoint().frame(ds)

    def _graphql_endpoint(self) -> Any:
        if self._graphql is None:
            from .graphql_api import GraphQLEndpoint  # written alongside; imported lazily
            self._graphql = GraphQLEndpoint(self.account)
        return self._graphql

    def _timestamp(self) -> str:
        """GraphQL error timestamps follow the account's clock, like everything it serves."""
        return rfc3339(self.account.now) or ""


# --- small helpers ----------------------------------------------------------------------
def _first_token(tokens: Mapping[str, set[str]], want: Callable[[set[str]], bool]) -> str | None:
    return next((t for t, perms in tokens.items() if want(perms)), None)


def _allows(permissions: set[str], needed: str) -> bool:
    if not needed:  # any valid token (e.g. GET user/tokens/verify)
        return True
    return needed in permissions or (needed == "stream:read" and "stream:write" in permissions)


def _no_route(path: str) -> str:
    return f"Could not route to {path}, perhaps your object identifier is invalid?"


def _json_response(status: int, payload: Any, headers: dict[str, str]) -> EmulatorResponse:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return EmulatorResponse(status, {"content-type": "application/json", **headers}, body)


def _rate_headers(budget: Budget, window: float) -> dict[str, str]:
    """Both header styles Cloudflare documents (x-ratelimit-* and the IETF-draft pair)."""
    reset = math.ceil(budget.reset_after)
    return {
        "x-ratelimit-limit": str(budget.limit),
        "x-ratelimit-remaining": str(max(budget.remaining, 0)),
        "ratelimit": f'"default";r={max(budget.remaining, 0)};t={reset}',
        "ratelimit-policy": f'"default";q={budget.limit};w={window:g}',
    }


def _int_param(q: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = q.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _Problem(400, INVALID_VALUE, f"{name} must be an integer") from None
    if not low <= value <= high:
        raise _Problem(400, INVALID_VALUE, f"{name} must be between {low} and {high}")
    return value


def _bool_param(q: Mapping[str, str], name: str, default: bool) -> bool:
    raw = q.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise _Problem(400, INVALID_VALUE, f"{name} must be true or false")


def _parse_time(raw: str, name: str) -> pd.Timestamp:
    text = raw.strip().replace(" ", "+")  # an unencoded '+' in a query decodes as a space
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise _Problem(400, INVALID_VALUE, f"{name} must be an RFC 3339 date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return pd.Timestamp(parsed).tz_convert("UTC")


def _optional_time(value: Any, name: str) -> pd.Timestamp | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Problem(400, INVALID_VALUE, f"{name} must be an RFC 3339 date-time or null")
    return _parse_time(value, name)


def _csv(raw: str) -> set[str]:
    return {part.strip() for part in raw.split(",") if part.strip()}


def _video_mask(videos: pd.DataFrame, q: Mapping[str, str]) -> pd.Series:
    """Rows of `visible_videos()` that match the list-videos query parameters."""
    mask = pd.Series(True, index=videos.index)
    for name in ("after", "start"):
        if q.get(name):
            mask &= videos["created"] >= _parse_time(q[name], name)
    for name in ("before", "end"):
        if q.get(name):
            mask &= videos["created"] <= _parse_time(q[name], name)
    if q.get("id"):
        mask &= videos["uid"].isin(_csv(q["id"]))
    if q.get("name"):
        names = _csv(q["name"])
        mask &= videos["uid"].isin(names) | videos["meta_name"].isin(names)
    if q.get("creator"):
        mask &= videos["creator"] == q["creator"]
    if q.get("live_input_id"):
        mask &= videos["live_input"] == q["live_input_id"]
    if q.get("video_name"):
        mask &= videos["meta_name"] == q["video_name"]
    if q.get("search"):
        mask &= videos["meta_name"].str.contains(q["search"], case=False, regex=False)
    if q.get("status"):
        if q["status"] not in VIDEO_STATES:
            raise _Problem(400, INVALID_VALUE, f"status must be one of {', '.join(VIDEO_STATES)}")
        mask &= videos["state"] == q["status"]
    if q.get("type"):
        if q["type"] not in ("live", "vod"):
            raise _Problem(400, INVALID_VALUE, "type must be live or vod")
        is_live = videos["live_input"].notna() & videos["live_input"].astype(bool)
        mask &= is_live if q["type"] == "live" else ~is_live
    return mask


def _live_input_changes(body: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for `update_live_input` from a PUT body; unknown fields are ignored."""
    changes: dict[str, Any] = {}
    if "deleteRecordingAfterDays" in body:
        changes["delete_recording_after_days"] = body["deleteRecordingAfterDays"]
    if "recording" in body:
        recording = body["recording"]
        if not isinstance(recording, dict):
            raise _Problem(400, INVALID_VALUE, "recording must be an object")
        if "mode" in recording:
            changes["recording_mode"] = recording["mode"]
        if "hideLiveViewerCount" in recording:
            changes["hide_live_viewer_count"] = recording["hideLiveViewerCount"]
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            raise _Problem(400, INVALID_VALUE, "enabled must be true or false")
        changes["enabled"] = body["enabled"]
    if "meta" in body:
        meta = body["meta"]
        if not isinstance(meta, dict) or not isinstance(meta.get("name", ""), str):
            raise _Problem(400, INVALID_VALUE, "meta must be an object with a string name")
        if "name" in meta:
            changes["meta_name"] = meta["name"]
    return changes


__all__ = [
    "Emulator",
    "EmulatorResponse",
    "SlidingWindowLimiter",
    "customer_code",
    "envelope",
    "live_input_item_json",
    "live_input_json",
    "rfc3339",
    "sandbox_tokens",
    "video_json",
]


# The API modules register their routes on import (after everything above exists).
from . import apis  # noqa: E402, F401
