"""The Cloudflare HTTP client: envelopes, retries, Retry-After, limits, errors, no secrets."""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from lc_analytics.client.http import CloudflareClient, RetryPolicy
from lc_analytics.errors import (
    ApiError,
    AuthError,
    ConfigError,
    QueryError,
    RateLimitError,
    TransportError,
)
from lc_analytics.settings import Settings

ACCOUNT = "0123456789abcdef0123456789abcdef"
TOKEN = "tok-SECRET-value-123"


class FakeClock:
    """Monotonic time that only moves when somebody sleeps."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def _settings():
    return Settings.from_env({"CLOUDFLARE_ACCOUNT_ID": ACCOUNT, "CLOUDFLARE_API_TOKEN": TOKEN},
                             env_file=None)


def _client(handler, **kw):
    clock = kw.pop("clock", FakeClock())
    client = CloudflareClient(_settings(), transport=httpx.MockTransport(handler), clock=clock,
                              rng=random.Random(1), **kw)
    return client, clock


def _ok(result, **extra):
    return httpx.Response(200, json={"success": True, "errors": [], "messages": [],
                                     "result": result, **extra})


def test_envelope_is_unwrapped_with_total_and_range():
    seen = {}

    def handler(request):
        seen["auth"] = request.headers["authorization"]
        return _ok([{"uid": "a"}], total=5, range=4)

    client, _ = _client(handler)
    page = client.get(client.account_path("stream"))
    assert page.result == [{"uid": "a"}] and page.total == 5 and page.range == 4
    assert seen["auth"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("header", [None, "0", "-5", "garbage",
                                    format_datetime(datetime(2001, 1, 1, tzinfo=UTC),
                                                    usegmt=True)])
def test_429_without_a_usable_retry_after_still_backs_off(header):
    calls = []

    def handler(request):
        calls.append(1)
        if len(calls) < 3:
            headers = {"retry-after": header} if header is not None else {}
            return httpx.Response(429, headers=headers, json={"success": False, "errors": [
                {"code": 10100, "message": "More than 1200 requests per 300 seconds reached."}]})
        return _ok({"ok": True})

    client, clock = _client(handler)
    assert client.get("/x").result == {"ok": True}
    assert len(clock.sleeps) == 2 and min(clock.sleeps) >= 1.0  # never an instant retry
    assert client.stats.retries == 2


def test_429_honours_retry_after_seconds_and_dates():
    answers = [httpx.Response(429, headers={"retry-after": "7"}, json={"success": False}),
               _ok(1)]
    client, clock = _client(lambda r: answers.pop(0))
    client.get("/x")
    assert clock.sleeps[0] >= 7

    when = datetime.now(UTC) + timedelta(seconds=40)
    answers = [httpx.Response(429, headers={"retry-after": format_datetime(when, usegmt=True)},
                              json={"success": False}), _ok(1)]
    client, clock = _client(lambda r: answers.pop(0))
    client.get("/x")
    assert 35 <= clock.sleeps[0] <= 41 + 61


def test_5xx_and_timeouts_are_retried_with_growing_jittered_backoff():
    calls = []

    def handler(request):
        calls.append(1)
        if len(calls) == 1:
            raise httpx.ConnectTimeout("slow", request=request)
        if len(calls) == 2:
            raise httpx.ConnectError("refused", request=request)
        if len(calls) < 5:
            return httpx.Response(502, text="bad gateway")
        return _ok("fine")

    client, clock = _client(handler)
    assert client.get("/x").result == "fine"
    assert len(clock.sleeps) == 4 and all(s >= 1.0 for s in clock.sleeps)


def test_attempts_are_bounded_per_request_and_by_the_budget():
    client, clock = _client(lambda r: httpx.Response(503, text="down"),
                            retry=RetryPolicy(max_attempts=4, budget=100))
    with pytest.raises(ApiError, match="HTTP 503"):
        client.get("/x")
    assert len(clock.sleeps) == 3

    client, clock = _client(lambda r: httpx.Response(429, json={"success": False}),
                            retry=RetryPolicy(max_attempts=10, budget=5))
    with pytest.raises(RateLimitError):
        client.get("/x")
    assert client.stats.retries == 5

    client, _ = _client(lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("t", request=r)),
                        retry=RetryPolicy(max_attempts=2))
    with pytest.raises(TransportError, match="timed out"):
        client.get("/x")


def test_403_names_the_permission_and_never_the_token():
    def handler(request):
        return httpx.Response(403, json={"success": False, "errors": [
            {"code": 10000, "message": f"Authentication error for {TOKEN}"}]})

    client, _ = _client(handler)
    with pytest.raises(AuthError) as err:
        client.get(client.account_path("stream"))
    text = str(err.value)
    assert "Account > Stream > Read" in text and TOKEN not in text and "10000" in text

    def gql(request):
        return httpx.Response(403, json={"data": None, "errors": [
            {"message": "not authorized", "extensions": {"code": "authz"}}]})

    client, _ = _client(gql)
    with pytest.raises(AuthError, match="Account Analytics > Read"):
        client.graphql("{ viewer { zones { zoneTag } } }")


def test_graphql_errors_are_raised_with_http_200_or_400():
    bodies = [(200, {"data": None, "errors": [{"message": "query time range is too large"}]}),
              (400, {"data": None, "errors": [{"message": 'Cannot query field "browserName"'}]})]
    for status, body in bodies:
        client, _ = _client(lambda r, s=status, b=body: httpx.Response(s, json=b))
        with pytest.raises(QueryError, match=body["errors"][0]["message"][:20]):
            client.graphql("query { viewer { x } }")


def test_graphql_budget_error_is_waited_out_then_retried():
    answers = [httpx.Response(200, json={"data": None, "errors": [
        {"message": "rate limiter budget depleted, try again after 5 minutes",
         "extensions": {"code": "budget"}}]}),
        httpx.Response(200, json={"data": {"viewer": {}}, "errors": None})]
    client, clock = _client(lambda r: answers.pop(0))
    assert client.graphql("{ viewer { a } }") == {"viewer": {}}
    assert clock.sleeps[0] >= 60


def test_client_side_limiter_stays_under_the_limit_in_every_window():
    client, clock = _client(lambda r: _ok(1), rest_limit=10, window_seconds=300)
    times = []
    for _ in range(35):
        client.get("/x")
        times.append(clock.t)
    for t in times:
        in_window = [u for u in times if t - 300 < u <= t]
        assert len(in_window) <= 10
    assert clock.t - 1000 >= 3 * 300  # it had to wait out three windows


def test_non_json_body_is_a_clear_error():
    client, _ = _client(lambda r: httpx.Response(200, text="<html>oops</html>"))
    with pytest.raises(ApiError, match="not JSON"):
        client.get("/x")


# --- answers that look fine on the wire but are not (issue 11, item 1) ----------------------

def _envelope(*codes, status=200):
    return httpx.Response(status, json={"success": False, "result": None, "messages": [],
                                        "errors": [{"code": c, "message": f"m{c}"}
                                                   for c in codes]})


@pytest.mark.parametrize("code", [10001, 10043, 10100, 971, 10429])
def test_a_200_error_envelope_with_a_transient_code_is_retried(code):
    answers = [_envelope(code), _envelope(code, status=400), _ok({"n": 1})]
    client, clock = _client(lambda r: answers.pop(0))
    assert client.get("/x").result == {"n": 1}
    assert client.stats.retries == 2 and len(clock.sleeps) == 2 and min(clock.sleeps) >= 1.0


@pytest.mark.parametrize(("code", "error", "text"), [
    (10000, AuthError, "Account > Stream > Read"),  # auth
    (9109, AuthError, "Account > Stream > Read"),
    (10011, ApiError, "10011: m10011"),  # validation
    (7003, ApiError, "7003: m7003"),  # not found
    (10003, ApiError, "10003: m10003"),
    (424242, ApiError, "424242: m424242"),  # unknown: judged by the status (200: not retried)
])
def test_a_200_error_envelope_with_a_permanent_code_fails_at_once(code, error, text):
    calls = []
    client, clock = _client(lambda r: calls.append(1) or _envelope(code))
    with pytest.raises(error, match=text.replace(">", ".")) as err:
        client.get("/x")
    assert type(err.value) is error and err.value.codes == [code]
    assert len(calls) == 1 and clock.sleeps == [] and client.stats.retries == 0


def test_a_permanent_code_wins_over_a_transient_one_in_the_same_envelope():
    client, clock = _client(lambda r: _envelope(10001, 10000))
    with pytest.raises(AuthError):
        client.get("/x")
    assert clock.sleeps == []


def test_transient_envelopes_are_bounded_by_the_attempts():
    client, clock = _client(lambda r: _envelope(10001), retry=RetryPolicy(max_attempts=3))
    with pytest.raises(ApiError, match="10001: m10001") as err:
        client.get("/x")
    assert type(err.value) is ApiError and len(clock.sleeps) == 2
    client, _ = _client(lambda r: _envelope(10100), retry=RetryPolicy(max_attempts=2))
    with pytest.raises(RateLimitError):
        client.get("/x")


def _cut(body: bytes, keep: int) -> httpx.Response:
    """A body cut short whose Content-Length matches the cut (the server thinks it is whole)."""
    return httpx.Response(200, headers={"content-type": "application/json"},
                          content=body[:keep])


def test_a_truncated_body_with_a_matching_content_length_is_retried():
    whole = json.dumps({"success": True, "errors": [], "result": [{"uid": "a" * 40}]}).encode()
    answers = [_cut(whole, 1), _cut(whole, len(whole) // 2), _cut(whole, len(whole) - 1),
               _ok([{"uid": "a" * 40}])]
    client, clock = _client(lambda r: answers.pop(0))
    assert client.get("/x").result == [{"uid": "a" * 40}]
    assert client.stats.retries == 3 and len(clock.sleeps) == 3


class _EarlyClose(httpx.SyncByteStream):
    """Sends part of the body, then the connection drops (as httpcore reports it)."""

    def __init__(self, part: bytes) -> None:
        self.part = part

    def __iter__(self):
        yield self.part
        raise httpx.RemoteProtocolError("peer closed connection without sending complete "
                                        "message body")


@pytest.mark.parametrize("failure", [
    lambda r: httpx.Response(200, headers={"content-length": "500"},
                             stream=_EarlyClose(b'{"success": true, "res')),
    lambda r: (_ for _ in ()).throw(httpx.ReadError("[Errno 104] Connection reset by peer",
                                                    request=r)),
    lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("timed out", request=r)),
    lambda r: (_ for _ in ()).throw(httpx.RemoteProtocolError("Server disconnected without "
                                                              "sending a response.",
                                                              request=r)),
])
def test_resets_early_closes_and_timeouts_are_retried(failure):
    answers = [failure, lambda r: _ok("fine")]
    client, clock = _client(lambda r: answers.pop(0)(r))
    assert client.get("/x").result == "fine"
    assert client.stats.retries == 1 and len(clock.sleeps) == 1


def test_graphql_errors_with_partial_data_are_retried_when_transient():
    partial = {"viewer": {"accounts": [{"rows": [1]}]}}
    answers = [
        httpx.Response(200, json={"data": partial, "errors": [
            {"message": "internal server error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
        ]}),
        httpx.Response(200, json={"data": partial, "errors": [
            {"message": "rate limiter budget depleted", "extensions": {"code": "budget"}}]}),
        _cut(json.dumps({"data": {"viewer": {"accounts": [{"rows": [1, 2]}]}}}).encode(), 30),
        httpx.Response(200, json={"data": {"viewer": {"accounts": [{"rows": [1, 2]}]}},
                                  "errors": None}),
    ]
    client, clock = _client(lambda r: answers.pop(0))
    assert client.graphql("{ viewer { a } }") == {"viewer": {"accounts": [{"rows": [1, 2]}]}}
    assert client.stats.retries == 3
    assert clock.sleeps[1] >= 60  # the budget is waited out


def test_graphql_errors_with_partial_data_are_never_returned_when_permanent():
    calls = []

    def handler(request):
        calls.append(1)
        return httpx.Response(200, json={"data": {"viewer": {"accounts": [{"rows": [1]}]}},
                                         "errors": [{"message": "unknown field"}]})

    client, clock = _client(handler)
    with pytest.raises(QueryError, match="unknown field"):
        client.graphql("{ viewer { a } }")
    assert len(calls) == 1 and clock.sleeps == []


def test_the_code_table_is_one_constant_that_both_clients_read():
    from lc_analytics.client import s3
    from lc_analytics.client.http import ERROR_CODES
    from lc_analytics.client.retry import TRANSIENT_KINDS, classify

    assert s3.ERROR_CODES is ERROR_CODES
    transient = {c for c, k in ERROR_CODES.items() if k in TRANSIENT_KINDS}
    assert {10001, 10100, "budget", "SlowDown", "InternalError"} <= transient
    assert not {10000, 9109, 7003, 10003, 10011, "authz", "AccessDenied"} & transient
    assert classify([], 502) == "internal" and classify([], 404) is None


def test_the_request_timeout_is_a_setting():
    s = Settings.from_env({"LC_ANALYTICS_REQUEST_TIMEOUT": "0.25"}, env_file=None)
    assert s.request_timeout == 0.25
    assert Settings.from_env({}, env_file=None).request_timeout == 30.0
    client = CloudflareClient(dataclasses.replace(_settings(), request_timeout=0.5),
                              transport=httpx.MockTransport(lambda r: _ok(1)))
    assert client._http.timeout == httpx.Timeout(0.5)
    for bad in ("0", "-1", "soon", "inf"):
        with pytest.raises(ConfigError, match="LC_ANALYTICS_REQUEST_TIMEOUT must be a positive"):
            Settings.from_env({"LC_ANALYTICS_REQUEST_TIMEOUT": bad}, env_file=None)
