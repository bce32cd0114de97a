"""Retrying for every client: which Cloudflare error codes are transient, backoff, the budget.

The REST/GraphQL client (`client.http`) and the R2 client (`client.s3`) retry with the same
`RetryPolicy`, sleep through the same `Clock` (tests swap in one that never really sleeps)
and classify errors with the same `ERROR_CODES` table.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

log = logging.getLogger(__name__)

RATE_LIMIT, INTERNAL = "rate_limit", "internal"  # transient: retried within the budget
AUTH, VALIDATION, NOT_FOUND = "auth", "validation", "not_found"  # permanent: fail at once
TRANSIENT_KINDS = frozenset({RATE_LIMIT, INTERNAL})

#: Cloudflare error codes by what a retry can do about them. Keys are the numeric
#: `errors[].code` of a REST envelope (`{"success": false, "errors": [...]}`), the string
#: `extensions.code` of a GraphQL error, and the `Error.Code` of an R2 (S3 API) error.
#: `rate_limit` and `internal` are transient: retried within the retry budget, even when they
#: come inside an HTTP 200. `auth`, `validation` and `not_found` fail at once. A code not
#: listed is judged by the HTTP status alone (429 and 5xx transient, anything else not).
ERROR_CODES: dict[int | str, str] = {
    # REST envelopes
    971: RATE_LIMIT,  # "Please wait and consider throttling your request speed"
    10100: RATE_LIMIT,  # "More than 1200 requests per 300 seconds reached"
    10429: RATE_LIMIT,  # "Rate limited. Please wait and consider throttling your request speed"
    10001: INTERNAL,  # "We encountered an internal error. Please try again."
    10043: INTERNAL,  # "Service unavailable"
    10000: AUTH,  # "Authentication error" (also a token without the route's permission)
    9103: AUTH,  # "Unknown X-Auth-Key or X-Auth-Email"
    9106: AUTH,  # "Missing X-Auth-Key, X-Auth-Email or Authorization headers"
    9109: AUTH,  # "Invalid access token" / "Unauthorized to access requested resource"
    6003: VALIDATION,  # "Invalid request headers"
    6007: VALIDATION,  # "Malformed JSON in request body"
    10011: VALIDATION,  # a refused parameter value
    7000: NOT_FOUND,  # "No route for that URI"
    7003: NOT_FOUND,  # "Could not route to ..., perhaps your object identifier is invalid?"
    10003: NOT_FOUND,  # "Not Found"
    # GraphQL extensions.code
    "budget": RATE_LIMIT,  # "rate limiter budget depleted, try again after 5 minutes"
    "INTERNAL_SERVER_ERROR": INTERNAL,
    "authz": AUTH,
    "unauthorized": AUTH,
    # R2 (S3 API) Error.Code
    "SlowDown": RATE_LIMIT,
    "TooManyRequests": RATE_LIMIT,
    "InternalError": INTERNAL,
    "ServiceUnavailable": INTERNAL,
    "RequestTimeout": INTERNAL,
    "InvalidAccessKeyId": AUTH,
    "SignatureDoesNotMatch": AUTH,
    "InvalidToken": AUTH,
    "Unauthorized": AUTH,
    "AccessDenied": AUTH,
    "NoSuchBucket": NOT_FOUND,
    "NoSuchKey": NOT_FOUND,
    "NoSuchLifecycleConfiguration": NOT_FOUND,
    "InvalidArgument": VALIDATION,
    "InvalidBucketName": VALIDATION,
}


def classify(codes: Iterable[object], status: int | None) -> str | None:
    """The kind of a failure: a permanent code wins, then a transient one, then the status.

    >>> classify([10100], 200), classify([10000, 10001], 200), classify([], 503)
    ('rate_limit', 'auth', 'internal')

    None means "not a known failure kind" (a permanent error of no particular class).
    """
    kinds = {ERROR_CODES[c] for c in codes
             if isinstance(c, int | str) and c in ERROR_CODES}
    permanent = sorted(kinds - TRANSIENT_KINDS)
    if permanent:
        return permanent[0]
    if RATE_LIMIT in kinds or status == 429:
        return RATE_LIMIT
    if kinds or (status is not None and status >= 500):
        return INTERNAL
    if status in (401, 403):
        return AUTH
    return None


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds asked by Retry-After (delta or HTTP date); None when absent, zero or past.

    >>> retry_after({"retry-after": "7"}), retry_after({"retry-after": "0"}), retry_after({})
    (7.0, None, None)
    """
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
class ClientStats:
    """What a client did: requests sent, retries, seconds waited on limits."""

    requests: int = 0
    retries: int = 0
    graphql_requests: int = 0
    waited_seconds: float = 0.0


class Retrier:
    """One client's retry decisions: attempts per request, the shared budget, the backoff."""

    def __init__(self, policy: RetryPolicy, clock: Clock, rng: random.Random,
                 stats: ClientStats) -> None:
        self.policy, self.clock, self.rng, self.stats = policy, clock, rng, stats

    def wait_or_raise(self, attempt: int, err: Exception, cause: BaseException | None = None,
                      *, at_least: float | None = None) -> None:
        """Sleep before attempt `attempt + 1`, or raise `err` when attempts or budget are spent.

        `at_least` is what the server asked for (Retry-After); it wins when longer than the
        jittered backoff, up to `max_retry_after`.
        """
        if attempt >= self.policy.max_attempts or self.stats.retries >= self.policy.budget:
            raise err from cause
        self.stats.retries += 1
        delay = self.backoff(attempt)
        if at_least is not None:
            delay = max(delay, min(at_least, self.policy.max_retry_after))
        log.info("retrying in %.1fs (attempt %d): %s", delay, attempt, err)
        self.clock.sleep(delay)
        self.stats.waited_seconds += delay

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter, never below `base_delay` (no instant retry)."""
        p = self.policy
        ceiling = min(p.max_delay, p.base_delay * 2 ** (attempt - 1))
        return p.base_delay + self.rng.uniform(0, ceiling)
