"""One HTTP client for Cloudflare's REST and GraphQL APIs: auth, envelopes, retries, limits."""

from __future__ import annotations

import contextlib
import json
import logging
import random
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from ..errors import ApiError, AuthError, QueryError, RateLimitError, TransportError
from ..settings import Settings, mask_secrets

log = logging.getLogger(__name__)

#: The token permission each API family needs, named as in Cloudflare's token editor.
PERMISSIONS = {
    "stream": "Account > Stream > Read",
    "stream_write": "Account > Stream > Edit",
    "analytics": "Account > Account Analytics > Read",
}


class Clock:
    """Wall-clock time and sleeping; tests swap in a fake that advances instantly."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class RetryPolicy:
    """How hard to try: per-request attempts, backoff, and a budget for the whole client."""

    max_attempts: int = 6
    base_delay: float = 1.0  # also the floor when Retry-After is 0, absent or in the past
    max_delay: float = 60.0
    max_retry_after: float = 330.0  # Cloudflare blocks for 5 minutes after the REST limit
    budget: int = 200  # retries allowed across all requests of one client


@dataclass
class SlidingLimiter:
    """Client-side limit: at most `limit` calls in any `window` seconds."""

    limit: int
    window: float
    clock: Clock
    _calls: deque[float] = field(default_factory=deque)

    def acquire(self) -> float:
        """Wait (through the clock) until a call is allowed; returns the seconds waited."""
        waited = 0.0
        while True:
            now = self.clock.monotonic()
            while self._calls and self._calls[0] <= now - self.window:
                self._calls.popleft()
            if len(self._calls) < self.limit:
                self._calls.append(now)
                return waited
            pause = self._calls[0] + self.window - now + 0.001
            self.clock.sleep(pause)
            waited += pause


@dataclass
class Page:
    """One unwrapped REST answer: the `result` and the envelope's other top-level fields."""

    result: Any
    total: int | None = None
    range: int | None = None
    result_info: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ClientStats:
    """What a client did: requests sent, retries, seconds waited on limits."""

    requests: int = 0
    retries: int = 0
    graphql_requests: int = 0
    waited_seconds: float = 0.0


