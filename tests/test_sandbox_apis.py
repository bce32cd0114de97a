"""The emulator's API modules (lc_analytics.sandbox.apis): Notifications and Stream webhook."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

import pytest

from lc_analytics.sandbox import SimulatedAccount
from lc_analytics.sandbox.apis import notifications, stream_webhook
from lc_analytics.sandbox.emulator import Emulator


@pytest.fixture(scope="module")
def account():
    return SimulatedAccount.build("small", seed=7, end=date(2026, 6, 30))


@pytest.fixture
def em(account):
    return Emulator(account)


def call(em, method, sub, body=b"", token=None, query=""):
    path = f"/client/v4/accounts/{em.account.account_id}{sub}"
    headers = {"Authorization": f"Bearer {token or em.token}"}
    return em.handle(method, path, query, headers, body)


def test_destination_policy_history_round_trip(em):
    made = call(em, "POST", "/alerting/v3/destinations/webhooks",
                b'{"name": "lc", "url": "https://hooks.example/lc", "secret": "shh-123"}')
    assert made.status == 200
    dest = made.json()["result"]["id"]
    listed = call(em, "GET", "/alerting/v3/destinations/webhooks").json()["result"]
    assert [(d["id"], d["url"]) for d in listed] == [(dest, "https://hooks.example/lc")]
    assert "shh-123" not in call(em, "GET", "/alerting/v3/destinations/webhooks").body.decode()
    uid = em.account.visible_live_inputs().index[0]
    body = ('{"name": "live", "alert_type": "stream_live_notifications", '
            f'"mechanisms": {{"webhooks": [{{"id": "{dest}"}}]}}, '
            f'"filters": {{"input_id": ["{uid}"]}}}}').encode()
    policy_id = call(em, "POST", "/alerting/v3/policies", body).json()["result"]["id"]
    policy = call(em, "GET", f"/alerting/v3/policies/{policy_id}").json()["result"]
    assert policy["alert_type"] == "stream_live_notifications"
    assert policy["filters"] == {"input_id": [uid]}
    pairs = notifications.matching_destinations(em, "stream_live_notifications", input_id=uid)
    assert [(p["id"], d["secret"]) for p, d in pairs] == [(policy_id, "shh-123")]
    assert notifications.matching_destinations(em, "stream_live_notifications",
                                               input_id="0" * 32) == []
    for n in range(7):
        notifications.record_delivery(em, *pairs[0], {"n": n})
    page2 = call(em, "GET", "/alerting/v3/history", query="per_page=5&page=2").json()
    assert [h["alert_body"] for h in page2["result"]] == ['{"n": 5}', '{"n": 6}']
    assert page2["result_info"]["total_count"] == 7
    assert call(em, "DELETE", f"/alerting/v3/policies/{policy_id}").status == 200
    assert call(em, "GET", "/alerting/v3/policies").json()["result"] == []


@pytest.mark.parametrize("body, message", [
    (b'{"name": "x", "alert_type": "nope", "mechanisms": {"webhooks": [{"id": "a"}]}}',
     "alert_type 'nope' is not supported"),
    (b'{"name": "x", "alert_type": "billing_usage_alert", "mechanisms": {}}',
     "mechanisms.webhooks must name at least one destination"),
    (b'{"name": "x", "alert_type": "billing_usage_alert",'
     b' "mechanisms": {"webhooks": [{"id": "missing"}]}}',
     "unknown webhook destination {'id': 'missing'}"),
])
def test_bad_policies_are_refused(em, body, message):
    answer = call(em, "POST", "/alerting/v3/policies", body)
    assert answer.status == 400
    assert answer.json()["errors"][0]["message"] == message


def test_notifications_need_their_permission(em):
    answer = call(em, "GET", "/alerting/v3/policies", token=em.stream_only_token)
    assert answer.status == 403


def test_stream_webhook_set_read_delete_and_signature(em):
    assert call(em, "GET", "/stream/webhook").status == 404
    put = call(em, "PUT", "/stream/webhook", b'{"notificationUrl": "https://hooks.example/s"}')
    result = put.json()["result"]
    assert result["notificationUrl"] == "https://hooks.example/s"
    assert call(em, "GET", "/stream/webhook").json()["result"] == result
    secret, body = result["secret"], b'{"uid": "x"}'
    expected = hmac.new(secret.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert stream_webhook.signature(secret, 1700000000, body) == \
        f"time=1700000000,sig1={expected}"
    assert call(em, "PUT", "/stream/webhook", b'{"notificationUrl": "ftp://x"}').status == 400
    assert call(em, "DELETE", "/stream/webhook").status == 200
    assert call(em, "GET", "/stream/webhook").status == 404
