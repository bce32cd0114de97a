"""One HTTP client for Cloudflare's REST and GraphQL APIs: auth, envelopes, retries, limits."""

from __future__ import annotations

import contextlib
import json
import logging
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from ..errors import ApiError, AuthError, QueryError, RateLimitError, TransportError
from ..settings import Settings, mask_secrets
from .retry import (
    AUTH,
    ERROR_CODES,
    RATE_LIMIT,
    TRANSIENT_KINDS,
    ClientStats,
    Clock,
    Retrier,
    RetryPolicy,
    classify,
    retry_after,
)

__all__ = ["ERROR_CODES", "ClientStats", "Clock", "CloudflareClient", "Page", "RetryPolicy"]

log = logging.getLogger(__name__)

#: The token permission each API family needs, named as in Cloudflare's token editor.
PERMISSIONS = {
    "stream": "Account > Stream > Read",
    "stream_write": "Account > Stream > Edit",
    "analytics": "Account > Account Analytics > Read",
    "zone_analytics": "Zone > Analytics > Read",
    "zone_cache_rules": "Zone > Cache Rules > Edit",
    "notifications": "Account > Notifications > Read",
    "notifications_write": "Account > Notifications > Edit",
    "billing": "Account > Billing > Read",
}


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
        timeout: float | None = None,
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
        self._retrier = Retrier(self.retry, self.clock, self.rng, self.stats)
        self.server_date: datetime | None = None  # the API's clock, from its Date header
        self._secrets = settings.secrets()
        self._rest_limiter = SlidingLimiter(rest_limit, window_seconds, self.clock)
        self._graphql_limiter = SlidingLimiter(graphql_limit, window_seconds, self.clock)
        self._http = httpx.Client(
            base_url=settings.api_base_url,
            transport=transport,
            timeout=settings.request_timeout if timeout is None else timeout,
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

    def graphql(self, query: str, variables: dict | None = None, *,
                permission: str = "analytics") -> dict:
        """POST a GraphQL query; returns `data`. Checks both the HTTP status and `errors`.

        An answer with `errors` is never used, not even its partial `data`: transient errors
        (ERROR_CODES) are retried, the others raised.
        """
        payload = {"query": query, "variables": variables or {}}
        _, body = self._call("POST", "/graphql", json_body=payload, graphql=True,
                             permission=permission)
        return body["data"]

    # --- internals -------------------------------------------------------------------
    def _rest(self, method: str, path: str, *, params: dict | None = None,
              json_body: dict | None = None, permission: str) -> Page:
        response, body = self._call(method, path, params=params, json_body=json_body,
                                    permission=permission)
        return Page(
            result=body.get("result"),
            total=body.get("total", (body.get("result_info") or {}).get("total_count")),
            range=body.get("range"),
            result_info=body.get("result_info"),
            headers=dict(response.headers),
        )

    def _call(self, method: str, path: str, *, params: dict | None = None,
              json_body: dict | None = None, graphql: bool = False,
              permission: str) -> tuple[httpx.Response, dict]:
        """The one retry loop: send, judge the answer, retry what is transient.

        Transient: timeouts, resets and early-closed connections, bodies that are cut or not
        JSON, and answers that `retry.classify` calls transient: error codes first (an
        envelope or GraphQL error code in ERROR_CODES decides, whatever the HTTP status),
        then the status (429 and 5xx). Anything else raises at once.
        """
        limiter = self._graphql_limiter if graphql else self._rest_limiter
        attempt = 0
        while True:
            attempt += 1
            self.stats.waited_seconds += limiter.acquire()
            self.stats.requests += 1
            if graphql:
                self.stats.graphql_requests += 1
            response: httpx.Response | None = None
            cause: BaseException | None = None
            try:
                response = self._http.request(method, path, params=params, json=json_body)
            except httpx.TimeoutException as exc:
                err: ApiError = TransportError(
                    f"{method} {path} timed out after {attempt} attempt(s): is "
                    f"CLOUDFLARE_API_BASE_URL ({self._mask(self.settings.api_base_url)}) right?",
                    method=method, url=path)
                cause = exc
            except httpx.TransportError as exc:  # resets, refused and early-closed connections
                err = TransportError(
                    f"cannot reach the Cloudflare API at {self._mask(self.settings.api_base_url)} "
                    f"({method} {path}: {self._mask(str(exc))}) after {attempt} attempt(s): "
                    "check CLOUDFLARE_API_BASE_URL and the network", method=method, url=path)
                cause = exc
            else:
                self._note_server_date(response)
                judged = self._judge(response, graphql, permission)
                if isinstance(judged, dict):
                    return response, judged
                err, cause = judged
            self._retrier.wait_or_raise(attempt, err, cause,
                                        at_least=self._asked_delay(response, err))

    def _judge(self, response: httpx.Response, graphql: bool, permission: str,
               ) -> dict | tuple[ApiError, BaseException | None]:
        """The usable JSON body, or a transient (error, cause) to retry; raises the rest."""
        status = response.status_code
        where = f"{response.request.method} {response.request.url.path}"
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return self._judge_not_json(response, where, graphql, permission), exc
        if not isinstance(body, dict):
            return ApiError(f"{where}: HTTP {status} with JSON that is not an object",
                            status=status, method=response.request.method, url=where), None
        errors = [e for e in (body.get("errors") or []) if isinstance(e, dict)]
        if graphql:
            codes = [(e.get("extensions") or {}).get("code") for e in errors]
            failed = bool(errors) or status >= 400
        else:
            codes = [e.get("code") for e in errors]
            failed = status >= 400 or not body.get("success", False)
        if not failed:
            if graphql and body.get("data") is None:
                raise QueryError("GraphQL answered without data and without errors",
                                 status=status, url=str(response.request.url))
            return body
        kind = classify(codes, status)
        if graphql:
            messages = "; ".join(str(e.get("message")) for e in errors) or f"HTTP {status}"
        else:
            messages = "; ".join(f"{e.get('code')}: {e.get('message')}"
                                 for e in errors) or "no error detail"
        int_codes = [c for c in codes if isinstance(c, int)]
        if kind == AUTH:
            raise self._auth_error(where, status, int_codes, messages, graphql, permission)
        if kind == RATE_LIMIT:
            return RateLimitError(
                f"{where}: rate limited (HTTP {status}: {self._mask(messages)}); the token's "
                "request budget is spent, try again later", status=status, codes=int_codes,
                method=response.request.method, url=where), None
        if kind in TRANSIENT_KINDS:
            return ApiError(f"{where}: server error HTTP {status}: {self._mask(messages)}",
                            status=status, codes=int_codes, method=response.request.method,
                            url=where), None
        if graphql:
            raise QueryError(f"GraphQL query failed (HTTP {status}): {self._mask(messages)}",
                             status=status, codes=int_codes, method="POST", url="/graphql")
        raise ApiError(f"{where}: HTTP {status}: {self._mask(messages)}", status=status,
                       codes=int_codes, method=response.request.method, url=where)

    def _judge_not_json(self, response: httpx.Response, where: str, graphql: bool,
                        permission: str) -> ApiError:
        """The error to retry for an answer whose body is not JSON; raises an auth error."""
        status = response.status_code
        kind = classify([], status)
        if kind == AUTH:
            raise self._auth_error(where, status, [], "no error detail", graphql, permission)
        if kind == RATE_LIMIT:
            return RateLimitError(f"{where}: rate limited (HTTP {status}); the token's "
                                  "request budget is spent, try again later",
                                  status=status, method=response.request.method, url=where)
        if kind in TRANSIENT_KINDS:
            message = f"{where}: server error HTTP {status}"
        else:
            message = f"{where}: HTTP {status} with a body that is not JSON (cut short?)"
        return ApiError(message, status=status, method=response.request.method, url=where)

    def _auth_error(self, where: str, status: int, codes: list[int], messages: str,
                    graphql: bool, permission: str) -> AuthError:
        if graphql:
            scope = "the zone" if permission.startswith("zone") else \
                f"account {self.account_id}"
            return AuthError(
                f"GraphQL refused the query ({self._mask(messages)}). The API token needs "
                f"the '{PERMISSIONS[permission]}' permission for {scope}.",
                status=status, codes=codes, method="POST", url="/graphql")
        return AuthError(
            f"{where}: the API token was refused (HTTP {status}: {self._mask(messages)}). "
            f"Check CLOUDFLARE_STREAM_API_TOKEN and that the token has the "
            f"'{PERMISSIONS[permission]}' permission for account {self.account_id}.",
            status=status, codes=codes, method=where.split(" ", 1)[0], url=where)

    @staticmethod
    def _asked_delay(response: httpx.Response | None, err: ApiError) -> float | None:
        """What the server asked us to wait: Retry-After, or a minute for a GraphQL budget."""
        if response is None:
            return None
        asked = retry_after(response.headers)
        if (asked is None and isinstance(err, RateLimitError)
                and response.request.url.path.endswith("/graphql")):
            return 60.0  # "try again after 5 minutes"; the limit is per minute in practice
        return asked

    def _note_server_date(self, response: httpx.Response) -> None:
        raw = response.headers.get("date")
        if raw:
            with contextlib.suppress(TypeError, ValueError):
                self.server_date = parsedate_to_datetime(raw).astimezone(UTC)

    def _mask(self, text: str) -> str:
        return mask_secrets(text, self._secrets)