class CloudflareClient:
    """Talks to api.cloudflare.com (or the sandbox) with one set of rules.

    >>> from lc_analytics.sandbox.runtime import Sandbox            # doctest: +SKIP
    >>> with Sandbox.build() as sb:                                   # doctest: +SKIP
    ...     client = CloudflareClient(sb.settings(), transport=sb.transport)
    ...     client.get(f"/accounts/{sb.account.account_id}/stream/storage-usage").result
    """

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        rest_limit: int = 1100,  # under Cloudflare's 1200 / 5 min, shared with the dashboard
        graphql_limit: int = 280,  # under 300 / 5 min
        window_seconds: float = 300.0,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if settings.api_token is None or settings.account_id is None:
            from ..errors import ConfigError

            raise ConfigError([
                p for p, missing in (
                    ("CLOUDFLARE_ACCOUNT_ID is not set", settings.account_id is None),
                    ("CLOUDFLARE_STREAM_API_TOKEN (or CLOUDFLARE_API_TOKEN) is not set",
                     settings.api_token is None),
                ) if missing
            ])
        self.settings = settings
        self.account_id = settings.account_id
        self.retry = retry or RetryPolicy()
        self.clock = clock or Clock()
        self.rng = rng or random.Random()
        self.stats = ClientStats()
        self.server_date: datetime | None = None  # the API's clock, from its Date header
        self._secrets = settings.secrets()
        self._rest_limiter = SlidingLimiter(rest_limit, window_seconds, self.clock)
        self._graphql_limiter = SlidingLimiter(graphql_limit, window_seconds, self.clock)
        self._http = httpx.Client(
            base_url=settings.api_base_url,
            transport=transport,
            timeout=timeout,
            headers={
                "Authorization": f"Bearer {settings.api_token.reveal()}",
                "User-Agent": "lc-analytics",
            },
        )

    # --- public API ------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CloudflareClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def account_path(self, suffix: str) -> str:
        return f"/accounts/{self.account_id}/{suffix.lstrip('/')}"

    def get(self, path: str, params: dict | None = None, *, permission: str = "stream") -> Page:
        """GET a REST path (relative to the base URL) and unwrap Cloudflare's envelope."""
        return self._rest("GET", path, params=params, permission=permission)

    def post(self, path: str, body: dict, *, permission: str = "stream_write") -> Page:
        return self._rest("POST", path, json_body=body, permission=permission)

    def put(self, path: str, body: dict, *, permission: str = "stream_write") -> Page:
        return self._rest("PUT", path, json_body=body, permission=permission)

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        """POST a GraphQL query; returns `data`. Checks both the HTTP status and `errors`."""
        payload = {"query": query, "variables": variables or {}}
        response = self._send("POST", "/graphql", json_body=payload, graphql=True,
                              permission="analytics")
        body = self._json(response)
        errors = body.get("errors") if isinstance(body, dict) else None
        if response.status_code >= 400 or errors:
            raise self._graphql_error(response, errors)
        data = body.get("data")
        if data is None:
            raise QueryError("GraphQL answered without data and without errors",
                             status=response.status_code, url=str(response.request.url))
        return data

    # --- internals -------------------------------------------------------------------
    def _rest(self, method: str, path: str, *, params: dict | None = None,
              json_body: dict | None = None, permission: str) -> Page:
        response = self._send(method, path, params=params, json_body=json_body,
                              permission=permission)
        body = self._json(response)
        if response.status_code >= 400 or not body.get("success", False):
            raise self._rest_error(response, body, permission)
        return Page(
            result=body.get("result"),
            total=body.get("total", (body.get("result_info") or {}).get("total_count")),
            range=body.get("range"),
            result_info=body.get("result_info"),
            headers=dict(response.headers),
        )

    def _send(self, method: str, path: str, *, params: dict | None = None,
              json_body: dict | None = None, graphql: bool = False,
              permission: str) -> httpx.Response:
        limiter = self._graphql_limiter if graphql else self._rest_limiter
        attempt = 0
        while True:
            attempt += 1
            self.stats.waited_seconds += limiter.acquire()
            self.stats.requests += 1
            if graphql:
                self.stats.graphql_requests += 1
            try:
                response = self._http.request(method, path, params=params, json=json_body)
            except httpx.TimeoutException as exc:
                self._retry_or_raise(attempt, None, TransportError(
                    f"{method} {path} timed out", method=method, url=path), exc)
                continue
            except httpx.TransportError as exc:
                self._retry_or_raise(attempt, None, TransportError(
                    f"{method} {path} failed: {self._mask(str(exc))}", method=method,
                    url=path), exc)
                continue
            self._note_server_date(response)
            status = response.status_code
            if status == 429 or status >= 500 or (graphql and _graphql_budget(response)):
                err: ApiError
                if status == 429 or _graphql_budget(response):
                    err = RateLimitError(
                        f"{method} {path}: rate limited (HTTP {status}) after {attempt} "
                        "attempt(s); the token's request budget is spent, try again later",
                        status=status, method=method, url=path)
                else:
                    err = ApiError(f"{method} {path}: server error HTTP {status}",
                                   status=status, method=method, url=path)
                self._retry_or_raise(attempt, response, err, None)
                continue
            return response

    def _note_server_date(self, response: httpx.Response) -> None:
        raw = response.headers.get("date")
        if raw:
            with contextlib.suppress(TypeError, ValueError):
                self.server_date = parsedate_to_datetime(raw).astimezone(UTC)

    def _retry_or_raise(self, attempt: int, response: httpx.Response | None, err: ApiError,
                        cause: BaseException | None) -> None:
        if attempt >= self.retry.max_attempts or self.stats.retries >= self.retry.budget:
            raise err from cause
        self.stats.retries += 1
        delay = self._delay(attempt, response)
        log.info("retrying in %.1fs (attempt %d): %s", delay, attempt, err)
        self.clock.sleep(delay)
        self.stats.waited_seconds += delay

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        """Exponential backoff with full jitter, never below `base_delay`.

        A Retry-After header wins when it asks for longer; 0, a past date, garbage or an
        absent header is no licence to retry at once.
        """
        backoff = min(self.retry.max_delay, self.retry.base_delay * 2 ** (attempt - 1))
        delay = self.retry.base_delay + self.rng.uniform(0, backoff)
        if response is not None:
            asked = _retry_after(response.headers)
            if asked is not None:
                delay = max(delay, min(asked, self.retry.max_retry_after))
            elif _graphql_budget(response):
                delay = max(delay, 60.0)
        return delay

    def _json(self, response: httpx.Response) -> dict:
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(
                f"{response.request.method} {response.request.url.path}: HTTP "
                f"{response.status_code} with a body that is not JSON",
                status=response.status_code, method=response.request.method,
                url=str(response.request.url.path)) from exc
        if not isinstance(body, dict):
            raise ApiError("Cloudflare answered with JSON that is not an object",
                           status=response.status_code)
        return body

    def _rest_error(self, response: httpx.Response, body: dict, permission: str) -> ApiError:
        errors = body.get("errors") or []
        codes: list[int] = [e["code"] for e in errors
                            if isinstance(e, dict) and isinstance(e.get("code"), int)]
        messages = "; ".join(
            f"{e.get('code')}: {e.get('message')}" for e in errors if isinstance(e, dict)
        ) or "no error detail"
        where = f"{response.request.method} {response.request.url.path}"
        status = response.status_code
        if status in (401, 403):
            return AuthError(
                f"{where}: the API token was refused (HTTP {status}: {self._mask(messages)}). "
                f"Check CLOUDFLARE_STREAM_API_TOKEN and that the token has the "
                f"'{PERMISSIONS[permission]}' permission for account {self.account_id}.",
                status=status, codes=codes, method=response.request.method, url=where)
        return ApiError(f"{where}: HTTP {status}: {self._mask(messages)}", status=status,
                        codes=codes, method=response.request.method, url=where)

    def _graphql_error(self, response: httpx.Response, errors: list | None) -> ApiError:
        messages = "; ".join(
            str(e.get("message")) for e in (errors or []) if isinstance(e, dict)
        ) or f"HTTP {response.status_code}"
        status = response.status_code
        if status in (401, 403) or any(
            ((e.get("extensions") or {}).get("code") in ("authz", "unauthorized"))
            for e in (errors or []) if isinstance(e, dict)
        ):
            return AuthError(
                f"GraphQL refused the query ({self._mask(messages)}). The API token needs "
                f"the '{PERMISSIONS['analytics']}' permission for account {self.account_id}.",
                status=status, method="POST", url="/graphql")
        return QueryError(f"GraphQL query failed (HTTP {status}): {self._mask(messages)}",
                          status=status, method="POST", url="/graphql")

    def _mask(self, text: str) -> str:
        return mask_secrets(text, self._secrets)


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds asked by Retry-After (delta or HTTP date); None when absent, zero or past."""
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        seconds = (when - datetime.now(UTC)).total_seconds()
    return seconds if seconds > 0 else None


def _graphql_budget(response: httpx.Response) -> bool:
    """True when a GraphQL answer says the rate-limit budget is spent (extensions.code)."""
    if not response.request.url.path.endswith("/graphql") or b'"budget"' not in response.content:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    errors = body.get("errors") if isinstance(body, dict) else None
    return any(
        isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "budget"
        for e in errors or []
    )

